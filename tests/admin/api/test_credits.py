"""The sink-credit API: operators import files and record retirements; anyone reads what was
retired and allocated, and downloads it as open data."""

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger import credits
from tests.conftest import count_rows

EXAMPLES = Path(__file__).parents[3] / "examples" / "credits"


@pytest.fixture()
def operator(make_staff, sign_in, bearer):
    return bearer(sign_in(make_staff(role="operator").username))


def upload(client, headers, name, file_format=None):
    return client.post(
        "/api/v1/credits/imports",
        headers=headers,
        json={
            "filename": name,
            "format": file_format or name.rsplit(".", 1)[1],
            "content": (EXAMPLES / name).read_text(encoding="utf-8"),
        },
    )


@pytest.fixture()
def imported(client, operator):
    for name in ("qingpu.json", "wujiang.csv", "jiashan.json"):
        assert upload(client, operator, name).status_code == 201


def batch_id(client, vintage, project_name_part):
    projects = client.get("/api/v1/credits/projects").get_json()
    (project,) = [p for p in projects if project_name_part in p["name"]]
    batches = client.get(
        "/api/v1/credits/batches", query_string={"project_id": project["id"], "vintage": vintage}
    ).get_json()
    return batches[0]["id"]


def test_an_operator_imports_the_three_pilot_files(client, operator, session):
    first = upload(client, operator, "qingpu.json")
    assert first.status_code == 201
    assert first.get_json()["batches_created"] == 2
    assert upload(client, operator, "wujiang.csv").status_code == 201
    assert upload(client, operator, "jiashan.json").status_code == 201

    again = upload(client, operator, "qingpu.json")
    assert again.status_code == 200
    assert again.get_json() == {**first.get_json(), "outcome": "exists"}
    assert count_rows(session, "credit_batches") == 6

    projects = client.get("/api/v1/credits/projects").get_json()
    assert sorted(p["region_code"] for p in projects) == ["310118", "320509", "330421"]
    qingpu = next(p for p in projects if p["region_code"] == "310118")
    assert (qingpu["issued_t"], qingpu["retired_t"], len(qingpu["farms"])) == (3560, 0, 4)


def test_a_rejected_upload_names_each_bad_row_in_the_language_asked(client, operator, session):
    text = (EXAMPLES / "wujiang.csv").read_text(encoding="utf-8")
    bad = text.replace(",320509,", ",320599,", 1).replace(",24\n", ",24.5\n", 1)
    response = client.post(
        "/api/v1/credits/imports",
        headers={**operator, "Accept-Language": "zh-CN"},
        json={"format": "csv", "content": bad},
    )
    assert response.status_code == 422
    body = response.get_json()
    assert body["code"] == "credit_import_rejected"
    messages = {item["field"]: item["message"] for item in body["fields"]}
    assert messages["line 2.region_code"] == "未知的 GB/T 2260 行政区划代码"
    assert "农场份额合计 100.5%" in messages["line 2.shares"]
    assert count_rows(session, "credit_batches") == 0


def test_only_operators_import_and_retire(
    claimant, client, make_staff, sign_in, bearer, consumer_tokens
):
    certifier = bearer(sign_in(make_staff(role="certifier").username))
    assert upload(client, certifier, "qingpu.json").status_code == 403
    assert upload(client, bearer(consumer_tokens()), "qingpu.json").status_code == 403
    assert upload(client, {}, "qingpu.json").status_code == 401
    response = client.post(
        "/api/v1/credits/retirements", headers=certifier, json=retirement_body(claimant.id, 1, 1)
    )
    assert response.status_code == 403


EXACT = ("serial_start", "serial_end", "first_serial_g", "last_serial_g", "from_g", "to_g")


def retirement_body(organisation_id, batch, tonnes, reference="YRDCI-R-2026-0101"):
    return {
        "registry_code": "YRD-CI",
        "registry_reference": reference,
        "beneficiary": "上海某米业有限公司",
        "beneficiary_organisation_id": organisation_id,
        "purpose": "碳中和大米标签，2026 年第 1 批",
        "retired_on": "2026-11-20",
        "lines": [{"batch_id": batch, "quantity_t": tonnes}],
    }


def test_a_retirement_is_recorded_and_disclosed_with_its_allocations(
    claimant, client, operator, imported, session
):
    batch = batch_id(client, 2024, "青浦")
    response = client.post(
        "/api/v1/credits/retirements",
        headers=operator,
        json=retirement_body(claimant.id, batch, 120),
    )
    assert response.status_code == 201, response.get_json()
    retirement = response.get_json()
    assert [(r["serial_start"], r["serial_end"]) for r in retirement["ranges"]] == [
        (1_000_001, 1_000_120)
    ]
    again = client.post(
        "/api/v1/credits/retirements",
        headers=operator,
        json=retirement_body(claimant.id, batch, 120),
    )
    assert (again.status_code, again.get_json()["id"]) == (200, retirement["id"])

    credits.allocate(
        session,
        claimant_organisation_id=claimant.id,
        key="lot-1",
        target_type="label_lot",
        target_id="LT-2026-001",
        quantity_g=2_500_000,
        now=datetime.now(UTC),
    )
    detail = client.get(f"/api/v1/credits/retirements/{retirement['id']}").get_json()
    assert detail["allocated_g"] == 2_500_000
    assert [(a["target_type"], a["target_id"], a["quantity_g"]) for a in detail["allocations"]] == [
        ("label_lot", "LT-2026-001", 2_500_000)
    ]
    # The exact serials: 1000001–1000002 whole and 500,000 g of 1000003.
    (allocated,) = detail["allocations"]
    assert {name: allocated[name] for name in EXACT} == {
        "serial_start": 1_000_001,
        "serial_end": 1_000_003,
        "first_serial_g": 1_000_000,
        "last_serial_g": 500_000,
        "from_g": 0,
        "to_g": 500_000,
    }
    listed = client.get("/api/v1/credits/retirements").get_json()
    assert [(r["registry_reference"], r["allocated_g"]) for r in listed] == [
        ("YRDCI-R-2026-0101", 2_500_000)
    ]
    batch_view = client.get("/api/v1/credits/batches", query_string={"vintage": 2024}).get_json()
    qingpu_2024 = next(b for b in batch_view if b["id"] == batch)
    assert (qingpu_2024["retired_t"], qingpu_2024["available_t"]) == (120, 1730)
    assert qingpu_2024["shares"][0] == {
        "farm_code": "QP-JX-03",
        "farm_name": "金泽镇莲湖村家庭农场",
        "share_percent": "22.75",
    }


def test_a_retirement_beyond_the_batch_is_refused(claimant, client, operator, imported, session):
    batch = batch_id(client, 2025, "嘉善")
    response = client.post(
        "/api/v1/credits/retirements",
        headers=operator,
        json=retirement_body(claimant.id, batch, 1261),
    )
    assert response.status_code == 409
    body = response.get_json()
    assert body["code"] == "credits_insufficient"
    assert count_rows(session, "credit_retirements") == 0
    # The ledger's detail reads in the reader's language, with its numbers filled in.
    assert body["fields"] == [
        {"field": "quantity_t", "message": f"批次 {batch} 可用 1260 吨，不足 1261 吨"}
    ]
    assert f"批次 {batch} 可用 1260 吨，不足 1261 吨" in body["message"]
    english = client.post(
        "/api/v1/credits/retirements",
        headers={**operator, "Accept-Language": "en"},
        json=retirement_body(claimant.id, batch, 1261),
    ).get_json()
    assert english["fields"][0]["message"] == f"batch {batch} has 1260 t available, not 1261 t"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"retired_on": "2026-13-01"}, "retired_on"),
        ({"lines": []}, "lines"),
        ({"lines": [{"batch_id": 1, "quantity_t": "5"}]}, "lines.0.quantity_t"),
        ({"lines": [{"batch_id": 1, "quantity_t": 0}]}, "lines.0.quantity_t"),
        ({"beneficiary": ""}, "beneficiary"),
        # The name the registry wrote must be the beneficiary organisation's.
        ({"beneficiary": "吴江同里米业有限公司"}, "beneficiary"),
        ({"beneficiary_organisation_id": 999_999}, "beneficiary_organisation_id"),
        ({"beneficiary_organisation_id": None}, "beneficiary_organisation_id"),
        ({"registry_code": "NOPE"}, "registry_code"),
    ],
)
def test_a_malformed_retirement_names_the_field(
    claimant, client, operator, imported, change, field
):
    body = {**retirement_body(claimant.id, batch_id(client, 2024, "吴江"), 1), **change}
    response = client.post("/api/v1/credits/retirements", headers=operator, json=body)
    assert response.status_code in (404, 422)
    assert field in {item["field"] for item in response.get_json()["fields"]}


def test_the_open_data_export(claimant, client, operator, imported):
    batch = batch_id(client, 2025, "吴江")
    client.post(
        "/api/v1/credits/retirements",
        headers=operator,
        json=retirement_body(claimant.id, batch, 15, "R-9"),
    )
    response = client.get("/api/v1/credits/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    # Six batches, one of them split in two by the retirement.
    assert len(rows) == 7
    retired = [row for row in rows if row["status"] == "retired"]
    assert [(r["serial_start"], r["serial_end"], r["registry_reference"]) for r in retired] == [
        ("2001421", "2001435", "R-9")
    ]
    assert sum(int(row["quantity_t"]) for row in rows) == 3560 + 2985 + 2220

    document = client.get("/api/v1/credits/export.json").get_json()
    assert document["columns"][0] == "registry"
    assert [row["serial_start"] for row in document["rows"]] == [
        int(row["serial_start"]) for row in rows
    ]


def test_unknown_objects_answer_404(client):
    assert client.get("/api/v1/credits/projects/999").status_code == 404
    assert client.get("/api/v1/credits/retirements/999").status_code == 404


def test_the_open_data_export_names_each_allocations_exact_serials(
    claimant, client, operator, imported, session
):
    batch = batch_id(client, 2024, "青浦")
    client.post(
        "/api/v1/credits/retirements", headers=operator,
        json=retirement_body(claimant.id, batch, 10),
    )  # fmt: skip
    now = datetime.now(UTC)
    first = credits.allocate(
        session, claimant_organisation_id=claimant.id, key="a", target_type="label_lot",
        target_id="A", quantity_g=6_250_000, now=now,
    )  # fmt: skip
    second = credits.allocate(
        session, claimant_organisation_id=claimant.id, key="b", target_type="label_lot",
        target_id="B", quantity_g=1_000_000, now=now,
    )  # fmt: skip

    rows = list(
        csv.DictReader(
            io.StringIO(client.get("/api/v1/credits/export.csv").get_data(as_text=True)[1:])
        )
    )
    (retired,) = [row for row in rows if row["status"] == "retired"]
    # A: 1000001–1000006 and 250,000 g of 1000007; B: the rest of 1000007 and 250,000 g of 1000008.
    assert retired["allocated_serials"] == (
        f"{first.allocation_id}@1000001:0-1000007:250000 "
        f"{second.allocation_id}@1000007:250000-1000008:250000"
    )
    assert retired["allocated_g"] == "7250000"
    document = client.get("/api/v1/credits/export.json").get_json()
    assert [row["allocated_serials"] for row in document["rows"] if row["status"] == "retired"] == [
        retired["allocated_serials"]
    ]
