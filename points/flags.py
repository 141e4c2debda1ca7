"""Suspicious claim patterns, flagged for operators (never acted on automatically):

* ``claims_many_regions``: one user's claims in one Shanghai day come from at least
  ``provinces_max`` provinces (the first two digits of the GB/T 2260 region the mini-program
  sends with a claim): codes collected from many places, or an account shared around;
* ``claims_burst``: at least ``per_minute_max`` claims by one user within 60 seconds: faster than
  anybody scans the products they bought.

A job (``tanhui points flag``, from cron every minute) scans the claims of the last day; one flag
per user, kind and Shanghai day, however often it runs. Functions take a session and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from points.errors import ErrorCode, PointsError
from points.models import FLAG_STATUSES, PointFlag, UnitClaim
from points.rows import locked
from service.base.exceptions import FieldMessage, ValidationFailed
from service.base.units import SHANGHAI

BURST_WINDOW = timedelta(seconds=60)
SCAN_WINDOW = timedelta(days=1)


def _day_start(at: datetime) -> datetime:
    return at.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)


def _flag(session: Session, kind: str, user_id: int, day: datetime, details: dict, now: datetime):
    exists = session.scalar(
        sa.select(PointFlag.id).where(
            PointFlag.kind == kind, PointFlag.user_id == user_id, PointFlag.window_start == day
        )
    )
    if exists is not None:
        return 0
    try:
        with session.begin_nested():
            session.add(
                PointFlag(
                    kind=kind,
                    user_id=user_id,
                    window_start=day,
                    details=details,
                    status="open",
                    created_at=now,
                )
            )
            session.flush()
    except IntegrityError:  # another run flagged it first
        return 0
    return 1


def flags_scan(session: Session, *, now: datetime, provinces_max: int, per_minute_max: int) -> int:
    """Flag the patterns in the claims of the last day; returns how many flags are new."""
    rows = session.execute(
        sa.select(UnitClaim.user_id, UnitClaim.created_at, UnitClaim.region_code)
        .where(UnitClaim.created_at >= now - SCAN_WINDOW)
        .order_by(UnitClaim.user_id, UnitClaim.created_at, UnitClaim.id)
    ).all()
    by_user_day: dict[tuple[int, datetime], list[tuple[datetime, str | None]]] = defaultdict(list)
    for user_id, at, region in rows:
        by_user_day[(user_id, _day_start(at))].append((at, region))
    created = 0
    for (user_id, day), claims in by_user_day.items():
        provinces = sorted({region[:2] for _, region in claims if region})
        if len(provinces) >= provinces_max:
            details = {"provinces": provinces, "claims": len(claims)}
            created += _flag(session, "claims_many_regions", user_id, day, details, now)
        start, most, most_at = 0, 0, None
        for end, (at, _) in enumerate(claims):
            while claims[start][0] <= at - BURST_WINDOW:
                start += 1
            if end - start + 1 > most:
                most, most_at = end - start + 1, (claims[start][0], at)
        if most >= per_minute_max and most_at is not None:
            details = {
                "claims_in_a_minute": most,
                "first_at": most_at[0].isoformat(),
                "last_at": most_at[1].isoformat(),
                "claims_that_day": len(claims),
            }
            created += _flag(session, "claims_burst", user_id, day, details, now)
    return created


def flags_query(status: str | None = None) -> sa.Select:
    query = sa.select(PointFlag).order_by(PointFlag.id.desc())
    if status is not None:
        query = query.where(PointFlag.status == status)
    return query


def flag_resolve(
    session: Session, *, flag_id: int, status: str, note: str, user_id: int, now: datetime
) -> PointFlag:
    """An operator closes a flag: ``dismissed`` (nothing wrong) or ``confirmed`` (abuse)."""
    if status not in FLAG_STATUSES[1:]:
        raise ValidationFailed.field(
            "status",
            FieldMessage("Must be one of: {choices}.", choices=", ".join(FLAG_STATUSES[1:])),
        )
    flag = locked(session, PointFlag, flag_id)
    if flag.status == status:
        return flag
    if flag.status != "open":
        raise PointsError(code=ErrorCode.FLAG_RESOLVED, params={"status": flag.status})
    flag.status, flag.resolved_by, flag.resolved_at, flag.resolution_note = (
        status,
        user_id,
        now,
        note,
    )
    session.flush()
    return flag


def flag_view(flag: PointFlag) -> dict[str, Any]:
    return {
        "id": flag.id,
        "kind": flag.kind,
        "user_id": flag.user_id,
        "day": flag.window_start.astimezone(SHANGHAI).date().isoformat(),
        "details": flag.details,
        "status": flag.status,
        "created_at": flag.created_at,
        "resolved_at": flag.resolved_at,
        "resolution_note": flag.resolution_note,
    }
