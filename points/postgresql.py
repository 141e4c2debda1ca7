"""A unit claim on PostgreSQL in one statement, and the caps' sums in another.

The mini-program's hottest write. Once the serial has been verified (with the lot's key id and
size, which never change, remembered per process), one data-modifying ``WITH`` statement reads
the lot's state (issued, its label certified, the unit not revoked) and the rule in force, inserts
the claim row unless the unit or the key is taken (the unique constraints decide between
concurrent claimants, as on the portable path), and locks the claimant's points account
(``FOR NO KEY UPDATE``, as the ledger locks balances) when the claim row went in. The statement
also checks the key id and size it was given against the lot's row, so a stale memory inserts
nothing and is read afresh.

The account's lock, and the sums of what it earned in the caps' windows as the statement's
snapshot saw them, are the ledger's part of the statement (``ledger.reads.EARNING_LOCK``): the
ledger says when those sums hold, and when they do not the caps are summed again in a statement of
their own (``ledger.reads.credited_since``), which under READ COMMITTED reads a fresh snapshot
taken after the lock.

The statements run on the driver's own cursor, so psycopg prepares them after a few runs; the
portable path in ``points.claim_paths`` writes the same rows (the test suite runs both and
compares them).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from ledger import reads
from ledger.reads import EARNING_LOCK
from points.accounts import ASSET

#: Lots whose key id and size one process remembers (least recently used go first).
LOT_FACTS_MAX = 4_096

#: Built once, from constants: the ledger's part of the statement is ``ledger.reads.EARNING_LOCK``.
CLAIM_TAKE = f"""
    WITH lot AS (
        SELECT l.id, l.status, b.status AS label_status, f.kg_per_unit,
               EXISTS (
                   SELECT 1 FROM unit_revocations r
                   WHERE r.lot_id = l.id
                     AND r.index_start <= CAST(%(index)s AS bigint)
                     AND r.index_end >= CAST(%(index)s AS bigint)
               ) AS revoked
        FROM label_lots l
        JOIN products p ON p.id = l.product_id
        JOIN labels b ON b.id = l.label_id
        JOIN footprints f ON f.id = b.footprint_id
        WHERE p.gtin = CAST(%(gtin)s AS text) AND l.lot_number = CAST(%(lot_number)s AS text)
          AND l.key_id = CAST(%(key_id)s AS text) AND l.units = CAST(%(units)s AS integer)
    ),
    rule AS (
        SELECT id, version, formula, cap_per_day, cap_per_month, validity_days
        FROM point_rules
        WHERE event_type = 'unit_claim' AND valid_from <= CAST(%(now)s AS timestamptz)
          AND (valid_until IS NULL OR valid_until > CAST(%(now)s AS timestamptz))
        ORDER BY version DESC
        LIMIT 1
    ),
    claimed AS (
        INSERT INTO unit_claims
            (lot_id, unit_index, user_id, rule_id, points, idempotency_key, request_sha256,
             region_code, created_at)
        SELECT lot.id, CAST(%(index)s AS bigint), CAST(%(user_id)s AS integer), rule.id, 0,
               CAST(%(key)s AS text), CAST(%(request_sha256)s AS text),
               CAST(%(region_code)s AS text),
               CAST(%(now)s AS timestamptz)
        FROM lot, rule
        WHERE lot.status = 'issued' AND lot.label_status = 'certified' AND NOT lot.revoked
        ON CONFLICT DO NOTHING
        RETURNING id
    ),
{EARNING_LOCK.ctes_when("EXISTS (SELECT 1 FROM claimed)").strip(chr(10))}
    SELECT lot.id, lot.status, lot.label_status, lot.kg_per_unit, lot.revoked,
           rule.id, rule.version, rule.formula, rule.cap_per_day, rule.cap_per_month,
           rule.validity_days,
           (SELECT id FROM claimed),
           {EARNING_LOCK.columns}
    FROM lot
    LEFT JOIN rule ON true
    {EARNING_LOCK.joins}
"""  # noqa: S608

LOT_FACTS = """
    SELECT l.key_id, l.units FROM label_lots l JOIN products p ON p.id = l.product_id
    WHERE p.gtin = CAST(%(gtin)s AS text) AND l.lot_number = CAST(%(lot_number)s AS text)
"""


@dataclass(frozen=True)
class LotFacts:
    """What a unit's serial is verified against: fixed when the lot is ordered."""

    key_id: str
    units: int


_lot_facts: OrderedDict[tuple[str, str], LotFacts] = OrderedDict()


def _driver(session: Session) -> Any:
    return session.connection().connection.driver_connection


def lot_facts(
    session: Session, gtin: str, lot_number: str, *, fresh: bool = False
) -> tuple[LotFacts | None, bool]:
    """The lot's key id and size (``None`` when there is no such lot), and whether they came from
    this process's memory rather than the database (always read when ``fresh``)."""
    name = (gtin, lot_number)
    if not fresh and (known := _lot_facts.get(name)) is not None:
        _lot_facts.move_to_end(name)
        return known, True
    with _driver(session).cursor() as cursor:
        row = cursor.execute(LOT_FACTS, {"gtin": gtin, "lot_number": lot_number}).fetchone()
    if row is None:
        _lot_facts.pop(name, None)
        return None, False
    facts = _lot_facts[name] = LotFacts(*row)
    while len(_lot_facts) > LOT_FACTS_MAX:
        _lot_facts.popitem(last=False)
    return facts, False


@dataclass(frozen=True)
class Taken:
    """What ``CLAIM_TAKE`` found and did; ``lot_id`` is ``None`` when the lot's facts were stale."""

    lot_id: int | None
    lot_status: str | None = None
    label_status: str | None = None
    kg_per_unit: Decimal = Decimal(0)
    revoked: bool = False
    rule: tuple[Any, ...] | None = None
    claim_id: int | None = None
    locked: reads.LockedAccount | None = None


def claim_take(
    session: Session,
    *,
    gtin: str,
    lot_number: str,
    facts: LotFacts,
    index: int,
    user_id: int,
    key: str,
    request_sha256: str,
    region_code: str | None,
    account: str,
    issuer: str,
    kind: str,
    day: datetime,
    month: datetime,
    now: datetime,
) -> Taken:
    parameters = {
        "gtin": gtin, "lot_number": lot_number, "key_id": facts.key_id, "units": facts.units,
        "index": index, "user_id": user_id, "key": key, "request_sha256": request_sha256,
        "region_code": region_code, "now": now,
        "account": account, "issuer": issuer, "kind": kind, "day": day, "month": month,
    }  # fmt: skip
    with _driver(session).cursor() as cursor:
        row = cursor.execute(CLAIM_TAKE, parameters).fetchone()
    if row is None:
        return Taken(None)
    return Taken(
        lot_id=row[0],
        lot_status=row[1],
        label_status=row[2],
        kg_per_unit=row[3],
        revoked=row[4],
        rule=row[5:11] if row[5] is not None else None,
        claim_id=row[11],
        locked=reads.earning_locked(session, row[12:], asset=ASSET),
    )


CLAIM_SETTLE = (
    "UPDATE unit_claims SET points = %(points)s, entry_id = %(entry_id)s WHERE id = %(claim_id)s"
)


def claim_settle(session: Session, *, claim_id: int, points: int, entry_id: int | None) -> None:
    """Record a claim's points and earning (``entry_id`` is ``None`` when a cap left nothing)."""
    with _driver(session).cursor() as cursor:
        cursor.execute(CLAIM_SETTLE, {"claim_id": claim_id, "points": points, "entry_id": entry_id})
