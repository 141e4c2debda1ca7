"""Claims, worked through: an operator publishes the unit-claim rule, consumers scan and claim
units of an issued lot; each unit pays once, caps hold, retries replay, and forged or revoked codes
pay nothing."""

import pytest
import sqlalchemy as sa

from points.models import PointRule, UnitClaim
from tests.conftest import count_rows

RULE = {
    "event_type": "unit_claim",
    "formula": {"kind": "fixed", "points": 10},
    "cap_per_day": 25,
    "validity_days": 365,
}


@pytest.fixture()
def rule(client, operator):
    response = client.post("/api/v1/points/rules", headers=operator, json=RULE)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def claim(client, tokens, bearer, code, key):
    return client.post(
        "/api/v1/points/claims",
        headers={**bearer(tokens), "Idempotency-Key": key},
        json={"code": code},
    )


def test_a_unit_pays_once_and_a_retry_replays(
    client, consumer_tokens, bearer, lot_codes, rule, session
):
    alice, bob = consumer_tokens(), consumer_tokens()
    first = claim(client, alice, bearer, lot_codes(0), "scan-1")
    assert first.status_code == 201, first.get_json()
    assert (first.get_json()["points"], first.get_json()["capped_by"]) == (10, None)
    again = claim(client, alice, bearer, lot_codes(0), "scan-1")
    assert (again.status_code, again.get_json()["id"]) == (200, first.get_json()["id"])
    taken = claim(client, bob, bearer, lot_codes(0), "bob-1")
    assert (taken.status_code, taken.get_json()["code"]) == (409, "unit_already_claimed")
    assert count_rows(session, "unit_claims") == 1
    mine = client.get("/api/v1/points/me", headers=bearer(alice)).get_json()
    assert (mine["balance"], mine["lifetime_earned"], mine["lifetime_spent"]) == (10, 10, 0)
    assert mine["history"][0]["kind"] == "points_unit_claim"


def test_the_daily_cap_holds(client, consumer_tokens, bearer, lot_codes, rule):
    alice = consumer_tokens()
    granted = [claim(client, alice, bearer, lot_codes(i), f"k{i}").get_json() for i in range(1, 5)]
    assert [g["points"] for g in granted] == [10, 10, 5, 0]
    assert [g["capped_by"] for g in granted] == [None, None, "cap_per_day", "cap_per_day"]
    assert client.get("/api/v1/points/me", headers=bearer(alice)).get_json()["balance"] == 25


def test_forged_and_revoked_codes_pay_nothing(
    client, consumer_tokens, bearer, lot_codes, rule, staff, session
):
    alice = consumer_tokens()
    genuine = lot_codes(5)
    forged = genuine[:-1] + ("B" if genuine[-1] == "A" else "A")
    response = claim(client, alice, bearer, forged, "f1")
    assert (response.status_code, response.get_json()["code"]) == (422, "claim_code_invalid")
    response = claim(
        client, alice, bearer, "https://x.example/01/06901234567892/10/NOPE/21/AAAA", "f2"
    )
    assert response.status_code == 422
    _, headers = staff
    client.post(
        f"/api/v1/lots/{lot_codes.lot['id']}/revocations",
        headers=headers,
        json={"index_start": 5, "index_end": 5, "reason": "退货"},
    )
    response = claim(client, alice, bearer, genuine, "f3")
    assert (response.status_code, response.get_json()["code"]) == (409, "claim_code_revoked")
    assert count_rows(session, "unit_claims") == 0


def test_rules_are_versioned_and_each_claim_records_its_version(
    client, consumer_tokens, bearer, lot_codes, rule, operator, session
):
    alice = consumer_tokens()
    claim(client, alice, bearer, lot_codes(10), "v1")
    second = client.post(
        "/api/v1/points/rules",
        headers=operator,
        json={**RULE, "formula": {"kind": "per_kg_co2e", "points_per_kg": "2"}},
    )
    assert second.get_json()["version"] == 2
    made = claim(client, alice, bearer, lot_codes(11), "v2").get_json()
    # 6.25 kg CO2e per bag × 2 points per kg, rounded down.
    assert made["points"] == 12
    versions = [
        session.get(PointRule, c.rule_id).version
        for c in session.scalars(sa.select(UnitClaim).order_by(UnitClaim.id))
    ]
    assert versions == [1, 2]


def test_claims_need_a_key_and_a_consumer(
    client, consumer_tokens, bearer, lot_codes, rule, operator
):
    alice = consumer_tokens()
    response = client.post(
        "/api/v1/points/claims", headers=bearer(alice), json={"code": lot_codes(20)}
    )
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "Idempotency-Key"
    staff_claim = client.post(
        "/api/v1/points/claims",
        headers={**operator, "Idempotency-Key": "x"},
        json={"code": lot_codes(20)},
    )
    assert staff_claim.status_code == 403


def test_auditors_read_the_liability(
    client, consumer_tokens, bearer, lot_codes, rule, make_staff, sign_in
):
    alice = consumer_tokens()
    claim(client, alice, bearer, lot_codes(30), "liab")
    auditor = bearer(sign_in(make_staff(role="auditor").username))
    report = client.get("/api/v1/points/liability", headers=auditor).get_json()
    assert report["outstanding_by_party_type"] == {"user": 10}
    assert client.get("/api/v1/points/liability", headers=bearer(alice)).status_code == 403


def test_claims_are_rate_limited_per_user_and_per_device(
    make_app, consumer_tokens, bearer, lot_codes, rule
):
    client = make_app(
        RATELIMIT_CLAIMS="100 per minute",
        RATELIMIT_CLAIMS_PER_USER="2 per minute",
        RATELIMIT_CLAIMS_PER_DEVICE="3 per minute",
    ).test_client()
    alice, bob = consumer_tokens(), consumer_tokens()

    def attempt(tokens, index, address, device):
        return client.post(
            "/api/v1/points/claims",
            headers={**bearer(tokens), "Idempotency-Key": f"r{index}", "X-Device-Id": device},
            json={"code": lot_codes(40 + index)},
            environ_overrides={"REMOTE_ADDR": address},
        ).status_code

    # One user hopping addresses and devices is still one user: the third claim waits.
    assert [attempt(alice, i, f"10.0.0.{i}", f"phone-{i}") for i in range(3)] == [201, 201, 429]
    # One device shared by users is still one device: its fourth claim waits.
    assert attempt(bob, 10, "10.0.1.1", "phone-0") == 201  # phone-0's second
    assert attempt(bob, 11, "10.0.1.2", "phone-0") == 201  # phone-0's third (bob's second)
    assert attempt(consumer_tokens(), 12, "10.0.1.3", "phone-0") == 429
