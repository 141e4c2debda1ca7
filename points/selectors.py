"""What a party sees of its points, and what the platform owes: reads only, through the ledger's
own reads (``ledger.reads``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ledger import reads
from points.accounts import ASSET, account_code
from service.base.units import SHANGHAI

EXPIRING_WINDOW_DAYS = 30
HISTORY_ROWS_MAX = 50


def summary(session: Session, owner_type: str, owner_id: int, now: datetime) -> dict[str, Any]:
    """Balance, lifetime earned and spent, points expiring within 30 days, recent history."""
    account = reads.account_state(session, account_code(owner_type, owner_id))
    if account is None:
        return {"balance": 0, "available": 0, "lifetime_earned": 0, "lifetime_spent": 0,
                "lifetime_expired": 0, "expiring_30d": 0, "history": []}  # fmt: skip
    totals = reads.lifetime_totals(session, account_id=account.id)
    # Lots past their expiry count for nothing, even before the expiry job has posted them.
    lapsed = reads.lots_lapsed(session, account_id=account.id, now=now)
    expiring = reads.lots_expiring(
        session, account_id=account.id, after=now, until=now + timedelta(days=EXPIRING_WINDOW_DAYS)
    )
    history = reads.history(session, account_id=account.id, limit=HISTORY_ROWS_MAX)
    return {
        "balance": account.balance - lapsed,
        "available": max(account.balance - account.reserved - lapsed, 0),
        "lifetime_earned": totals.credited,
        "lifetime_spent": totals.debited,
        "lifetime_expired": totals.expired,
        "expiring_30d": expiring,
        "history": [{"kind": m.kind, "points": m.amount, "at": m.at} for m in history],
    }


def liability(session: Session, now: datetime) -> dict[str, Any]:
    """What the platform owes in points: outstanding by party type, when it expires (by month,
    Shanghai), and points earned, spent and expired per month."""
    outstanding = reads.outstanding_by_owner_type(session, asset=ASSET)
    schedule = reads.expiring_by_month(session, asset=ASSET, zone=SHANGHAI)
    months = reads.movements_by_month(session, asset=ASSET, zone=SHANGHAI)
    return {
        "as_of": now,
        "outstanding_by_party_type": outstanding,
        "outstanding_total": sum(outstanding.values()),
        "expiry_schedule": [{"month": m, "points": p} for m, p in sorted(schedule.items())],
        "by_month": [
            {"month": m, "earned": v.credited, "spent": v.debited, "expired": v.expired}
            for m, v in sorted(months.items())
        ],
    }
