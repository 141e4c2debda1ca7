"""Suspicious claims, flagged for operators: a user claiming from three provinces in one day, and
a user claiming ten units within a minute. Frozen times; one flag per user, kind and day."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from labels.models import LabelLot, Product
from points import claims, flags, rules
from points.models import PointFlag
from service.base.parties.services import consumer_create

#: One request's fingerprint (``points.idempotency``): these tests send each key once.
SAME = "0" * 64

MORNING = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


@pytest.fixture()
def claimer(app, lot_codes, session):
    """Claim unit i for a user at a given time and region, through the claim service."""
    rules.rule_publish(
        session,
        event_type="unit_claim",
        values={"formula": {"kind": "fixed", "points": 1}, "validity_days": 365},
        user_id=None,
        now=MORNING - timedelta(days=1),
    )
    lot = session.scalars(sa.select(LabelLot)).one()
    product = session.get(Product, lot.product_id)

    def claim(user_id, index, at, region=None):
        serial = lot_codes(index).rsplit("/", 1)[1]
        claims.claim_unit(
            session, user_id=user_id, gtin=product.gtin, lot_number=lot.lot_number,
            serial=serial, key=f"{user_id}:{index}", request_sha256=SAME, now=at,
            region_code=region,
            master_keys=app.config["UNIT_CODE_MASTER_KEYS"],
        )  # fmt: skip

    return claim


def scan(session, now):
    return flags.flags_scan(session, now=now, provinces_max=3, per_minute_max=10)


def test_three_provinces_in_a_day_are_flagged_once(claimer, session):
    wanderer, local = consumer_create(session).id, consumer_create(session).id
    for index, region in enumerate(["310118", "320509", "330421"]):
        claimer(wanderer, index, MORNING + timedelta(hours=index * 3), region)
    for index, region in enumerate(["310118", "310117", "310118"], start=10):
        claimer(local, index, MORNING + timedelta(hours=index), region)
    assert scan(session, MORNING + timedelta(hours=12)) == 1
    flag = session.scalars(sa.select(PointFlag)).one()
    assert (flag.kind, flag.user_id) == ("claims_many_regions", wanderer)
    assert flag.details == {"provinces": ["31", "32", "33"], "claims": 3}
    assert scan(session, MORNING + timedelta(hours=13)) == 0  # once per day


def test_ten_claims_inside_a_minute_are_a_burst_nine_are_not(claimer, session):
    quick, steady = consumer_create(session).id, consumer_create(session).id
    for index in range(10):
        claimer(quick, index, MORNING + timedelta(seconds=index * 6))  # 54 s from first to last
    for index in range(20, 30):
        claimer(steady, index, MORNING + timedelta(seconds=(index - 20) * 7))  # 63 s
    assert scan(session, MORNING + timedelta(minutes=5)) == 1
    flag = session.scalars(sa.select(PointFlag)).one()
    assert (flag.kind, flag.user_id, flag.details["claims_in_a_minute"]) == (
        "claims_burst",
        quick,
        10,
    )


def test_operators_list_and_close_flags(
    client, claimer, session, operator, consumer_tokens, bearer
):
    wanderer = consumer_create(session).id
    for index, region in enumerate(["310118", "320509", "330421"]):
        claimer(wanderer, index, MORNING + timedelta(minutes=index), region)
    scan(session, MORNING + timedelta(hours=1))
    listed = client.get("/api/v1/points/flags?status=open", headers=operator).get_json()
    assert [(row["kind"], row["day"]) for row in listed] == [("claims_many_regions", "2026-11-24")]
    consumer = bearer(consumer_tokens())
    assert client.get("/api/v1/points/flags", headers=consumer).status_code == 403
    path = f"/api/v1/points/flags/{listed[0]['id']}/resolution"
    closed = client.post(path, headers=operator, json={"status": "dismissed", "note": "出差"})
    assert closed.get_json()["status"] == "dismissed"
    reopened = client.post(path, headers=operator, json={"status": "confirmed"})
    assert (reopened.status_code, reopened.get_json()["code"]) == (409, "flag_resolved")
    assert client.get("/api/v1/points/flags?status=open", headers=operator).get_json() == []
