"""The first half of a unit claim, two ways that write the same rows: find the unit's lot and the
rule in force, insert the claim row unless the unit or the key is taken (the unique constraints
decide between concurrent claimants), and lock the claimant's points account.

``ledger.paths.one_statement(session)`` chooses: on PostgreSQL one statement
(``points.postgresql``), elsewhere (or when a test forces it) a few portable ORM statements. The
second half, the earning and the claim's points, is the same for both (``points.claims``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.orm import Session

from labels.codes import CodeInvalid, lot_key, serial_verify
from labels.lots import unit_revoked
from labels.models import Footprint, Label, LabelLot, Product, UnitRevocation
from ledger import reads
from points import postgresql as claim_statements
from points.accounts import ISSUER_ACCOUNT, account_code
from points.earning import ENTRY_KIND_PREFIX, window_start
from points.errors import ErrorCode, PointsError
from points.models import PointRule, UnitClaim
from points.rules import rule_current


@dataclass(frozen=True)
class Taken:
    """A claim's unit and what became of its row: ``claim_id`` is ``None`` unless it went in;
    ``account_id`` is the claimant's points account when it exists and is locked, and ``earned``
    the points it earned in the rule's windows when already summed."""

    lot_id: int
    index: int
    label_status: str
    revoked: bool
    kg_per_unit: Decimal
    rule: PointRule | None
    claim_id: int | None
    account_id: int | None = None
    earned: dict[str, dict[int, int]] | None = None


def claim_unknown(message: str) -> PointsError:
    return PointsError(code=ErrorCode.CLAIM_CODE_INVALID, fields={"code": [message]})


def _genuine_index(
    master_keys: dict[str, bytes], key_id: str, *, gtin: str, lot_number: str, units: int,
    serial: str, lot_status: str,
) -> int:  # fmt: skip
    try:
        if lot_status != "issued":
            raise CodeInvalid("lot not issued")
        return serial_verify(
            lot_key(master_keys, key_id, gtin=gtin, lot=lot_number, units=units), serial
        )
    except CodeInvalid:
        raise claim_unknown("Not a genuine code.") from None


def _insert(session: Session, table: Any) -> Any:
    """An INSERT of the session's dialect, for ``on_conflict_do_nothing``."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_dialect.insert(table)
    return sqlite_dialect.insert(table)


def take_portable(
    session: Session, *, user_id: int, gtin: str, lot_number: str, serial: str, key: str,
    request_sha256: str, master_keys: dict[str, bytes], now: datetime, region_code: str | None,
) -> Taken:  # fmt: skip
    """The portable path: the lot, the rule, the claim row (the account is opened and locked by
    the earning)."""
    revocations = sa.exists().where(UnitRevocation.lot_id == LabelLot.id)
    found = session.execute(
        sa.select(LabelLot.id, LabelLot.status, LabelLot.key_id, LabelLot.units, Label.status,
                  Footprint.kg_per_unit, revocations)
        .join(Product, Product.id == LabelLot.product_id)
        .join(Label, Label.id == LabelLot.label_id)
        .join(Footprint, Footprint.id == Label.footprint_id)
        .where(Product.gtin == gtin, LabelLot.lot_number == lot_number)
    ).first()  # fmt: skip
    if found is None:
        raise claim_unknown("Unknown code.")
    lot_id, lot_status, key_id, units, label_status, kg_per_unit, has_revocations = found
    index = _genuine_index(
        master_keys, key_id, gtin=gtin, lot_number=lot_number, units=units, serial=serial,
        lot_status=lot_status,
    )  # fmt: skip
    revoked = has_revocations and unit_revoked(session, lot_id, index)
    taken = Taken(lot_id, index, label_status, revoked, kg_per_unit, None, None)
    if revoked or label_status != "certified":
        return taken
    rule = rule_current(session, "unit_claim", now)
    if rule is None:
        return taken
    claims = UnitClaim.__table__
    claim_id = session.execute(
        _insert(session, claims)
        .values(lot_id=lot_id, unit_index=index, user_id=user_id, rule_id=rule.id, points=0,
                idempotency_key=key, request_sha256=request_sha256, region_code=region_code,
                created_at=now)
        .on_conflict_do_nothing()
        .returning(claims.c.id)
    ).scalar()  # fmt: skip
    return dataclasses.replace(taken, rule=rule, claim_id=claim_id)


def _statement_found(
    session: Session, *, user_id: int, gtin: str, lot_number: str, serial: str, key: str,
    request_sha256: str, master_keys: dict[str, bytes], now: datetime, region_code: str | None,
) -> tuple[claim_statements.Taken, int]:  # fmt: skip
    """Run ``points.postgresql.claim_take`` with the lot's facts remembered, read afresh once
    when the statement finds them stale; returns what it found and the unit's index."""
    day, month = window_start(now, "day"), window_start(now, "month")
    fresh = False
    while True:
        facts, remembered = claim_statements.lot_facts(session, gtin, lot_number, fresh=fresh)
        if facts is None:
            raise claim_unknown("Unknown code.")
        try:
            index = serial_verify(
                lot_key(master_keys, facts.key_id, gtin=gtin, lot=lot_number, units=facts.units),
                serial,
            )
        except CodeInvalid:
            if not remembered:
                raise claim_unknown("Not a genuine code.") from None
            fresh = True  # perhaps not this lot's facts any more: read them again
            continue
        found = claim_statements.claim_take(
            session, gtin=gtin, lot_number=lot_number, facts=facts, index=index, user_id=user_id,
            key=key, request_sha256=request_sha256, region_code=region_code,
            account=account_code("user", user_id),
            issuer=ISSUER_ACCOUNT, kind=ENTRY_KIND_PREFIX + "unit_claim", day=day, month=month,
            now=now,
        )  # fmt: skip
        if found.lot_id is not None:
            return found, index
        if not remembered:
            raise claim_unknown("Unknown code.")
        fresh = True


def take_one_statement(
    session: Session, *, user_id: int, gtin: str, lot_number: str, serial: str, key: str,
    request_sha256: str, master_keys: dict[str, bytes], now: datetime, region_code: str | None,
) -> Taken:  # fmt: skip
    """``points.postgresql.claim_take``, and the caps' sums when the claim went in."""
    found, index = _statement_found(
        session, user_id=user_id, gtin=gtin, lot_number=lot_number, serial=serial, key=key,
        request_sha256=request_sha256, master_keys=master_keys, now=now, region_code=region_code,
    )  # fmt: skip
    if found.lot_status != "issued":
        raise claim_unknown("Not a genuine code.")
    rule = None
    if found.rule is not None:
        rule_id, version, formula, cap_per_day, cap_per_month, validity_days = found.rule
        rule = PointRule(
            id=rule_id, event_type="unit_claim", version=version, formula=formula,
            cap_per_day=cap_per_day, cap_per_month=cap_per_month, validity_days=validity_days,
        )  # fmt: skip
    taken = Taken(
        found.lot_id, index, found.label_status, found.revoked, found.kg_per_unit, rule,
        found.claim_id,
    )  # fmt: skip
    if found.claim_id is None or found.locked is None:
        # No claim, or the accounts are yet to be opened (a first claim), or they are not points
        # accounts (opening them refuses with the conflict).
        return taken
    account_id = found.locked.id
    earned = None
    if rule is not None and (rule.cap_per_day is not None or rule.cap_per_month is not None):
        # The statement's own sums hold when no one changed the account between its snapshot
        # and its lock; otherwise they are summed again, after the lock.
        since_day, since_month = found.locked.credited or reads.credited_since(
            session, account_id=account_id, kind=ENTRY_KIND_PREFIX + rule.event_type,
            day=window_start(now, "day"), month=window_start(now, "month"),
        )  # fmt: skip
        earned = {"day": {account_id: since_day}, "month": {account_id: since_month}}
    return dataclasses.replace(taken, account_id=account_id, earned=earned)
