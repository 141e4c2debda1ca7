"""Recording retirements the registry made: whole tonnes of one or more batches, the lowest
serials still available first, moved from the inventory into lots of the retired pool (one lot
per retired serial range).

Every retirement is a ledger entry (so a log leaf) and a ``credits.retirement`` log event of its
own. ``retirement_check`` validates the request and locks the registry; ``retire`` writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.credits.accounts import (
    BENEFICIARY_MAX_LENGTH_CHARS,
    INVENTORY_ACCOUNT,
    PURPOSE_MAX_LENGTH_CHARS,
    REFERENCE_MAX_LENGTH_CHARS,
    RETIREMENT_LINES_MAX,
    accounts_open,
    registry_lock,
    retired_account,
)
from ledger.credits.models import CreditBatch, CreditRegistry, CreditRetirement, CreditSerialRange
from ledger.entries.posting import entry_post
from ledger.entries.requests import EntryRequest, PostingRequest
from ledger.errors import CreditError, ErrorCode, Outcome
from ledger.models import Entry
from ledger.tlog.log import log_append
from service.base.exceptions import FieldMessage
from service.base.parties.models import Organisation
from service.base.units import GRAMS_PER_TONNE

#: Tonnes taken from one available serial range of a batch: (batch, range, tonnes).
Piece = tuple[CreditBatch, CreditSerialRange, int]


def beneficiary_matches(beneficiary: str, organisation_name: str) -> bool:
    """Whether the name a registry wrote is the organisation's: the whole name, or its legal
    name, the part before the first space (names here are kept as "青浦练塘大米有限公司 Lianta
    Rice Co.", a registry writes the legal name alone). Spaces around either are ignored.

    >>> beneficiary_matches("青浦练塘大米有限公司", "青浦练塘大米有限公司 Lianta Rice Co.")
    True
    >>> beneficiary_matches("吴江同里米业有限公司", "青浦练塘大米有限公司 Lianta Rice Co.")
    False
    """
    written, name = " ".join(beneficiary.split()), " ".join(organisation_name.split())
    return bool(written) and written in (name, name.split(" ", 1)[0])


@dataclass(frozen=True)
class RetirementLine:
    batch_id: int
    quantity_t: int


@dataclass(frozen=True)
class RetirementResult:
    outcome: Outcome
    retirement: CreditRetirement


def retire(
    session: Session,
    *,
    registry_code: str,
    registry_reference: str,
    beneficiary: str,
    beneficiary_organisation_id: int,
    purpose: str,
    retired_on: date,
    lines: Sequence[RetirementLine],
    recorded_by: int | None = None,
    now: datetime,
) -> RetirementResult:
    """Record a retirement the registry made: whole tonnes of one or more batches, the lowest
    serials still available first, into the retired pool of the beneficiary organisation (the
    only party whose claims may draw on it). ``beneficiary`` is the name as the registry wrote
    it and must be that organisation's (``beneficiary_matches``). Repeating a reference answers
    the original retirement.

    Locks the registry's row (``retirement_check``), then the available serial ranges of each
    batch it draws on, then the ledger's balances as any entry does.
    """
    registry, request = retirement_check(
        session,
        registry_code=registry_code,
        registry_reference=registry_reference,
        beneficiary=beneficiary,
        beneficiary_organisation_id=beneficiary_organisation_id,
        purpose=purpose,
        retired_on=retired_on,
        lines=lines,
        now=now,
    )
    reference = registry_reference.strip()
    existing = retirement_find(session, registry, reference)
    if existing is not None:
        return _retirement_repeated(session, existing, request)
    batches, pieces = _serials_take(session, registry, lines)
    return retirement_write(
        session,
        registry=registry,
        reference=reference,
        request=request,
        lines=lines,
        batches=batches,
        pieces=pieces,
        recorded_by=recorded_by,
        now=now,
    )


def retirement_find(
    session: Session, registry: CreditRegistry, reference: str
) -> CreditRetirement | None:
    return session.scalars(
        sa.select(CreditRetirement).where(
            CreditRetirement.registry_id == registry.id,
            CreditRetirement.registry_reference == reference,
        )
    ).first()


def retirement_write(
    session: Session,
    *,
    registry: CreditRegistry,
    reference: str,
    request: dict[str, Any],
    lines: Sequence[RetirementLine],
    batches: dict[int, CreditBatch],
    pieces: Sequence[Piece],
    recorded_by: int | None,
    now: datetime,
) -> RetirementResult:
    """Post the retirement's entry, store it and its ranges, and log it."""
    beneficiary_organisation_id = int(request["beneficiary_organisation_id"])
    accounts_open(session, registry.code, beneficiary_id=beneficiary_organisation_id)
    pool = retired_account(beneficiary_organisation_id)
    result = entry_post(
        session,
        EntryRequest(
            key=f"credits:retirement:{registry.code}:{reference}",
            kind="credits_retire",
            postings=_retirement_postings(registry, reference, lines, batches, pieces, pool),
            metadata={"reference": reference},
        ),
        now=now,
    )
    retirement = CreditRetirement(
        registry_id=registry.id,
        registry_reference=reference,
        beneficiary=request["beneficiary"],
        beneficiary_organisation_id=beneficiary_organisation_id,
        purpose=request["purpose"],
        retired_on=date.fromisoformat(request["retired_on"]),
        quantity_t=sum(line.quantity_t for line in lines),
        entry_id=result.entry_id,
        recorded_by=recorded_by,
        created_at=now,
    )
    session.add(retirement)
    session.flush()
    retired_lots = [use.lot_id for use in result.lots if use.amount > 0]
    ranges = _ranges_retire(session, retirement, pieces, retired_lots)
    log_append(
        session,
        kind="credits.retirement",
        source_id=str(retirement.id),
        data={"registry": registry.code, "reference": reference, **request, "ranges": ranges},
        now=now,
    )
    return RetirementResult(Outcome.CREATED, retirement)


def retirement_check(
    session: Session,
    *,
    registry_code: str,
    registry_reference: str,
    beneficiary: str,
    beneficiary_organisation_id: int,
    purpose: str,
    retired_on: date,
    lines: Sequence[RetirementLine],
    now: datetime,
    today: date | None = None,
) -> tuple[CreditRegistry, dict[str, Any]]:
    """Lock the registry and check the request; answer the registry and the request as a
    repeated reference is compared with it."""
    registry = registry_lock(session, registry_code)
    if registry is None:
        raise CreditError(ErrorCode.CREDIT_REGISTRY_NOT_FOUND, registry_code, field="registry_code")
    texts = {
        "registry_reference": (registry_reference, REFERENCE_MAX_LENGTH_CHARS),
        "beneficiary": (beneficiary, BENEFICIARY_MAX_LENGTH_CHARS),
        "purpose": (purpose, PURPOSE_MAX_LENGTH_CHARS),
    }
    for name, (value, limit) in texts.items():
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise CreditError(
                ErrorCode.CREDIT_RETIREMENT_INVALID,
                FieldMessage("1 to {limit} characters", limit=limit),
                field=name,
            )
    organisation = session.get(Organisation, beneficiary_organisation_id)
    if organisation is None:
        raise CreditError(
            ErrorCode.CREDIT_RETIREMENT_INVALID,
            "no such organisation",
            field="beneficiary_organisation_id",
        )
    if not beneficiary_matches(beneficiary, organisation.name):
        raise CreditError(
            ErrorCode.CREDIT_RETIREMENT_INVALID,
            FieldMessage("not the name of {organisation}", organisation=organisation.name),
            field="beneficiary",
        )
    if retired_on > (today or now.date()):
        raise CreditError(ErrorCode.CREDIT_RETIREMENT_INVALID, "in the future", field="retired_on")
    if not 0 < len(lines) <= RETIREMENT_LINES_MAX:
        raise CreditError(
            ErrorCode.CREDIT_RETIREMENT_INVALID,
            FieldMessage("1 to {lines_max} lines", lines_max=RETIREMENT_LINES_MAX),
            field="lines",
        )
    if len({line.batch_id for line in lines}) != len(lines):
        raise CreditError(
            ErrorCode.CREDIT_RETIREMENT_INVALID, "a batch appears twice", field="lines"
        )
    for line in lines:
        if type(line.quantity_t) is not int or line.quantity_t <= 0:
            raise CreditError(
                ErrorCode.CREDIT_RETIREMENT_INVALID,
                "whole tonnes, more than 0",
                field="quantity_t",
            )
    request = {
        "beneficiary": beneficiary.strip(),
        "beneficiary_organisation_id": beneficiary_organisation_id,
        "purpose": purpose.strip(),
        "retired_on": retired_on.isoformat(),
        "lines": [[line.batch_id, line.quantity_t] for line in lines],
    }
    return registry, request


def _serials_take(
    session: Session, registry: CreditRegistry, lines: Sequence[RetirementLine]
) -> tuple[dict[int, CreditBatch], list[Piece]]:
    """The batches of the lines, and the lowest available serials of each that the lines take,
    under the batch ranges' row locks."""
    batches = {}
    for line in lines:
        batch = session.get(CreditBatch, line.batch_id)
        if batch is None or batch.registry_id != registry.id:
            raise CreditError(
                ErrorCode.CREDIT_BATCH_NOT_FOUND, str(line.batch_id), field="batch_id"
            )
        batches[line.batch_id] = batch
    pieces: list[Piece] = []
    for line in lines:
        batch = batches[line.batch_id]
        available = session.scalars(
            sa.select(CreditSerialRange)
            .where(CreditSerialRange.batch_id == batch.id, CreditSerialRange.status == "available")
            .order_by(CreditSerialRange.serial_start)
            .with_for_update()
        ).all()
        needed = line.quantity_t
        have = sum(piece.quantity_t for piece in available)
        if have < needed:
            raise CreditError(
                ErrorCode.CREDITS_INSUFFICIENT,
                FieldMessage(
                    "batch {batch_id} has {have} t available, not {needed} t",
                    batch_id=batch.id,
                    have=have,
                    needed=needed,
                ),
                field="quantity_t",
            )
        for piece in available:
            take = min(piece.quantity_t, needed)
            pieces.append((batch, piece, take))
            needed -= take
            if needed == 0:
                break
    return batches, pieces


def _retirement_postings(
    registry: CreditRegistry,
    reference: str,
    lines: Sequence[RetirementLine],
    batches: dict[int, CreditBatch],
    pieces: Sequence[Piece],
    pool: str,
) -> list[PostingRequest]:
    """Each line out of its batch's inventory lot; each piece into a lot of the beneficiary's
    retired pool that names its serials."""
    postings = [
        PostingRequest(
            INVENTORY_ACCOUNT,
            -line.quantity_t * GRAMS_PER_TONNE,
            lot_id=batches[line.batch_id].lot_id,
        )
        for line in lines
    ]
    for batch, piece, take in pieces:
        postings.append(
            PostingRequest(
                pool,
                take * GRAMS_PER_TONNE,
                provenance={
                    "registry": registry.code,
                    "reference": reference,
                    "batch_id": batch.id,
                    "vintage": batch.vintage,
                    "serial_start": piece.serial_start,
                    "serial_end": piece.serial_start + take - 1,
                },
            )
        )
    return postings


def _ranges_retire(
    session: Session,
    retirement: CreditRetirement,
    pieces: Sequence[Piece],
    retired_lots: Sequence[int],
) -> list[list[int]]:
    """Mark the retired serials: a whole range changes status, a part splits off as a retired
    range (the available rest keeps the higher serials). Answers (batch, first, last) of each."""
    ranges = []
    for (batch, piece, take), lot_id in zip(pieces, retired_lots, strict=True):
        start = piece.serial_start
        if take == piece.quantity_t:
            piece.status, piece.retirement_id, piece.lot_id = "retired", retirement.id, lot_id
        else:
            piece.serial_start = start + take
            session.add(
                CreditSerialRange(
                    batch_id=batch.id,
                    serial_start=start,
                    serial_end=start + take - 1,
                    status="retired",
                    retirement_id=retirement.id,
                    lot_id=lot_id,
                )
            )
        ranges.append([batch.id, start, start + take - 1])
    session.flush()
    return ranges


def _retirement_repeated(
    session: Session, existing: CreditRetirement, request: dict[str, Any]
) -> RetirementResult:
    """The original answer to a repeated reference, or ``idempotency_conflict`` naming what
    differs."""
    stored = _retirement_request(session, existing)
    for name in ("beneficiary", "beneficiary_organisation_id", "purpose", "retired_on", "lines"):
        if stored[name] != request[name]:
            raise CreditError(
                ErrorCode.IDEMPOTENCY_CONFLICT,
                FieldMessage("the reference was used with another {name}", name=name),
                field=name,
            )
    return RetirementResult(Outcome.EXISTS, existing)


def _retirement_request(session: Session, retirement: CreditRetirement) -> dict[str, Any]:
    entry_request = session.scalars(
        sa.select(Entry.request).where(Entry.id == retirement.entry_id)
    ).one()
    lines = [
        [posting["lot_id"], -posting["amount"] // GRAMS_PER_TONNE]
        for posting in entry_request["postings"]
        if posting["account"] == INVENTORY_ACCOUNT
    ]
    batch_by_lot = dict(
        session.execute(
            sa.select(CreditBatch.lot_id, CreditBatch.id).where(
                CreditBatch.lot_id.in_([lot for lot, _ in lines])
            )
        ).all()
    )
    return {
        "beneficiary": retirement.beneficiary,
        "beneficiary_organisation_id": retirement.beneficiary_organisation_id,
        "purpose": retirement.purpose,
        "retired_on": retirement.retired_on.isoformat(),
        "lines": [[batch_by_lot[lot], tonnes] for lot, tonnes in lines],
    }
