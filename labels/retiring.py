"""Retire on payment: a lot paid before its enterprise had the retired grams waits,
``retiring``, while the registry retires the whole tonnes still needed in the enterprise's name.

    reserved ──paid, covered──▶ issued
        └──paid, not covered──▶ retiring ──registry retired──▶ issued
                                   (a request row, pending) ──refused──▶ stays, for an operator

The payment's transaction writes one ``lot_retirements`` row per lot (UNIQUE lot and
reference): repeated notifications find the lot ``retiring`` and change nothing. The job
(``tanhui credits retire-pending``) takes each pending row under its row lock (SKIP LOCKED on
PostgreSQL, so two jobs never take one row) and holds it while it asks the registry: first
``registry.retirement(reference)`` (a crash or a timeout after the registry retired is found by
our reference), else ``registry.retire`` under the same reference. On an answer it records the
retirement in the enterprise's name with the registry's exact serial blocks, allocates and
issues the lot, in one transaction. An outage (``RegistryUnavailable``) leaves the row pending
for the next run; a refusal (``RegistryRefused``) marks it refused for an operator. Grams left
over from whole tonnes stay in the enterprise's retired pool for its next lots.

Functions take a session and never commit; the registry is passed in.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.models import LabelLot, LotRetirement, Product
from ledger import credits
from ledger import entries as ledger
from ledger import reads as ledger_reads
from ledger.credits import selectors as credit_selectors
from ledger.credits.registry import (
    Beneficiary,
    RefusalReason,
    Registry,
    RegistryRefused,
    RegistryRetirement,
    RegistryUnavailable,
    RetireRequest,
)
from ledger.errors import ErrorCode, LedgerError
from ledger.tlog import log_append
from service.base.parties.models import Organisation
from service.base.units import GRAMS_PER_TONNE

#: A lot's registry request is made under this prefix and the lot's id (our idempotency key).
LOT_RETIREMENT_REFERENCE_PREFIX = "tanhui-lot-"
#: Pending requests one run of the job takes (the rest wait for the next run).
RETIRE_PENDING_BATCH_MAX = 50
#: What a request records of a registry's error (the column's width).
LAST_ERROR_MAX_CHARS = 200
#: The purpose a retirement for a lot states, as the registry's public record shows it.
LOT_PURPOSE = "碳中和标签 批次 {lot_number}"


class Retired(enum.StrEnum):
    """What one run did to one pending request."""

    RETIRED = "retired"
    WAITING = "waiting"
    REFUSED = "refused"
    TAKEN = "taken"


def tonnes_to_retire(grams_required: int, available_g: int) -> int:
    """Whole tonnes still to retire so ``available_g`` covers ``grams_required``.

    >>> tonnes_to_retire(6_250_000, 1_000_000), tonnes_to_retire(10, 10)
    (6, 0)
    """
    shortfall = max(grams_required - max(available_g, 0), 0)
    return -(-shortfall // GRAMS_PER_TONNE)


def lot_held_g(session: Session, lot: LabelLot, now: datetime) -> int:
    """The grams the lot's hold still sets aside in its enterprise's retired pool."""
    if lot.hold_id is None:
        return 0
    return ledger_reads.hold_pending_g(session, hold_id=lot.hold_id, now=now)


def lot_back(session: Session, lot: LabelLot, now: datetime) -> None:
    """Issue a paid lot its enterprise's retired grams cover (its hold and what the pool has
    free); else record the registry request for the whole tonnes its hold does not cover, in
    this transaction, and leave the lot ``retiring`` (``labels.retiring`` takes it from there).
    The request's row is UNIQUE per lot: a payment confirmed twice asks once."""
    held = lot_held_g(session, lot, now)
    product = session.get(Product, lot.product_id)
    assert product is not None
    free = credit_selectors.claimant_credits(
        session, organisation_id=product.organisation_id
    ).available_g
    if held + max(free, 0) >= lot.grams_required:
        lot_issue(session, lot, now)
        return
    session.add(
        LotRetirement(
            lot_id=lot.id,
            reference=f"{LOT_RETIREMENT_REFERENCE_PREFIX}{lot.id}",
            quantity_t=tonnes_to_retire(lot.grams_required, held),
            status="pending",
            attempts=0,
            created_at=now,
            updated_at=now,
        )
    )
    lot.status = "retiring"
    session.flush()


def hold_release(session: Session, lot: LabelLot, now: datetime) -> None:
    """Release the lot's hold (an expired or released one: nothing to do)."""
    if lot.hold_id is None:
        return
    try:
        ledger.hold_void(session, hold_id=lot.hold_id, now=now)
    except LedgerError as error:
        # An expired hold has released its grams already.
        if error.error_code not in (
            ErrorCode.HOLD_NOT_PENDING,
            ErrorCode.HOLD_EXPIRED,
        ):
            raise


def lot_issue(session: Session, lot: LabelLot, now: datetime) -> None:
    """Allocate a paid lot's grams from its enterprise's retired pool (releasing its hold) and
    issue its codes. Needs the lot's row lock."""
    if lot.grams_required:
        hold_release(session, lot, now)
        product = session.get(Product, lot.product_id)
        assert product is not None
        allocation = credits.allocate(
            session,
            key=f"lot:{lot.id}",
            target_type="label_lot",
            target_id=str(lot.id),
            claimant_organisation_id=product.organisation_id,
            quantity_g=lot.grams_required,
            now=now,
        )
        lot.allocation_id = allocation.allocation_id
    lot.status, lot.issued_at = "issued", now
    session.flush()
    log_append(
        session,
        kind="labels.lot_issued",
        source_id=str(lot.id),
        data={
            "lot_id": lot.id,
            "label_id": lot.label_id,
            "product_id": lot.product_id,
            "lot_number": lot.lot_number,
            "units": lot.units,
            "grams_required": lot.grams_required,
            "allocation_id": lot.allocation_id,
            "at": now.isoformat(),
        },
        now=now,
    )


def lot_retirements_pending(session: Session, *, limit: int | None = None) -> list[int]:
    """The pending requests, oldest first, at most ``limit`` (``RETIRE_PENDING_BATCH_MAX``);
    read without locks, each is locked when run."""
    return list(
        session.scalars(
            sa.select(LotRetirement.id)
            .where(LotRetirement.status == "pending")
            .order_by(LotRetirement.id)
            .limit(limit or RETIRE_PENDING_BATCH_MAX)
        )
    )


def lot_retirement_run(
    session: Session,
    *,
    request_id: int,
    registry: Registry,
    registry_code: str,
    now: datetime,
) -> Retired:
    """Ask the registry for one pending request and, on its answer, record the retirement and
    issue the lot. The request's row lock (skipped when another worker holds it: ``taken``) is
    held across the registry's call and until the caller commits, so no two workers ask for one
    lot; the attempt is counted first, which on SQLite takes the database's write lock."""
    request = session.scalars(
        sa.select(LotRetirement)
        .where(LotRetirement.id == request_id, LotRetirement.status == "pending")
        .with_for_update(skip_locked=True)
    ).first()
    if request is None:
        return Retired.TAKEN
    request.attempts += 1
    request.updated_at = now
    session.flush()
    lot = session.get_one(LabelLot, request.lot_id, with_for_update=True)
    organisation = _organisation_of(session, lot)
    try:
        answer = registry.retirement(request.reference)
        if answer is not None and not _answers(answer, request, organisation):
            raise RegistryRefused(
                RefusalReason.IDEMPOTENCY_CONFLICT,
                f"{answer.retirement_id} under our reference is not this lot's",
            )
        if answer is None:
            answer = registry.retire(
                RetireRequest(
                    reference=request.reference,
                    quantity_t=request.quantity_t,
                    beneficiary=Beneficiary(
                        organisation.name.split(" ", 1)[0], organisation.uscc or None
                    ),
                    purpose=LOT_PURPOSE.format(lot_number=lot.lot_number),
                )
            )
    except RegistryUnavailable as error:
        request.last_error = str(error.detail)[:LAST_ERROR_MAX_CHARS]
        session.flush()
        return Retired.WAITING
    except RegistryRefused as error:
        request.status = "refused"
        request.last_error = f"{error.reason.value}: {error.detail}"[:LAST_ERROR_MAX_CHARS]
        session.flush()
        return Retired.REFUSED
    retirement = _record(session, answer, organisation, registry_code, now)
    request.status, request.retirement_id, request.last_error = "retired", retirement, None
    session.flush()
    lot_issue(session, lot, now)
    return Retired.RETIRED


def lot_retirement_failed(session: Session, *, request_id: int, detail: str, now: datetime) -> None:
    """Note on a pending request why its run failed after the registry answered (our record
    could not take the answer, say), for an operator; it stays pending, and the next run reads
    the retirement back by its reference."""
    session.execute(
        sa.update(LotRetirement)
        .where(LotRetirement.id == request_id, LotRetirement.status == "pending")
        .values(
            attempts=LotRetirement.attempts + 1,
            last_error=detail[:LAST_ERROR_MAX_CHARS],
            updated_at=now,
        )
    )


def _answers(
    answer: RegistryRetirement, request: LotRetirement, organisation: Organisation
) -> bool:
    """Whether a retirement read back by our reference is this request's: its tonnes, and its
    beneficiary the enterprise (a reference reused by another database, say after a restore
    from an old backup, names another retirement, which must never back this lot)."""
    code = answer.beneficiary.credit_code
    return (
        answer.quantity_t == request.quantity_t
        and credits.beneficiary_matches(answer.beneficiary.name, organisation.name)
        and (code is None or code == organisation.uscc)
    )


def _organisation_of(session: Session, lot: LabelLot) -> Organisation:
    product = session.get_one(Product, lot.product_id)
    return session.get_one(Organisation, product.organisation_id)


def _record(
    session: Session,
    answer: RegistryRetirement,
    organisation: Organisation,
    registry_code: str,
    now: datetime,
) -> int:
    """Our record of the registry's retirement (the local registry has made it already, under
    the same id), in the enterprise's retired pool with its exact serial blocks."""
    result = credits.retirement_record(
        session,
        registry_code=registry_code,
        registry_reference=answer.retirement_id,
        beneficiary=answer.beneficiary.name,
        beneficiary_organisation_id=organisation.id,
        purpose=answer.purpose,
        retired_on=answer.retired_on,
        serials=[(block.serial_start, block.serial_end) for block in answer.blocks],
        now=now,
    )
    return result.retirement.id
