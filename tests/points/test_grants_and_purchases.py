"""Operator grants (idempotent, capped by their rule) and label-purchase points: an enterprise
that pays for a lot earns by the label_purchase rule, once per lot."""

from datetime import UTC, datetime

import sqlalchemy as sa

from points import purchases, rules
from points.models import PurchaseReward


def test_a_grant_replays_and_a_changed_replay_is_refused(client, operator, consumer_tokens, bearer):
    client.post(
        "/api/v1/points/rules",
        headers=operator,
        json={"event_type": "operator_grant", "formula": {"kind": "fixed", "points": 50},
              "cap_per_day": 120, "validity_days": 90},
    )  # fmt: skip
    alice = consumer_tokens()
    body = {"owner_type": "user", "owner_id": alice["user"]["id"], "reason": "活动奖励"}
    first = client.post(
        "/api/v1/points/grants", headers={**operator, "Idempotency-Key": "g1"}, json=body
    )
    assert (first.status_code, first.get_json()["points"]) == (201, 50)  # the rule's formula
    again = client.post(
        "/api/v1/points/grants", headers={**operator, "Idempotency-Key": "g1"}, json=body
    )
    assert again.get_json()["entry_id"] == first.get_json()["entry_id"]
    changed = client.post(
        "/api/v1/points/grants",
        headers={**operator, "Idempotency-Key": "g1"},
        json={**body, "reason": "另一个"},
    )
    assert (changed.status_code, changed.get_json()["code"]) == (409, "idempotency_conflict")
    big = client.post(
        "/api/v1/points/grants",
        headers={**operator, "Idempotency-Key": "g2"},
        json={**body, "points": 100},
    ).get_json()
    assert (big["points"], big["capped_by"]) == (70, "cap_per_day")
    assert client.get("/api/v1/points/me", headers=bearer(alice)).get_json()["balance"] == 120
    nobody = client.post(
        "/api/v1/points/grants",
        headers={**operator, "Idempotency-Key": "g3"},
        json={**body, "owner_id": 999_999},
    )
    assert [f["field"] for f in nobody.get_json()["fields"]] == ["owner_id"]
    assert (
        client.post(
            "/api/v1/points/grants", headers={**bearer(alice), "Idempotency-Key": "g4"}, json=body
        ).status_code
        == 403
    )


def test_a_paid_lot_earns_its_enterprise_points_once(client, lot_codes, staff, session):
    organisation, headers = staff
    now = datetime.now(UTC)
    assert purchases.reward_pending(session, now=now) == 0  # no rule yet: nothing, no error
    rules.rule_publish(
        session,
        event_type="label_purchase",
        values={"formula": {"kind": "per_fen", "points_per_100_fen": "1"}, "validity_days": 730},
        user_id=None,
        now=now,
    )
    assert purchases.reward_pending(session, now=now) == 1
    assert purchases.reward_pending(session, now=now) == 0
    reward = session.scalars(sa.select(PurchaseReward)).one()
    # One point per yuan paid: the lot's amount in fen / 100, rounded down.
    assert reward.points == lot_codes.lot["amount_fen"] // 100
    mine = client.get(f"/api/v1/points/organisations/{organisation.id}", headers=headers)
    assert mine.get_json()["balance"] == reward.points
