"""Recording a retirement a registry's API made: the exact serial blocks it names leave our
record of the platform's holding (``retirements.retire`` takes the lowest serials instead, for
retirements an operator records by batch and tonnes).

A block inside a range splits it: the serials below stay available as a range of their own, the
block is taken from the start of the rest, as ``retirements`` takes any piece.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.credits.models import CreditBatch, CreditRegistry, CreditSerialRange
from ledger.credits.retirements import (
    Piece,
    RetirementLine,
    RetirementResult,
    retirement_check,
    retirement_find,
    retirement_write,
)
from ledger.errors import CreditError, ErrorCode, Outcome
from service.base.exceptions import FieldMessage
from service.base.units import SHANGHAI


def retirement_record(
    session: Session,
    *,
    registry_code: str,
    registry_reference: str,
    beneficiary: str,
    beneficiary_organisation_id: int,
    purpose: str,
    retired_on: date,
    serials: Sequence[tuple[int, int]],
    now: datetime,
) -> RetirementResult:
    """Record a retirement a registry's API made, with the exact serial blocks it names
    (``serials``: (first, last) of each, inclusive): the same serials leave our record of the
    platform's holding, split where a block takes part of a range. The registry's retirement id
    is the reference; recording it again answers the recorded retirement.

    ``retired_on`` is the registry's day, in Shanghai (a registry's afternoon in China is still
    the morning before in UTC). Locks as ``retire`` does."""
    lines = _lines_of_serials(session, registry_code, serials)
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
        today=now.astimezone(SHANGHAI).date(),
    )
    reference = registry_reference.strip()
    existing = retirement_find(session, registry, reference)
    if existing is not None:
        return RetirementResult(Outcome.EXISTS, existing)
    batches = {line.batch_id: session.get_one(CreditBatch, line.batch_id) for line in lines}
    pieces = [_serials_take_exact(session, batches, first, last) for first, last in serials]
    return retirement_write(
        session,
        registry=registry,
        reference=reference,
        request=request,
        lines=lines,
        batches=batches,
        pieces=pieces,
        recorded_by=None,
        now=now,
    )


def _lines_of_serials(
    session: Session, registry_code: str, serials: Sequence[tuple[int, int]]
) -> list[RetirementLine]:
    """The batches of our record holding each block, with the tonnes taken of each, in order;
    ``credit_batch_not_found`` naming the serial no batch holds whole."""
    tonnes: dict[int, int] = {}
    for first, last in serials:
        batch_id = session.scalar(
            sa.select(CreditBatch.id)
            .join(CreditRegistry, CreditRegistry.id == CreditBatch.registry_id)
            .where(
                CreditRegistry.code == registry_code,
                CreditBatch.serial_start <= first,
                CreditBatch.serial_end >= last,
            )
        )
        if batch_id is None or last < first:
            raise CreditError(ErrorCode.CREDIT_BATCH_NOT_FOUND, str(first), field="serial_start")
        tonnes[batch_id] = tonnes.get(batch_id, 0) + last - first + 1
    return [RetirementLine(batch_id, quantity) for batch_id, quantity in tonnes.items()]


def _serials_take_exact(
    session: Session, batches: dict[int, CreditBatch], first: int, last: int
) -> Piece:
    """The available range holding serials ``first``..``last`` (under its row lock), its lower
    serials split off as an available range of their own so the piece takes it from its start;
    ``credits_insufficient`` when our record does not hold them all available."""
    piece = session.scalars(
        sa.select(CreditSerialRange)
        .where(
            CreditSerialRange.batch_id.in_(list(batches)),
            CreditSerialRange.status == "available",
            CreditSerialRange.serial_start <= first,
            CreditSerialRange.serial_end >= last,
        )
        .with_for_update()
    ).first()
    if piece is None:
        raise CreditError(
            ErrorCode.CREDITS_INSUFFICIENT,
            FieldMessage("serials {first} to {last} are not available", first=first, last=last),
            field="serial_start",
        )
    if piece.serial_start < first:
        session.add(
            CreditSerialRange(
                batch_id=piece.batch_id,
                serial_start=piece.serial_start,
                serial_end=first - 1,
                status="available",
            )
        )
        piece.serial_start = first
        session.flush()
    return batches[piece.batch_id], piece, last - first + 1
