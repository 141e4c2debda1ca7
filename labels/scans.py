"""Scan counts kept in Redis and flushed to the database in batches (the production profile):
resolving a code writes nothing to the database.

Per scanned code one hash ``{prefix}:scan:{lot}:{index}`` holds ``count``, ``first`` (ISO time),
``user``; a set ``…:prov`` the province prefixes; and the set ``{prefix}:scans:dirty`` names the
codes changed since the last flush. The first time Redis sees a code it starts from what the
database holds (so a flushed count survives Redis being emptied). ``flush`` writes absolute values,
so running it twice, or two flushers at once, gives the same rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import redis
import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.models import UnitScan

FLUSH_BATCH_MAX = 1_000


class RedisScanCounter:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, lot_id: int, index: int) -> str:
        return f"{self.prefix}:scan:{lot_id}:{index}"

    @property
    def dirty_key(self) -> str:
        return f"{self.prefix}:scans:dirty"

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
        key = self._key(lot_id, index)
        if not self.client.exists(key):
            self._seed(session, key, lot_id, index)
        pipeline = self.client.pipeline(transaction=True)
        pipeline.hincrby(key, "count", 1)
        pipeline.hsetnx(key, "first", now.isoformat())
        pipeline.hset(key, "last", now.isoformat())
        if province:
            pipeline.sadd(key + ":prov", province)
        if user_id is not None:
            pipeline.hset(key, "user", user_id)
        pipeline.sadd(self.dirty_key, f"{lot_id}:{index}")
        pipeline.hget(key, "first")
        pipeline.smembers(key + ":prov")
        results = pipeline.execute()
        count, first, provinces = results[0], results[-2], results[-1]
        return {
            "count": int(count),
            "first_scan_at": datetime.fromisoformat(first.decode()),
            "provinces": sorted(member.decode() for member in provinces),
        }

    def _seed(self, session: Session, key: str, lot_id: int, index: int) -> None:
        stored = session.scalars(
            sa.select(UnitScan).where(UnitScan.lot_id == lot_id, UnitScan.unit_index == index)
        ).first()
        if stored is None:
            return
        pipeline = self.client.pipeline(transaction=True)
        pipeline.hsetnx(key, "count", stored.scan_count)
        pipeline.hsetnx(key, "first", stored.first_scan_at.isoformat())
        if stored.provinces:
            pipeline.sadd(key + ":prov", *stored.provinces)
        pipeline.execute()

    def flush(self, session: Session, *, limit: int = FLUSH_BATCH_MAX) -> int:
        """Write up to ``limit`` changed counts to ``unit_scans``; returns how many. The caller
        commits; a code changed again meanwhile is simply flushed again next time."""
        members = self.client.spop(self.dirty_key, limit) or []
        for member in members:
            lot_id, index = (int(part) for part in member.decode().split(":"))
            key = self._key(lot_id, index)
            values = self.client.hgetall(key)
            provinces = sorted(m.decode() for m in self.client.smembers(key + ":prov"))
            if not values:
                continue
            row = session.scalars(
                sa.select(UnitScan)
                .where(UnitScan.lot_id == lot_id, UnitScan.unit_index == index)
                .with_for_update()
            ).first()
            first = datetime.fromisoformat(values[b"first"].decode())
            if row is None:
                row = UnitScan(lot_id=lot_id, unit_index=index, first_scan_at=first)
                session.add(row)
            row.scan_count = max(int(values[b"count"]), row.scan_count or 0)
            row.first_scan_at = min(first, row.first_scan_at or first)
            row.last_scan_at = datetime.fromisoformat(
                values.get(b"last", values[b"first"]).decode()
            )
            row.provinces = provinces
            if b"user" in values:
                row.last_user_id = int(values[b"user"])
        session.flush()
        return len(members)


def scan_counter(client: redis.Redis | None, prefix: str) -> RedisScanCounter | None:
    """The scan counter of a deployment: Redis counters where there is Redis (the production
    profile, flushed by ``tanhui scans flush``); ``None`` embedded, where each scan is written to
    the database at once."""
    if client is None:
        return None
    return RedisScanCounter(client, prefix)
