"""Footprints and certification, worked through the API: an enterprise declares or computes a
footprint, applies for a label, and a certifier reviews and decides; every move is recorded and
logged, and the wording keeps reduction and offset apart."""

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from labels import certification
from labels.models import Label
from tests.conftest import count_rows


@pytest.fixture()
def enterprise(staff):
    """(organisation, headers) of an approved enterprise's staff member (``staff``)."""
    return staff


@pytest.fixture()
def product(client, enterprise):
    organisation, headers = enterprise
    response = client.post(
        "/api/v1/products",
        headers=headers,
        json={
            "organisation_id": organisation.id,
            "gtin": "6901234567892",
            "name": "练塘香粳米 5kg",
            "category": "milled_rice",
            "declared_unit": "unit",
            "net_content_g": 5000,
        },
    )
    assert response.status_code == 201
    return response.get_json()


DECLARED = {
    "method": "declared",
    "kg_per_unit": "6.2500",
    "low_kg_per_unit": "5.6",
    "high_kg_per_unit": "7.1",
    "boundary": "cradle_to_gate",
    "gwp_set": "AR5",
    "period_start": "2025-05-01",
    "period_end": "2025-10-31",
    "breakdown": {"paddy_ch4": "0.70", "fertiliser": "0.30", "milling": "0.15", "other": "0.10"},
    "data_quality": {"primary_data_percent": 80, "temporal_dqr": 1},
    "verifier": "上海某认证有限公司",
    "report": {
        "title": "练塘香粳米碳足迹核查报告",
        "number": "SH-CFP-2025-118",
        "issued_on": "2025-12-01",
    },
}

ACTIVITY = {
    "cultivation_days": 120,
    "water_regime": "multiple_drainage",
    "pre_season": "non_flooded_short",
    "amendments": [{"kind": "straw_early", "t_per_ha": "3"}],
    "synthetic_n_kg_per_ha": 220,
    "urea_kg_per_ha": 250,
    "fertiliser_kgco2e_per_kg_n": {"value": "8", "source": "supplier EPD 2025"},
    "diesel_l_per_ha": 55,
    "electricity_kwh_per_ha": 120,
    "paddy_yield_kg_per_ha": 8800,
    "milled_yield_fraction": "0.68",
    "drying_kwh_per_t_paddy": 35,
    "milling_kwh_per_t_milled": 28,
}


def add_footprint(client, headers, product, body):
    return client.post(f"/api/v1/products/{product['id']}/footprints", headers=headers, json=body)


def test_a_declared_footprint(client, enterprise, product):
    _, headers = enterprise
    response = add_footprint(client, headers, product, DECLARED)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    # 6.25 kg per 5 kg bag is 1.25 kg per kg; the stages add up to it.
    assert (body["kg_per_unit"], body["kg_per_kg"], body["method"]) == (
        "6.2500",
        "1.2500",
        "declared",
    )
    assert body["report"]["number"] == "SH-CFP-2025-118"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"breakdown": {"paddy_ch4": "0.5"}}, "breakdown"),
        ({"period_end": "2099-01-01"}, "period_end"),
        ({"low_kg_per_unit": "6.3"}, "low_kg_per_unit"),
        ({"kg_per_unit": "0"}, "kg_per_unit"),
        ({"kg_per_unit": "NaN"}, "kg_per_unit"),
        ({"verifier": None}, "verifier"),
    ],
)
def test_a_bad_declared_footprint_names_the_field(
    client, enterprise, product, session, change, field
):
    _, headers = enterprise
    body = {**DECLARED, **change}
    if change.get("verifier", "") is None:
        del body["verifier"]
    response = add_footprint(client, headers, product, body)
    assert response.status_code == 422
    assert field in {item["field"] for item in response.get_json()["fields"]}
    assert count_rows(session, "footprints") == 0


def test_a_computed_footprint_records_its_calculation(client, enterprise, product):
    _, headers = enterprise
    response = add_footprint(
        client,
        headers,
        product,
        {
            "method": "computed",
            "period_start": "2025-05-01",
            "period_end": "2025-10-31",
            "activity": ACTIVITY,
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["calculation"]["factor_table_version"] == "tanhui-yrd-rice/2026.1"
    assert set(body["breakdown"]) >= {"paddy_ch4", "n2o_direct", "drying_milling"}
    per_kg = float(body["kg_per_kg"])
    assert float(body["kg_per_unit"]) == pytest.approx(per_kg * 5, abs=1e-3)
    assert (
        float(body["low_kg_per_unit"])
        < float(body["kg_per_unit"])
        < float(body["high_kg_per_unit"])
    )


def test_activity_outside_the_valid_range_is_refused_by_field(client, enterprise, product):
    _, headers = enterprise
    response = add_footprint(
        client,
        headers,
        product,
        {
            "method": "computed",
            "period_start": "2025-05-01",
            "period_end": "2025-10-31",
            "activity": {**ACTIVITY, "cultivation_days": 400},
        },
    )
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "activity.cultivation_days"


@pytest.fixture()
def footprint(client, enterprise, product):
    _, headers = enterprise
    return add_footprint(client, headers, product, DECLARED).get_json()


def apply(client, enterprise, product, footprint, scheme, markets=("CN",)):
    _, headers = enterprise
    response = client.post(
        "/api/v1/labels",
        headers=headers,
        json={
            "product_id": product["id"],
            "footprint_id": footprint["id"],
            "scheme": scheme,
            "markets": list(markets),
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def move(client, headers, label, to_status, **extra):
    return client.post(
        f"/api/v1/labels/{label['id']}/transitions",
        headers=headers,
        json={"to_status": to_status, **extra},
    )


def test_a_footprint_label_is_reviewed_and_certified(
    client, enterprise, product, footprint, certifier, session
):
    label = apply(client, enterprise, product, footprint, "footprint")
    assert label["status"] == "submitted"
    assert move(client, certifier, label, "under_review").status_code == 200
    response = move(client, certifier, label, "certified", valid_until="2027-12-31")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["certificate_number"] == f"TH-{date.today().year}-{label['id']:06d}"
    assert (body["valid_from"], body["valid_until"]) == (date.today().isoformat(), "2027-12-31")
    assert [t["to_status"] for t in body["transitions"]] == [
        "submitted",
        "under_review",
        "certified",
    ]
    assert body["wording"]["en"].startswith("Product carbon footprint: 6.25 kg CO2e per unit")
    assert "offset" not in body["wording"]["en"]
    logged = session.scalars(
        sa.text("SELECT data FROM tlog_pending WHERE kind = 'labels.transition' ORDER BY id")
    ).all()
    assert len(logged) == 3 and '"to":"certified"' in logged[-1]


def test_only_certifiers_decide_and_only_along_the_workflow(
    client, enterprise, product, footprint, certifier
):
    _, staff = enterprise
    label = apply(client, enterprise, product, footprint, "footprint")
    assert move(client, staff, label, "under_review").status_code == 403
    refused = move(client, certifier, label, "certified")
    assert (refused.status_code, refused.get_json()["code"]) == (409, "label_transition_refused")
    move(client, certifier, label, "under_review")
    no_reason = move(client, certifier, label, "rejected")
    assert no_reason.status_code == 422
    rejected = move(client, certifier, label, "rejected", reason="报告核查期与申报期不一致")
    assert rejected.get_json()["status"] == "rejected"
    assert move(client, certifier, label, "under_review").status_code == 409


def test_suspend_reinstate_revoke(client, enterprise, product, footprint, certifier):
    label = apply(client, enterprise, product, footprint, "footprint")
    move(client, certifier, label, "under_review")
    move(client, certifier, label, "certified")
    assert (
        move(client, certifier, label, "suspended", reason="复核中").get_json()["status"]
        == "suspended"
    )
    assert (
        move(client, certifier, label, "certified", reason="复核通过").get_json()["status"]
        == "certified"
    )
    revoked = move(client, certifier, label, "revoked", reason="数据造假")
    assert revoked.get_json()["status"] == "revoked"
    assert move(client, certifier, label, "certified", reason="x").status_code == 409


def test_low_carbon_needs_a_benchmark_it_beats(
    client, enterprise, product, footprint, certifier, operator
):
    label = apply(client, enterprise, product, footprint, "low_carbon")
    move(client, certifier, label, "under_review")
    missing = move(client, certifier, label, "certified")
    assert (missing.status_code, missing.get_json()["code"]) == (409, "label_benchmark_not_met")

    source = "生态环境学报 32(8):1405 (2023), japonica 1.13 kg CO2e/kg"
    response = client.post(
        "/api/v1/labels/benchmarks",
        headers=operator,
        json={
            "category": "milled_rice",
            "kg_per_kg": "1.13",
            "source": source,
            "valid_from": "2026-01-01",
        },
    )
    assert response.status_code == 201
    beaten = move(client, certifier, label, "certified")  # 1.25 kg/kg is above 1.13
    assert beaten.status_code == 409

    client.post(
        "/api/v1/labels/benchmarks",
        headers=operator,
        json={
            "category": "milled_rice",
            "kg_per_kg": "1.36",
            "source": "江苏 1990–2019 均值",
            "valid_from": "2026-06-01",
        },
    )
    certified = move(client, certifier, label, "certified")
    assert certified.status_code == 200, certified.get_json()
    wording = certified.get_json()["wording"]
    assert "8.1% below its category benchmark" in wording["en"]
    assert "no offsets are counted" in wording["en"]
    assert "不含任何抵消" in wording["zh-CN"]


def test_carbon_neutral_wording_says_offset_never_zero(client, enterprise, product, footprint):
    label = apply(client, enterprise, product, footprint, "carbon_neutral")
    wording = label["wording"]
    assert "offset in full by retired agricultural sink credits" in wording["en"]
    assert "still has emissions" in wording["en"]
    for claim in ("zero", "零排放", "no emissions"):
        assert claim not in wording["en"] and claim not in wording["zh-CN"]


def test_the_expiry_job_expires_what_is_due(
    client, enterprise, product, footprint, certifier, session
):
    label = apply(client, enterprise, product, footprint, "footprint")
    move(client, certifier, label, "under_review")
    move(
        client,
        certifier,
        label,
        "certified",
        valid_until=(date.today() + timedelta(days=10)).isoformat(),
    )
    now = datetime.now(UTC)
    assert certification.labels_expire(session, now=now) == 0
    assert certification.labels_expire(session, now=now + timedelta(days=10)) == 1
    assert session.get(Label, label["id"]).status == "expired"


def test_other_enterprises_see_no_label(
    client, enterprise, product, footprint, make_organisation, make_staff, sign_in, bearer
):
    label = apply(client, enterprise, product, footprint, "footprint")
    other = make_organisation("enterprise")
    stranger = bearer(sign_in(make_staff(role="enterprise_staff", organisation=other).username))
    assert client.get(f"/api/v1/labels/{label['id']}", headers=stranger).status_code == 404
    assert client.get("/api/v1/labels", headers=stranger).get_json() == []
    response = client.post(
        "/api/v1/labels",
        headers=stranger,
        json={
            "product_id": product["id"],
            "footprint_id": footprint["id"],
            "scheme": "footprint",
            "markets": ["CN"],
        },
    )
    assert response.status_code == 404


def test_the_expiry_command(app, client, enterprise, product, footprint, certifier, session):
    label = apply(client, enterprise, product, footprint, "footprint")
    move(client, certifier, label, "under_review")
    move(client, certifier, label, "certified")
    result = app.test_cli_runner().invoke(args=["labels", "expire"])
    assert (result.exit_code, result.output.strip()) == (0, "0 labels expired")
