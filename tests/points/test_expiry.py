"""Points expire by lot, first in first out; balances and "expiring within 30 days" are right on
both sides of every boundary (frozen times, no clock)."""

from datetime import UTC, datetime, timedelta

import pytest

from ledger import entries as ledger
from points import accounts, earning, rules, selectors

T0 = datetime(2026, 1, 10, 4, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture()
def rule(session):
    return rules.rule_publish(
        session,
        event_type="operator_grant",
        values={"formula": {"kind": "fixed", "points": 100}, "validity_days": 60},
        user_id=None,
        now=T0 - DAY,
    )


def grant(session, rule, user_id, amount, at, key):
    account = accounts.account_open(session, "user", user_id)
    return earning.earn(session, account=account, rule=rule, points=amount, key=key, now=at)


def test_expiring_soon_and_balance_on_both_sides_of_each_boundary(session, rule):
    grant(session, rule, 7, 100, T0, "g1")  # expires T0 + 60 d
    grant(session, rule, 7, 40, T0 + 20 * DAY, "g2")  # expires T0 + 80 d
    expiry = T0 + 60 * DAY

    def seen(at):
        summary = selectors.summary(session, "user", 7, at)
        return summary["balance"], summary["expiring_30d"]

    assert seen(expiry - 30 * DAY - timedelta(seconds=1)) == (140, 0)  # 30 d + 1 s away
    assert seen(expiry - 30 * DAY) == (140, 100)  # exactly 30 days away: expiring
    assert seen(expiry - timedelta(seconds=1)) == (140, 140)  # the second lot is 20 d + 1 s away
    assert seen(expiry) == (40, 40)  # the first lot has lapsed, even before the job runs

    sinks = ledger.expiry_sinks_open(session)
    posted = ledger.lots_expire(session, now=expiry, sink_for_asset=sinks)
    assert [r.postings for r in posted] == [(("user:7:points", -100), (sinks["POINT"], 100))]
    summary = selectors.summary(session, "user", 7, expiry)
    assert (summary["balance"], summary["lifetime_earned"], summary["lifetime_expired"]) == (
        40,
        140,
        100,
    )


def test_monthly_caps_count_the_calendar_month_in_shanghai(session, rule):
    # Rules never change: a cap comes with a new version.
    rule = rules.rule_publish(
        session,
        event_type="operator_grant",
        values={"formula": {"kind": "fixed", "points": 100}, "validity_days": 60,
                "cap_per_month": 150},
        user_id=None,
        now=T0,
    )  # fmt: skip
    assert rule.version == 2
    # 2026-01-31 23:30 in Shanghai is 15:30 UTC: still January there.
    january = datetime(2026, 1, 31, 15, 30, tzinfo=UTC)
    assert grant(session, rule, 8, 100, january, "m1").points == 100
    assert grant(session, rule, 8, 100, january + timedelta(minutes=20), "m2").points == 50
    # 16:00 UTC is midnight in Shanghai: February, a new month.
    february = datetime(2026, 1, 31, 16, 0, tzinfo=UTC)
    assert grant(session, rule, 8, 100, february, "m3").points == 100


def test_the_liability_report(session, rule):
    grant(session, rule, 7, 100, T0, "l1")  # expires 2026-03-11
    grant(session, rule, 8, 40, T0 + 25 * DAY, "l2")  # expires 2026-04-05
    sinks = ledger.expiry_sinks_open(session)
    ledger.lots_expire(session, now=T0 + 60 * DAY, sink_for_asset=sinks)
    report = selectors.liability(session, T0 + 61 * DAY)
    assert report["outstanding_by_party_type"] == {"user": 40}
    assert report["expiry_schedule"] == [{"month": "2026-04", "points": 40}]
    assert report["by_month"] == [
        {"month": "2026-01", "earned": 100, "spent": 0, "expired": 0},
        {"month": "2026-02", "earned": 40, "spent": 0, "expired": 0},
        {"month": "2026-03", "earned": 0, "spent": 0, "expired": 100},
    ]
