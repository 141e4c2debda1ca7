"""Allocating retired grams to a target (a label lot, a personal offset), and reading back what
backs a target.

An allocation draws only on retirements whose beneficiary is its claimant (a label lot's
enterprise, the personal-offset programme): on lots of the claimant's retired pool (and of the
shared pool of retirements recorded before migration 0017), from named retirements in the order
given or FIFO by vintage, and records the exact grams of each serial range it drew on: within a
range, the lowest free grams first (``ledger.credits.serials``). Each part repeats the claimant,
and two composite foreign keys hold it to the allocation's claimant and the retirement's
beneficiary. Every allocation is a ledger entry
(so a log leaf) and a ``credits.allocation`` log event of its own. ``allocation_check``
validates the request; ``allocate`` locks and writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.credits.accounts import (
    ALLOCATED_ACCOUNT,
    ALLOCATION_RETIREMENTS_MAX,
    KEY_MAX_LENGTH_CHARS,
    TARGET_ID_MAX_LENGTH_CHARS,
    accounts_open,
    retired_account,
)
from ledger.credits.models import (
    ALLOCATION_TARGET_TYPES,
    CreditAllocation,
    CreditAllocationPart,
    CreditBatch,
    CreditRetirement,
    CreditSerialRange,
)
from ledger.credits.serials import (
    GRAMS_PER_SERIAL,
    free_intervals,
    intervals_take,
    serial_span,
)
from ledger.entries.limits import AMOUNT_MAX
from ledger.entries.posting import entry_post
from ledger.entries.requests import EntryRequest, PostingRequest
from ledger.errors import CreditError, ErrorCode, Outcome
from ledger.models import Account, AnyRow, Entry, Lot
from ledger.tlog.log import log_append
from service.base.exceptions import FieldMessage

#: A retired range drawn on (its id, retirement, serials, lot and remainder) and the intervals
#: ``[start_g, end_g)`` of its gram line taken.
_Draw = tuple[AnyRow, list[tuple[int, int]]]


@dataclass(frozen=True)
class AllocationPart:
    """The grams one allocation took of one retired range: ``serial_start`` to ``serial_end``
    are the serials it took, with ``first_serial_g`` and ``last_serial_g`` grams of the first and
    last; ``start_g`` and ``end_g`` are its offsets into the range's gram line, ``from_g`` and
    ``to_g`` the same ends within ``serial_start`` and ``serial_end``."""

    retirement_id: int
    range_id: int
    serial_start: int
    serial_end: int
    quantity_g: int
    start_g: int
    end_g: int
    from_g: int
    to_g: int
    first_serial_g: int
    last_serial_g: int


def part_leaf(part: AllocationPart) -> dict[str, int]:
    """A part as a log leaf records it: the serials taken and where in the first and last the
    grams begin and end, which is exact without the range's row."""
    return {
        "retirement_id": part.retirement_id,
        "serial_start": part.serial_start,
        "serial_end": part.serial_end,
        "from_g": part.from_g,
        "to_g": part.to_g,
        "quantity_g": part.quantity_g,
    }


@dataclass(frozen=True)
class AllocationResult:
    outcome: Outcome
    allocation_id: int
    quantity_g: int
    parts: tuple[AllocationPart, ...]


def allocate(
    session: Session,
    *,
    key: str,
    target_type: str,
    target_id: str,
    claimant_organisation_id: int,
    quantity_g: int,
    now: datetime,
    retirement_ids: Sequence[int] | None = None,
) -> AllocationResult:
    """Allocate ``quantity_g`` retired grams to a target: from the named retirements in the
    order given, or FIFO by vintage (then retirement, then serial), only of retirements whose
    beneficiary is ``claimant_organisation_id``. All or nothing; a repeated key answers the
    original allocation.

    Allocators of one claimant take turns on its retired pool's account row, so each plans from
    what the others committed: the ledger refuses any draw beyond a lot's remainder in any case.
    """
    request = allocation_check(
        key=key,
        target_type=target_type,
        target_id=target_id,
        claimant_organisation_id=claimant_organisation_id,
        quantity_g=quantity_g,
        retirement_ids=retirement_ids,
    )
    named: list[int] = request["retirement_ids"]
    existing = session.scalars(
        sa.select(CreditAllocation).where(CreditAllocation.idempotency_key == key)
    ).first()
    if existing is not None:
        return _allocation_repeated(session, existing, request)

    accounts_open(session, beneficiary_id=claimant_organisation_id)
    session.execute(
        sa.select(Account.id)
        .where(Account.code == retired_account(claimant_organisation_id))
        .with_for_update()
    ).one()
    draws = _draws_plan(
        session, quantity_g=quantity_g, named=named, claimant=claimant_organisation_id
    )
    postings = [
        PostingRequest(row.account, -sum(end - start for start, end in taken), lot_id=row.lot_id)
        for row, taken in draws
    ]
    postings.append(PostingRequest(ALLOCATED_ACCOUNT, quantity_g))
    result = entry_post(
        session,
        EntryRequest(
            key=f"credits:allocation:{key}",
            kind="credits_allocate",
            postings=postings,
            metadata={
                "target_type": target_type,
                "target_id": target_id,
                "claimant_organisation_id": claimant_organisation_id,
                "retirement_ids": named,
            },
        ),
        now=now,
    )
    allocation = CreditAllocation(
        idempotency_key=key,
        target_type=target_type,
        target_id=target_id,
        claimant_organisation_id=claimant_organisation_id,
        quantity_g=quantity_g,
        entry_id=result.entry_id,
        created_at=now,
    )
    _allocation_store(session, allocation, draws)
    parts = _parts_of(session, allocation.id)
    _allocation_log(session, allocation, parts, now)
    return AllocationResult(Outcome.CREATED, allocation.id, quantity_g, parts)


def _allocation_log(
    session: Session,
    allocation: CreditAllocation,
    parts: Sequence[AllocationPart],
    now: datetime,
) -> None:
    """The allocation's own log event: what it claims, for whom, from which serials."""
    log_append(
        session,
        kind="credits.allocation",
        source_id=str(allocation.id),
        data={
            "key": allocation.idempotency_key,
            "target_type": allocation.target_type,
            "target_id": allocation.target_id,
            "claimant_organisation_id": allocation.claimant_organisation_id,
            "quantity_g": allocation.quantity_g,
            "parts": [part_leaf(part) for part in parts],
        },
        now=now,
    )


def _allocation_store(
    session: Session, allocation: CreditAllocation, draws: Sequence[_Draw]
) -> None:
    """Store the allocation and the part of each retired range it drew on."""
    session.add(allocation)
    session.flush()
    session.add_all(
        [
            CreditAllocationPart(
                allocation_id=allocation.id,
                range_id=row.id,
                retirement_id=row.retirement_id,
                claimant_organisation_id=allocation.claimant_organisation_id,
                quantity_g=end_g - start_g,
                start_g=start_g,
                end_g=end_g,
            )
            for row, taken in draws
            for start_g, end_g in taken
        ]
    )
    session.flush()


def allocation_check(
    *,
    key: str,
    target_type: str,
    target_id: str,
    claimant_organisation_id: int,
    quantity_g: int,
    retirement_ids: Sequence[int] | None,
) -> dict[str, Any]:
    """Check an allocation's request before anything is read or locked; answer it as a repeated
    key is compared with it."""
    if not isinstance(key, str) or not 0 < len(key) <= KEY_MAX_LENGTH_CHARS:
        raise CreditError(ErrorCode.CREDIT_ALLOCATION_INVALID, "key length", field="key")
    if target_type not in ALLOCATION_TARGET_TYPES:
        raise CreditError(
            ErrorCode.CREDIT_ALLOCATION_INVALID,
            ", ".join(ALLOCATION_TARGET_TYPES),
            field="target_type",
        )
    if not isinstance(target_id, str) or not 0 < len(target_id) <= TARGET_ID_MAX_LENGTH_CHARS:
        raise CreditError(ErrorCode.CREDIT_ALLOCATION_INVALID, "target id", field="target_id")
    if type(claimant_organisation_id) is not int or claimant_organisation_id <= 0:
        raise CreditError(
            ErrorCode.CREDIT_ALLOCATION_INVALID,
            "an organisation id",
            field="claimant_organisation_id",
        )
    if type(quantity_g) is not int or not 0 < quantity_g <= AMOUNT_MAX:
        raise CreditError(
            ErrorCode.CREDIT_ALLOCATION_INVALID, "whole grams, more than 0", field="quantity_g"
        )
    named = list(retirement_ids or [])
    if len(named) > ALLOCATION_RETIREMENTS_MAX or len(set(named)) != len(named):
        raise CreditError(
            ErrorCode.CREDIT_ALLOCATION_INVALID,
            FieldMessage(
                "at most {retirements_max} distinct retirements",
                retirements_max=ALLOCATION_RETIREMENTS_MAX,
            ),
            field="retirement_ids",
        )
    return {
        "target_type": target_type,
        "target_id": target_id,
        "claimant_organisation_id": claimant_organisation_id,
        "quantity_g": quantity_g,
        "retirement_ids": named,
    }


def _allocation_repeated(
    session: Session, existing: CreditAllocation, request: Mapping[str, Any]
) -> AllocationResult:
    """The original answer to a repeated key, or ``idempotency_conflict`` naming what differs."""
    stored = {
        "target_type": existing.target_type,
        "target_id": existing.target_id,
        "claimant_organisation_id": existing.claimant_organisation_id,
        "quantity_g": existing.quantity_g,
        "retirement_ids": _allocation_named(session, existing),
    }
    for name in stored:
        if stored[name] != request[name]:
            raise CreditError(
                ErrorCode.IDEMPOTENCY_CONFLICT,
                f"the key was used with another {name}",
                field=name,
            )
    return AllocationResult(
        Outcome.EXISTS, existing.id, existing.quantity_g, _parts_of(session, existing.id)
    )


def _draws_plan(
    session: Session, *, quantity_g: int, named: Sequence[int], claimant: int
) -> list[_Draw]:
    """The retired ranges to draw on and the grams from each, of the claimant's retirements
    only: the named retirements' in the order given, or FIFO by vintage, then retirement, then
    serial. A named retirement of another beneficiary is refused."""
    candidates = (
        sa.select(
            CreditSerialRange.id,
            CreditSerialRange.retirement_id,
            CreditSerialRange.serial_start,
            CreditSerialRange.serial_end,
            CreditSerialRange.lot_id,
            Lot.remaining,
            Account.code.label("account"),
        )
        .join(Lot, Lot.id == CreditSerialRange.lot_id)
        .join(Account, Account.id == Lot.account_id)
        .join(CreditBatch, CreditBatch.id == CreditSerialRange.batch_id)
        .join(CreditRetirement, CreditRetirement.id == CreditSerialRange.retirement_id)
        .where(
            CreditSerialRange.status == "retired",
            Lot.remaining > 0,
            CreditRetirement.beneficiary_organisation_id == claimant,
        )
    )
    if named:
        found = set(
            session.scalars(
                sa.select(CreditRetirement.id).where(CreditRetirement.id.in_(named))
            ).all()
        )
        missing = [number for number in named if number not in found]
        if missing:
            raise CreditError(
                ErrorCode.CREDIT_RETIREMENT_NOT_FOUND,
                ", ".join(map(str, missing)),
                field="retirement_ids",
            )
        _named_beneficiary_check(session, named, claimant)
        order = sa.case({number: position for position, number in enumerate(named)},
                        value=CreditSerialRange.retirement_id)  # fmt: skip
        candidates = candidates.where(CreditSerialRange.retirement_id.in_(named)).order_by(
            order, CreditSerialRange.serial_start, CreditSerialRange.id
        )
    else:
        candidates = candidates.order_by(
            CreditBatch.vintage, CreditSerialRange.retirement_id, CreditSerialRange.serial_start
        )
    draws: list[_Draw] = []
    needed = quantity_g
    for row in session.execute(candidates):
        taken = _lowest_free(session, row, min(row.remaining, needed))
        if taken:
            draws.append((row, taken))
            needed -= sum(end_g - start_g for start_g, end_g in taken)
        if needed == 0:
            break
    if needed:
        raise CreditError(
            ErrorCode.CREDITS_INSUFFICIENT,
            FieldMessage(
                "{available_g} g of the claimant's retired credits unallocated, not {quantity_g} g",
                available_g=quantity_g - needed,
                quantity_g=quantity_g,
            ),
            field="quantity_g",
        )
    return draws


def _lowest_free(session: Session, row: AnyRow, quantity_g: int) -> list[tuple[int, int]]:
    """The lowest ``quantity_g`` free grams of a retired range's gram line (fewer only if its
    parts and its lot disagree, which ``ledger verify`` reports); a reversed part frees its
    grams."""
    total_g = (row.serial_end - row.serial_start + 1) * GRAMS_PER_SERIAL
    taken = session.execute(
        sa.select(CreditAllocationPart.start_g, CreditAllocationPart.end_g).where(
            CreditAllocationPart.range_id == row.id,
            CreditAllocationPart.reversal_entry_id.is_(None),
        )
    ).all()
    return intervals_take(free_intervals(total_g, [(a, b) for a, b in taken]), quantity_g)


def _named_beneficiary_check(session: Session, named: Sequence[int], claimant: int) -> None:
    """Refuse named retirements made for another beneficiary than the claimant."""
    others = session.scalars(
        sa.select(CreditRetirement.id).where(
            CreditRetirement.id.in_(named),
            sa.or_(
                CreditRetirement.beneficiary_organisation_id.is_(None),
                CreditRetirement.beneficiary_organisation_id != claimant,
            ),
        )
    ).all()
    if others:
        raise CreditError(
            ErrorCode.CREDIT_ALLOCATION_INVALID,
            FieldMessage(
                "retirements {retirement_ids} were not made for the claimant",
                retirement_ids=", ".join(map(str, sorted(others))),
            ),
            field="retirement_ids",
        )


def _allocation_named(session: Session, allocation: CreditAllocation) -> list[int]:
    request = session.scalars(sa.select(Entry.request).where(Entry.id == allocation.entry_id)).one()
    return list(request["metadata"].get("retirement_ids", []))


def _parts_of(session: Session, allocation_id: int) -> tuple[AllocationPart, ...]:
    rows = session.execute(
        sa.select(
            CreditAllocationPart.retirement_id,
            CreditAllocationPart.range_id,
            CreditSerialRange.serial_start,
            CreditAllocationPart.start_g,
            CreditAllocationPart.end_g,
        )
        .join(CreditSerialRange, CreditSerialRange.id == CreditAllocationPart.range_id)
        .where(CreditAllocationPart.allocation_id == allocation_id)
        .order_by(CreditAllocationPart.id)
    ).all()
    return tuple(part_of(*row) for row in rows)


def reversed_allocation(allocation_id: Any) -> sa.Exists:
    """Whether the allocation was reversed (its parts are marked; an operator resolving a
    finding): a condition for queries over allocations."""
    return (
        sa.select(CreditAllocationPart.id)
        .where(
            CreditAllocationPart.allocation_id == allocation_id,
            CreditAllocationPart.reversal_entry_id.is_not(None),
        )
        .exists()
    )


def part_of(
    retirement_id: int, range_id: int, range_serial_start: int, start_g: int, end_g: int
) -> AllocationPart:
    """A stored part with the serials its offsets name."""
    span = serial_span(range_serial_start, start_g, end_g)
    return AllocationPart(
        retirement_id=retirement_id,
        range_id=range_id,
        serial_start=span.serial_start,
        serial_end=span.serial_end,
        quantity_g=span.quantity_g,
        start_g=start_g,
        end_g=end_g,
        from_g=span.from_g,
        to_g=span.to_g,
        first_serial_g=span.first_serial_g,
        last_serial_g=span.last_serial_g,
    )


def allocations_of(session: Session, target_type: str, target_id: str) -> list[Mapping[str, Any]]:
    """What backs a target: each allocation with its parts (for labels and the resolver); a
    reversed allocation backs nothing."""
    result: list[Mapping[str, Any]] = []
    for allocation in session.scalars(
        sa.select(CreditAllocation)
        .where(
            CreditAllocation.target_type == target_type,
            CreditAllocation.target_id == target_id,
            ~reversed_allocation(CreditAllocation.id),
        )
        .order_by(CreditAllocation.id)
    ):
        result.append(
            {
                "allocation_id": allocation.id,
                "claimant_organisation_id": allocation.claimant_organisation_id,
                "quantity_g": allocation.quantity_g,
                "parts": _parts_of(session, allocation.id),
            }
        )
    return result
