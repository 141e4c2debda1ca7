"""Scan counts in the production profile: each scan is a row in the database, its count on
display comes from Redis, and a flusher folds the rows into ``unit_scans`` in batches.

Why three parts. A scan must be cheap (it is the busiest request) and must never be lost once
answered, even if Redis restarts empty. So the scan's request appends one ``scan_events`` row
(an INSERT that locks no row; the request commits it before answering) and that row is the
durable record. Redis only holds each code's running total for display (``count``, ``first``
and the provinces), under keys that expire after ``SCAN_COUNT_TTL_S``; a code Redis does not
know is seeded from the database: the folded count plus its events not yet folded. ``scans_fold``
(``tanhui scans flush``) moves events into ``unit_scans`` and deletes them in one transaction, so
each is counted once; several flushers take disjoint batches (``SKIP LOCKED`` on PostgreSQL).

Without Redis (``outage`` says it is down), the same total is read from the database. After an
outage in which Redis kept its data, a code's total on display misses the outage's scans until its
key expires; the database is exact throughout. At every moment the scans ever counted equal
``sum(unit_scans.scan_count) + count(scan_events)`` (:func:`scans_total`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Protocol

import redis
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from labels.models import ScanEvent, UnitScan

#: Events folded into ``unit_scans`` per transaction of the flusher.
FLUSH_BATCH_MAX = 1_000
#: How long Redis keeps a code's running total after its last scan [s]; then it is re-seeded.
SCAN_COUNT_TTL_S = 3_600


class Outage(Protocol):
    """What the counter asks of ``service.store.Outage``: skip Redis while it is down."""

    def skip(self) -> bool: ...

    def failed(self, error: BaseException) -> None: ...

    def recovered(self) -> None: ...


def scan_totals(session: Session, *, lot_id: int, index: int) -> dict[str, Any]:
    """A code's total from the database: its folded count plus its events not yet folded."""
    folded = session.scalars(
        sa.select(UnitScan).where(UnitScan.lot_id == lot_id, UnitScan.unit_index == index)
    ).first()
    pending = ScanEvent.lot_id == lot_id, ScanEvent.unit_index == index
    count, first = session.execute(
        sa.select(sa.func.count(), sa.func.min(ScanEvent.scanned_at)).where(*pending)
    ).one()
    provinces = set(
        session.scalars(
            sa.select(ScanEvent.province).distinct().where(*pending, ScanEvent.province.isnot(None))
        )
    )
    if folded is not None:
        count += folded.scan_count
        first = min(folded.first_scan_at, first or folded.first_scan_at)
        provinces.update(folded.provinces)
    return {"count": count, "first_scan_at": first, "provinces": sorted(provinces)}


def scans_total(session: Session) -> int:
    """Every scan ever counted: folded ones and those waiting for the flusher."""
    folded = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(UnitScan.scan_count), 0)))
    pending = session.scalar(sa.select(sa.func.count()).select_from(ScanEvent))
    return int(folded) + int(pending or 0)


class RedisScanCounter:
    def __init__(self, client: redis.Redis, prefix: str, outage: Outage) -> None:
        self.client = client
        self.prefix = prefix
        self.outage = outage

    def _key(self, lot_id: int, index: int) -> str:
        return f"{self.prefix}:scan:{lot_id}:{index}"

    def record(
        self,
        session: Session,
        *,
        lot_id: int,
        index: int,
        now: datetime,
        province: str | None,
        user_id: int | None,
    ) -> dict[str, Any]:
        """Append the scan's event (the caller commits it before answering) and return the
        code's total: from Redis, or from the database while Redis is down."""
        session.execute(
            sa.insert(ScanEvent).values(
                lot_id=lot_id, unit_index=index, scanned_at=now, province=province, user_id=user_id
            )
        )
        if not self.outage.skip():
            try:
                shown = self._count(session, lot_id, index, now, province)
            except redis.RedisError as error:
                self.outage.failed(error)
            else:
                self.outage.recovered()
                return shown
        return scan_totals(session, lot_id=lot_id, index=index)

    def _count(
        self, session: Session, lot_id: int, index: int, now: datetime, province: str | None
    ) -> dict[str, Any]:
        key = self._key(lot_id, index)
        if not self.client.exists(key):
            # Seeded from the database, this scan's event included: it is not added again.
            totals = scan_totals(session, lot_id=lot_id, index=index)
            pipeline = self.client.pipeline(transaction=True)
            pipeline.hsetnx(key, "count", totals["count"])
            pipeline.hsetnx(key, "first", totals["first_scan_at"].isoformat())
            if totals["provinces"]:
                pipeline.sadd(key + ":prov", *totals["provinces"])
            pipeline.expire(key, SCAN_COUNT_TTL_S)
            pipeline.expire(key + ":prov", SCAN_COUNT_TTL_S)
            if pipeline.execute()[0]:
                return totals
        pipeline = self.client.pipeline(transaction=True)
        pipeline.hincrby(key, "count", 1)
        pipeline.hsetnx(key, "first", now.isoformat())
        if province:
            pipeline.sadd(key + ":prov", province)
        pipeline.expire(key, SCAN_COUNT_TTL_S)
        pipeline.expire(key + ":prov", SCAN_COUNT_TTL_S)
        pipeline.hget(key, "first")
        pipeline.smembers(key + ":prov")
        results = pipeline.execute()
        count, first, provinces = results[0], results[-2], results[-1]
        return {
            "count": int(count),
            "first_scan_at": datetime.fromisoformat(first.decode()),
            "provinces": sorted(member.decode() for member in provinces),
        }


def scans_fold(session: Session, *, limit: int = FLUSH_BATCH_MAX) -> int:
    """Fold up to ``limit`` of the oldest scan events into ``unit_scans`` and delete them;
    returns how many. The caller commits: the deletion and the counts go together or not at all.
    Concurrent flushers skip each other's events and lock ``unit_scans`` rows in one order."""
    oldest = sa.select(ScanEvent.id).order_by(ScanEvent.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        oldest = oldest.with_for_update(skip_locked=True)
    events = session.execute(
        sa.delete(ScanEvent)
        .where(ScanEvent.id.in_(oldest.scalar_subquery()))
        .returning(
            ScanEvent.id,
            ScanEvent.lot_id,
            ScanEvent.unit_index,
            ScanEvent.scanned_at,
            ScanEvent.province,
            ScanEvent.user_id,
        )
    ).all()
    by_code: dict[tuple[int, int], list[Any]] = defaultdict(list)
    for event in sorted(events, key=lambda event: event.id):
        by_code[(event.lot_id, event.unit_index)].append(event)
    for (lot_id, index), code_events in sorted(by_code.items()):
        _fold_code(session, lot_id, index, code_events)
    session.flush()
    return len(events)


def _fold_code(session: Session, lot_id: int, index: int, events: list[Any]) -> None:
    first = min(event.scanned_at for event in events)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(UnitScan)
        .values(
            lot_id=lot_id,
            unit_index=index,
            scan_count=0,
            first_scan_at=first,
            last_scan_at=first,
            provinces=[],
        )
        .on_conflict_do_nothing(index_elements=["lot_id", "unit_index"])
    )
    row = session.scalars(
        sa.select(UnitScan)
        .where(UnitScan.lot_id == lot_id, UnitScan.unit_index == index)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    row.scan_count += len(events)
    row.first_scan_at = min(row.first_scan_at, first)
    row.last_scan_at = max(row.last_scan_at, max(event.scanned_at for event in events))
    provinces = {event.province for event in events if event.province}
    if not provinces <= set(row.provinces):
        row.provinces = sorted(set(row.provinces) | provinces)
    users = [event.user_id for event in events if event.user_id is not None]
    if users:
        row.last_user_id = users[-1]


def scan_counter(
    client: redis.Redis | None, prefix: str, outage: Outage
) -> RedisScanCounter | None:
    """The scan counter of a deployment: events and Redis totals where there is Redis (the
    production profile, folded by ``tanhui scans flush``); ``None`` embedded, where each scan is
    written to ``unit_scans`` at once."""
    if client is None:
        return None
    return RedisScanCounter(client, prefix, outage)
