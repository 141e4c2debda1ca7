"""The audit's checks of sink credits: serials conserved and never overlapping, each retirement's
tonnes in its retired ranges, no retired range (so no retirement) over-allocated, no gram of any
serial allocated twice or outside its retired range, and every allocation drawing only on
retirements made for its claimant."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.credits.models import (
    CreditAllocation,
    CreditAllocationFinding,
    CreditAllocationPart,
    CreditBatch,
    CreditRetirement,
    CreditSerialRange,
)
from ledger.models import AnySelect, Entry, Lot, table
from ledger.verify.common import rows, totals
from service.base.units import GRAMS_PER_TONNE

_BATCHES = table(CreditBatch)
_RANGES = table(CreditSerialRange)


def serials_conserved(session: Session) -> list[str]:
    batches, ranges = _BATCHES, _RANGES
    tiles = totals(ranges.c.batch_id, ranges.c.serial_end - ranges.c.serial_start + 1)
    bounds = (
        sa.select(
            ranges.c.batch_id.label("key"),
            sa.func.min(ranges.c.serial_start).label("first"),
            sa.func.max(ranges.c.serial_end).label("last"),
        )
        .group_by(ranges.c.batch_id)
        .subquery()
    )
    conserved = (
        sa.select(
            batches.c.id,
            batches.c.serial_start,
            batches.c.serial_end,
            sa.func.coalesce(tiles.c.total, 0).label("tonnes"),
            bounds.c.first,
            bounds.c.last,
        )
        .outerjoin(tiles, tiles.c.key == batches.c.id)
        .outerjoin(bounds, bounds.c.key == batches.c.id)
        .where(
            sa.or_(
                sa.func.coalesce(tiles.c.total, 0) != batches.c.quantity_t,
                bounds.c.first != batches.c.serial_start,
                bounds.c.last != batches.c.serial_end,
                bounds.c.first.is_(None),
            )
        )
    )
    return [
        f"batch {r.id} ({r.serial_start}–{r.serial_end}) has ranges {r.first}–{r.last} "
        f"holding {r.tonnes} t"
        for r in rows(session, conserved)
    ]


def serials_never_overlap(session: Session) -> list[str]:
    one, two = _RANGES.alias("one"), _RANGES.alias("two")
    range_overlaps = sa.select(one.c.id.label("a"), two.c.id.label("b")).where(
        one.c.batch_id == two.c.batch_id,
        one.c.id < two.c.id,
        one.c.serial_start <= two.c.serial_end,
        two.c.serial_start <= one.c.serial_end,
    )
    first, second = _BATCHES.alias("first"), _BATCHES.alias("second")
    batch_overlaps = sa.select(first.c.id.label("a"), second.c.id.label("b")).where(
        first.c.registry_id == second.c.registry_id,
        first.c.id < second.c.id,
        first.c.serial_start <= second.c.serial_end,
        second.c.serial_start <= first.c.serial_end,
    )
    return [f"ranges {r.a} and {r.b} overlap" for r in rows(session, range_overlaps)] + [
        f"batches {r.a} and {r.b} overlap" for r in rows(session, batch_overlaps)
    ]


def retirements_hold_tonnes(session: Session) -> list[str]:
    ranges = _RANGES
    retired = totals(
        ranges.c.retirement_id,
        ranges.c.serial_end - ranges.c.serial_start + 1,
        ranges.c.status == "retired",
    )
    retirements = table(CreditRetirement)
    mismatched = (
        sa.select(retirements.c.id, retirements.c.quantity_t, sa.func.coalesce(retired.c.total, 0))
        .outerjoin(retired, retired.c.key == retirements.c.id)
        .where(sa.func.coalesce(retired.c.total, 0) != retirements.c.quantity_t)
    )
    return [
        f"retirement {r[0]} of {r[1]} t has {r[2]} t of serials" for r in rows(session, mismatched)
    ]


def allocations_within_retirements(session: Session) -> list[str]:
    """No retired range allocated beyond its grams, and its lot holds exactly the rest (parts of
    a reversed allocation hold nothing: the reversal gave their grams back to the lot)."""
    ranges, parts = _RANGES, table(CreditAllocationPart)
    allocated = totals(parts.c.range_id, parts.c.quantity_g, parts.c.reversal_entry_id.is_(None))
    grams = (ranges.c.serial_end - ranges.c.serial_start + 1) * GRAMS_PER_TONNE
    lots = table(Lot)
    over = (
        sa.select(
            ranges.c.id,
            ranges.c.retirement_id,
            grams.label("grams"),
            sa.func.coalesce(allocated.c.total, 0).label("allocated"),
            lots.c.amount_initial,
            lots.c.remaining,
        )
        .outerjoin(allocated, allocated.c.key == ranges.c.id)
        .outerjoin(lots, lots.c.id == ranges.c.lot_id)
        .where(
            ranges.c.status == "retired",
            sa.or_(
                sa.func.coalesce(allocated.c.total, 0) > grams,
                lots.c.amount_initial != grams,
                lots.c.remaining != grams - sa.func.coalesce(allocated.c.total, 0),
            ),
        )
    )
    return [
        f"retired range {r.id} (retirement {r.retirement_id}) of {r.grams} g: "
        f"{r.allocated} g allocated, lot {r.amount_initial} g holding {r.remaining} g"
        for r in rows(session, over)
    ]


def allocations_traced(session: Session) -> list[str]:
    parts = table(CreditAllocationPart)
    allocation_parts = totals(parts.c.allocation_id, parts.c.quantity_g)
    allocations = table(CreditAllocation)
    unbacked = (
        sa.select(
            allocations.c.id,
            allocations.c.quantity_g,
            sa.func.coalesce(allocation_parts.c.total, 0).label("parts"),
        )
        .outerjoin(allocation_parts, allocation_parts.c.key == allocations.c.id)
        .where(sa.func.coalesce(allocation_parts.c.total, 0) != allocations.c.quantity_g)
    )
    return [
        f"allocation {r.id} of {r.quantity_g} g has {r.parts} g of retired ranges"
        for r in rows(session, unbacked)
    ]


def grams_never_allocated_twice(session: Session) -> list[str]:
    """No two parts of one retired range share a gram, so each serial sums to at most one tonne:
    in offset order, each part starts at or after the furthest end before it (parts of reversed
    allocations hold no grams)."""
    every = table(CreditAllocationPart)
    parts = sa.select(every).where(every.c.reversal_entry_id.is_(None)).subquery()
    furthest = (
        sa.func.max(parts.c.end_g)
        .over(
            partition_by=parts.c.range_id,
            order_by=(parts.c.start_g, parts.c.id),
            rows=(None, -1),
        )
        .label("furthest_g")
    )
    ordered = sa.select(
        parts.c.id, parts.c.range_id, parts.c.start_g, parts.c.end_g, furthest
    ).subquery()
    shared = sa.select(ordered).where(ordered.c.start_g < ordered.c.furthest_g)
    return [
        f"part {r.id} of retired range {r.range_id} takes grams {r.start_g}–{r.end_g}, "
        f"some already allocated (up to {r.furthest_g})"
        for r in rows(session, shared)
    ]


def parts_inside_their_ranges(session: Session) -> list[str]:
    """Every part lies on its retired range's gram line, and names that range's retirement."""
    parts, ranges = table(CreditAllocationPart), _RANGES
    grams = (ranges.c.serial_end - ranges.c.serial_start + 1) * GRAMS_PER_TONNE
    outside = (
        sa.select(
            parts.c.id,
            parts.c.range_id,
            parts.c.start_g,
            parts.c.end_g,
            grams.label("grams"),
            parts.c.retirement_id,
            ranges.c.retirement_id.label("range_retirement_id"),
        )
        .join(ranges, ranges.c.id == parts.c.range_id)
        .where(
            sa.or_(
                parts.c.start_g < 0,
                parts.c.end_g <= parts.c.start_g,
                parts.c.end_g > grams,
                parts.c.quantity_g != parts.c.end_g - parts.c.start_g,
                ranges.c.status != "retired",
                ranges.c.retirement_id.is_(None),
                ranges.c.retirement_id != parts.c.retirement_id,
            )
        )
    )
    return [
        f"part {r.id} takes grams {r.start_g}–{r.end_g} of retired range {r.range_id} "
        f"({r.grams} g, retirement {r.range_retirement_id}) for retirement {r.retirement_id}"
        for r in rows(session, outside)
    ]


def _claimant_violations() -> AnySelect:
    """Allocation parts that break the claimant rule: the part's claimant is not its
    allocation's, or not its retirement's beneficiary, or either is unknown. A reversed part
    backs nothing and breaks nothing."""
    parts, allocations = table(CreditAllocationPart), table(CreditAllocation)
    retirements = table(CreditRetirement)
    return (
        sa.select(
            parts.c.id,
            parts.c.allocation_id,
            parts.c.retirement_id,
            allocations.c.claimant_organisation_id.label("claimant"),
            retirements.c.beneficiary_organisation_id.label("beneficiary"),
        )
        .join(allocations, allocations.c.id == parts.c.allocation_id)
        .join(retirements, retirements.c.id == parts.c.retirement_id)
        .where(
            parts.c.reversal_entry_id.is_(None),
            sa.or_(
                parts.c.claimant_organisation_id.is_(None),
                allocations.c.claimant_organisation_id.is_(None),
                retirements.c.beneficiary_organisation_id.is_(None),
                parts.c.claimant_organisation_id != allocations.c.claimant_organisation_id,
                parts.c.claimant_organisation_id != retirements.c.beneficiary_organisation_id,
            ),
        )
        .order_by(parts.c.id)
    )


def _claimant_rows(session: Session, *, recorded: bool) -> list[str]:
    violations = _claimant_violations().subquery()
    findings = table(CreditAllocationFinding)
    known = (
        sa.select(findings.c.id)
        .where(
            findings.c.allocation_id == violations.c.allocation_id,
            findings.c.retirement_id == violations.c.retirement_id,
        )
        .exists()
    )
    statement = sa.select(violations).where(known if recorded else ~known)
    return [
        f"allocation {r.allocation_id} (claimant {r.claimant}) draws on retirement "
        f"{r.retirement_id} (beneficiary {r.beneficiary}), part {r.id}"
        for r in rows(session, statement)
    ]


def allocations_claim_own_retirements(session: Session) -> list[str]:
    """Every allocation part draws on a retirement made for the allocation's claimant, unless a
    finding records it (those are reported by ``allocation_findings_known``)."""
    return _claimant_rows(session, recorded=False)


def allocation_findings_known(session: Session) -> list[str]:
    """Violations of the claimant rule recorded as findings: known, reported, not failures."""
    return _claimant_rows(session, recorded=True)


def reversed_parts_reversed(session: Session) -> list[str]:
    """A part marked reversed names the entry that reverses its allocation's entry, and an
    allocation's parts are reversed all together or not at all."""
    parts, allocations, entries = table(CreditAllocationPart), table(CreditAllocation), table(Entry)
    wrong = (
        sa.select(parts.c.id, parts.c.allocation_id, parts.c.reversal_entry_id)
        .join(allocations, allocations.c.id == parts.c.allocation_id)
        .outerjoin(entries, entries.c.id == parts.c.reversal_entry_id)
        .where(
            parts.c.reversal_entry_id.is_not(None),
            sa.or_(
                entries.c.id.is_(None),
                entries.c.reverses_entry_id.is_(None),
                entries.c.reverses_entry_id != allocations.c.entry_id,
            ),
        )
    )
    split = (
        sa.select(parts.c.allocation_id)
        .group_by(parts.c.allocation_id)
        .having(sa.func.count(sa.distinct(sa.func.coalesce(parts.c.reversal_entry_id, 0))) > 1)
    )
    return [
        f"part {r.id} of allocation {r.allocation_id} is marked reversed by entry "
        f"{r.reversal_entry_id}, which does not reverse the allocation"
        for r in rows(session, wrong)
    ] + [f"allocation {r.allocation_id} is only partly reversed" for r in rows(session, split)]
