"""Unit claims: a consumer claims a scanned unit once, ever, and earns by the ``unit_claim``
rule. Functions take a session and never commit.

The hot path of the mini-program, so it is a few statements: the unit's lot, label and footprint,
the rule in force and the claim row (``points.claim_paths``, one statement on PostgreSQL); the
earning; the claim's points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.models import Product
from ledger import paths
from points import claim_paths
from points import postgresql as claim_statements
from points.accounts import account_code, account_open
from points.earning import Award, earn_locked, earn_many
from points.errors import ErrorCode, IdempotencyConflict, PointsError
from points.idempotency import request_same_check
from points.models import UnitClaim
from points.rules import points_for
from service.base.exceptions import ValidationFailed
from service.base.parties.models import Organisation


@dataclass(frozen=True)
class Claim:
    id: int
    lot_id: int
    unit_index: int
    user_id: int
    points: int
    entry_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    created: bool
    capped_by: str | None


_CLAIM_COLUMNS = (UnitClaim.id, UnitClaim.lot_id, UnitClaim.unit_index, UnitClaim.user_id,
                  UnitClaim.points, UnitClaim.entry_id, UnitClaim.created_at)  # fmt: skip


#: A claim's points and entry, once earned (built once: every claim runs it).
_CLAIM_SETTLE = (
    sa.update(UnitClaim.__table__)
    .where(UnitClaim.__table__.c.id == sa.bindparam("claim"))
    .values(points=sa.bindparam("claim_points"), entry_id=sa.bindparam("entry"))
)


def unit_link_parts(code: str) -> tuple[str, str, str]:
    """The GTIN, lot and serial of a unit's GS1 Digital Link (a URI or its path)."""
    parts = urlparse(code).path.strip("/").split("/")
    if len(parts) != 6 or parts[0] != "01" or parts[2] != "10" or parts[4] != "21":
        raise ValidationFailed.field("code", "Not a unit's GS1 Digital Link.")
    return parts[1], parts[3], parts[5]


def claim_unit(
    session: Session,
    *,
    user_id: int,
    gtin: str,
    lot_number: str,
    serial: str,
    key: str,
    request_sha256: str,
    master_keys: dict[str, bytes],
    now: datetime,
    region_code: str | None = None,
) -> ClaimResult:
    """Claim a scanned unit for the user: once per unit, ever; a retry with the same key and the
    same request (``points.idempotency``) returns the original claim.
    ``ledger.paths.one_statement`` chooses how the claim row goes in."""
    _enterprise_active_check(session, gtin)
    one_statement = paths.one_statement(session)
    take = claim_paths.take_one_statement if one_statement else claim_paths.take_portable
    taken = take(
        session, user_id=user_id, gtin=gtin, lot_number=lot_number, serial=serial, key=key,
        request_sha256=request_sha256, master_keys=master_keys, now=now, region_code=region_code,
    )  # fmt: skip
    refusal = _refusal(taken)
    if refusal is not None:
        replayed = _replay(session, key, request_sha256, taken.lot_id, taken.index, user_id)
        if replayed is not None:
            return replayed
        raise refusal
    assert taken.rule is not None and taken.claim_id is not None  # what _refusal leaves
    award = Award(
        account_code("user", user_id),
        points_for(taken.rule, kg_co2e=taken.kg_per_unit),
        f"claim:{taken.claim_id}",
        {"lot_id": taken.lot_id, "unit_index": taken.index},
    )
    if taken.account_id is None:
        account_open(session, "user", user_id)
        [earning] = earn_many(session, rule=taken.rule, awards=[award], now=now)
    else:
        [earning] = earn_locked(
            session, rule=taken.rule, awards=[award], ids={award.account: taken.account_id},
            now=now, earned=taken.earned,
        )  # fmt: skip
    if one_statement:
        claim_statements.claim_settle(
            session, claim_id=taken.claim_id, points=earning.points, entry_id=earning.entry_id
        )
    else:
        session.connection().execute(
            _CLAIM_SETTLE,
            {"claim": taken.claim_id, "claim_points": earning.points, "entry": earning.entry_id},
        )
    claim = Claim(
        taken.claim_id, taken.lot_id, taken.index, user_id, earning.points, earning.entry_id, now
    )
    return ClaimResult(claim, True, earning.capped_by)


def _enterprise_active_check(session: Session, gtin: str) -> None:
    """Refuse before anything is written when the product's enterprise is suspended (its units
    resolve as suspended, and earn nothing until it is reinstated)."""
    status = session.scalar(
        sa.select(Organisation.status)
        .join(Product, Product.organisation_id == Organisation.id)
        .where(Product.gtin == gtin)
    )
    if status == "suspended":
        raise PointsError(code=ErrorCode.CLAIM_ENTERPRISE_SUSPENDED)


def _refusal(taken: claim_paths.Taken) -> PointsError | None:
    """Why the claim row did not go in (unless the key replays an earlier claim)."""
    if taken.revoked or taken.label_status != "certified":
        return PointsError(code=ErrorCode.CLAIM_CODE_REVOKED, params={"status": taken.label_status})
    if taken.rule is None:
        return PointsError(code=ErrorCode.POINTS_RULE_MISSING)
    if taken.claim_id is None:  # the key or the unit is taken
        return PointsError(code=ErrorCode.UNIT_ALREADY_CLAIMED)
    return None


def _replay(
    session: Session, key: str, request_sha256: str, lot_id: int, index: int, user_id: int
) -> ClaimResult | None:
    """The original answer when ``key`` was used before (a conflict when it was used for another
    claim, or another request); ``None`` when it was not."""
    row = session.execute(
        sa.select(*_CLAIM_COLUMNS, UnitClaim.request_sha256).where(UnitClaim.idempotency_key == key)
    ).first()
    if row is None:
        return None
    existing = Claim(*row[:-1])
    if (existing.lot_id, existing.unit_index, existing.user_id) != (lot_id, index, user_id):
        raise IdempotencyConflict("code", "Another claim.")
    request_same_check(row[-1], request_sha256)
    return ClaimResult(existing, False, None)
