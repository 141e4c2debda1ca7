"""A farm records intermittent irrigation on 30 mu; the reduction is shown as information; an
operator verifies it and the farm earns points by the farm_practice rule, once."""

import pytest

from tests.conftest import count_rows

RECORD = {
    "practice": "intermittent_irrigation",
    "season_year": 2026,
    "plot_ref": "东厍-3号田",
    "area_mu": "30",
    "inputs": {"cultivation_days": 112, "project_regime": "multiple_drainage",
               "synthetic_n_kg_per_ha": 200},
    "evidence": "灌溉记录表 2026-06/09",
}  # fmt: skip


@pytest.fixture()
def practice_rule(client, operator):
    response = client.post(
        "/api/v1/points/rules",
        headers=operator,
        json={"event_type": "farm_practice", "formula": {"kind": "per_mu", "points_per_mu": "5"},
              "cap_per_month": 1000, "validity_days": 730},
    )  # fmt: skip
    assert response.status_code == 201, response.get_json()


def fields_named(response):
    return [problem["field"] for problem in response.get_json()["fields"]]


def submit(client, farm, **changes):
    organisation, headers = farm
    return client.post(
        "/api/v1/points/practices",
        headers=headers,
        json={**RECORD, "organisation_id": organisation.id, **changes},
    )


def test_verified_practice_earns_points_once(client, farm, operator, practice_rule, session):
    organisation, headers = farm
    response = submit(client, farm)
    assert response.status_code == 201, response.get_json()
    record = response.get_json()
    assert (record["status"], record["reduction_kg_co2e"], record["points"]) == (
        "submitted",
        "3392.4251",
        0,
    )
    assert record["basis"]["note"].startswith("Information only")
    decided = client.post(
        f"/api/v1/points/practices/{record['id']}/decision",
        headers=operator,
        json={"decision": "verified", "note": "现场核查"},
    )
    assert decided.status_code == 200, decided.get_json()
    assert (decided.get_json()["status"], decided.get_json()["points"]) == ("verified", 150)
    again = client.post(
        f"/api/v1/points/practices/{record['id']}/decision",
        headers=operator,
        json={"decision": "verified"},
    )
    assert again.get_json()["points"] == 150
    other = client.post(
        f"/api/v1/points/practices/{record['id']}/decision",
        headers=operator,
        json={"decision": "rejected"},
    )
    assert (other.status_code, other.get_json()["code"]) == (409, "practice_decided")
    mine = client.get(f"/api/v1/points/organisations/{organisation.id}", headers=headers)
    assert (mine.get_json()["balance"], mine.get_json()["lifetime_earned"]) == (150, 150)
    # The reduction is never a credit: nothing entered the credit ledger.
    assert count_rows(session, "credit_allocations") == 0


def test_the_same_plot_practice_and_season_is_recorded_once(client, farm, practice_rule):
    assert submit(client, farm).status_code == 201
    duplicate = submit(client, farm, area_mu="31")
    assert (duplicate.status_code, duplicate.get_json()["code"]) == (409, "practice_duplicate")
    assert submit(client, farm, season_year=2025).status_code == 201


def test_rejected_records_earn_nothing(client, farm, operator, practice_rule):
    organisation, headers = farm
    record = submit(client, farm).get_json()
    response = client.post(
        f"/api/v1/points/practices/{record['id']}/decision",
        headers={**operator, "Accept-Language": "en"},
        json={"decision": "rejected", "note": "no irrigation log"},
    )
    assert response.get_json()["status"] == "rejected"
    balance = client.get(f"/api/v1/points/organisations/{organisation.id}", headers=headers)
    assert balance.get_json()["balance"] == 0


def test_bad_inputs_name_the_field_and_store_nothing(client, farm, session):
    response = submit(
        client, farm, inputs={"cultivation_days": 112, "project_regime": "continuously_flooded"}
    )
    assert response.status_code == 422
    assert fields_named(response) == ["inputs.project_regime"]
    future = submit(client, farm, season_year=2099)
    assert fields_named(future) == ["season_year"]
    assert count_rows(session, "practice_records") == 0


def test_only_the_farms_staff_record_and_only_operators_decide(
    client, farm, staff, operator, make_organisation, make_staff, sign_in, bearer, practice_rule
):
    other_farm = make_organisation("farm", uscc=None)
    outsider = bearer(sign_in(make_staff(role="farm_staff", organisation=other_farm).username))
    organisation, headers = farm
    stranger = client.post(
        "/api/v1/points/practices",
        headers=outsider,
        json={**RECORD, "organisation_id": organisation.id},
    )
    assert stranger.status_code == 404
    record = submit(client, farm).get_json()
    assert (
        client.post(
            f"/api/v1/points/practices/{record['id']}/decision",
            headers=headers,
            json={"decision": "verified"},
        ).status_code
        == 403
    )
    assert client.get("/api/v1/points/practices", headers=outsider).get_json() == []
    listed = client.get("/api/v1/points/practices?status=submitted", headers=operator)
    assert [row["id"] for row in listed.get_json()] == [record["id"]]
