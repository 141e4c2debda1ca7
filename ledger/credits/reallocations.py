"""Resolving a finding of the claimant rule (recorded by migration 0017): the offending allocation
is reversed and the same grams are allocated again, to the same target, from the claimant's own
retirements.

History is not rewritten. The allocation's ledger entry is reversed by a mirror entry whose
credits go back into the very retired lots they came from; the allocation's parts stay as they
were and are marked reversed (``reversal_entry_id``, the one change a part may take), so they no
longer hold grams. A new allocation (its own entry and log leaf) backs the target; the caller
re-points the target through ``retarget`` (the ledger knows nothing of lots or orders). The
finding is then resolved, and both it and its resolution are log events.

All or nothing: if the claimant's retired, unallocated and unheld grams do not cover the
allocation, nothing is written and the refusal names the tonnes still to retire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.credits.accounts import accounts_open, retired_account
from ledger.credits.allocations import allocate
from ledger.credits.models import (
    CreditAllocation,
    CreditAllocationFinding,
    CreditAllocationPart,
    CreditRetirement,
    CreditSerialRange,
)
from ledger.credits.serials import GRAMS_PER_SERIAL
from ledger.entries.reversals import entry_reverse
from ledger.errors import CreditError, ErrorCode
from ledger.models import Account, Lot
from ledger.tlog.log import log_append
from service.base.exceptions import FieldMessage

#: Re-points a target from the reversed allocation to its replacement:
#: ``(session, target_type, target_id, old allocation id, new allocation id)``.
Retarget = Callable[[Session, str, str, int, int], None]


@dataclass(frozen=True)
class FindingResolution:
    finding_id: int
    reversed_allocation_id: int
    reversal_entry_id: int
    allocation_id: int
    quantity_g: int


def finding_check(session: Session, *, finding_id: int) -> CreditAllocationFinding:
    """The open finding, locked; refused when unknown, resolved or without a claimant."""
    finding = session.scalars(
        sa.select(CreditAllocationFinding)
        .where(CreditAllocationFinding.id == finding_id)
        .with_for_update()
    ).first()
    if finding is None:
        raise CreditError(ErrorCode.CREDIT_FINDING_NOT_FOUND, str(finding_id), field="finding_id")
    if finding.status != "open":
        raise CreditError(ErrorCode.CREDIT_FINDING_RESOLVED, str(finding_id), field="finding_id")
    return finding


def available_g(session: Session, *, claimant_organisation_id: int) -> int:
    """Grams retired for the claimant, not allocated and not held for an order: its retired
    ranges' lots (in its own pool or the shared one of before 0017), less its pool's holds."""
    remaining = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Lot.remaining), 0))
        .select_from(CreditSerialRange)
        .join(Lot, Lot.id == CreditSerialRange.lot_id)
        .join(CreditRetirement, CreditRetirement.id == CreditSerialRange.retirement_id)
        .where(CreditRetirement.beneficiary_organisation_id == claimant_organisation_id)
    )
    reserved = session.scalar(
        sa.select(Account.reserved).where(Account.code == retired_account(claimant_organisation_id))
    )
    return int(remaining or 0) - int(reserved or 0)


def finding_resolve(
    session: Session, *, finding_id: int, actor: int, now: datetime, retarget: Retarget
) -> FindingResolution:
    """Reverse the finding's allocation and allocate its grams again to the same target from
    the claimant's own retirements; resolve every open finding of that allocation.

    Takes the finding's row lock, then the claimant's retired pool's (before the reversal's
    balance locks, as ``allocate`` takes it before its own).
    The work runs in a savepoint, so a refusal leaves the session as it was.
    """
    finding = finding_check(session, finding_id=finding_id)
    allocation = session.get(CreditAllocation, finding.allocation_id)
    assert allocation is not None
    claimant = allocation.claimant_organisation_id
    if claimant is None:
        raise CreditError(
            ErrorCode.CREDIT_ALLOCATION_INVALID,
            "the allocation's claimant is unknown",
            field="claimant_organisation_id",
        )
    with session.begin_nested():
        # The claimant's pool first, as every allocator of it does, so the reversal's balance
        # locks come after it and never cross an allocator's.
        accounts_open(session, beneficiary_id=claimant)
        session.execute(
            sa.select(Account.id).where(Account.code == retired_account(claimant)).with_for_update()
        ).one()
        reversal = entry_reverse(
            session,
            entry_id=allocation.entry_id,
            key=f"credits:allocation:{allocation.id}:reversal",
            now=now,
            metadata={"finding_id": finding.id, "allocation_id": allocation.id},
            refill_lots=True,
        )
        session.execute(
            sa.update(CreditAllocationPart)
            .where(CreditAllocationPart.allocation_id == allocation.id)
            .values(reversal_entry_id=reversal.entry_id)
        )
        _coverage_check(session, claimant=claimant, quantity_g=allocation.quantity_g)
        replacement = allocate(
            session,
            key=f"finding:{finding.id}",
            target_type=allocation.target_type,
            target_id=allocation.target_id,
            claimant_organisation_id=claimant,
            quantity_g=allocation.quantity_g,
            now=now,
        )
        retarget(
            session,
            allocation.target_type,
            allocation.target_id,
            allocation.id,
            replacement.allocation_id,
        )
        _findings_resolve(
            session, allocation, reversal.entry_id, replacement.allocation_id, actor, now
        )
    return FindingResolution(
        finding.id,
        allocation.id,
        reversal.entry_id,
        replacement.allocation_id,
        allocation.quantity_g,
    )


def _coverage_check(session: Session, *, claimant: int, quantity_g: int) -> None:
    """Refuse, naming the whole tonnes still to retire, when the claimant's grams fall short."""
    available = available_g(session, claimant_organisation_id=claimant)
    if available >= quantity_g:
        return
    short_g = quantity_g - max(available, 0)
    raise CreditError(
        ErrorCode.CREDITS_INSUFFICIENT,
        FieldMessage(
            "the claimant has {available_g} g retired and unallocated, not {quantity_g} g: "
            "retire {tonnes} t more for it",
            available_g=max(available, 0),
            quantity_g=quantity_g,
            tonnes=-(-short_g // GRAMS_PER_SERIAL),
        ),
        field="quantity_g",
    )


def _findings_resolve(
    session: Session,
    allocation: CreditAllocation,
    reversal_entry_id: int,
    replacement_id: int,
    actor: int,
    now: datetime,
) -> None:
    """Resolve every open finding of the allocation; log each finding and its resolution."""
    findings = session.scalars(
        sa.select(CreditAllocationFinding)
        .where(
            CreditAllocationFinding.allocation_id == allocation.id,
            CreditAllocationFinding.status == "open",
        )
        .order_by(CreditAllocationFinding.id)
        .with_for_update()
    ).all()
    for finding in findings:
        finding.status, finding.resolved_by, finding.resolved_at = "resolved", actor, now
        finding.replacement_allocation_id = replacement_id
        log_append(
            session,
            kind="credits.finding",
            source_id=str(finding.id),
            data={
                "allocation_id": allocation.id,
                "retirement_id": finding.retirement_id,
                "claimant_organisation_id": finding.claimant_organisation_id,
                "beneficiary_organisation_id": finding.beneficiary_organisation_id,
                "problem": finding.problem,
                "quantity_g": finding.quantity_g,
                "recorded_at": finding.created_at.isoformat(),
            },
            now=now,
        )
        log_append(
            session,
            kind="credits.finding_resolution",
            source_id=str(finding.id),
            data={
                "finding_id": finding.id,
                "reversed_allocation_id": allocation.id,
                "reversal_entry_id": reversal_entry_id,
                "allocation_id": replacement_id,
                "resolved_by": actor,
                "at": now.isoformat(),
            },
            now=now,
        )
    session.flush()
