"""The audit: re-check every ledger invariant from the rows, independently of the code that
wrote them. ``tanhui ledger verify`` prints what this returns and exits non-zero on any finding.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.canonical import canonical_json
from ledger.credit_models import (
    CreditAllocation,
    CreditAllocationPart,
    CreditBatch,
    CreditRetirement,
    CreditSerialRange,
)
from ledger.models import (
    Account,
    Entry,
    Hold,
    LogLeaf,
    LogPending,
    Lot,
    LotMovement,
    Posting,
)
from ledger.note import Verifier
from ledger.tlog import log_verify
from service.base.units import GRAMS_PER_TONNE

#: Findings listed per check at most; the count is always reported.
FINDINGS_PER_CHECK_MAX = 20


@dataclass(frozen=True)
class Report:
    checks: dict[str, int]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _totals(
    key: sa.ColumnElement, amount: sa.ColumnElement, *where: sa.ColumnElement
) -> sa.Subquery:
    """``key`` and ``total`` = sum of ``amount`` per key: the other side of each comparison."""
    return (
        sa.select(key.label("key"), sa.func.sum(amount).label("total"))
        .where(*where)
        .group_by(key)
        .subquery()
    )


def _rows(session: Session, statement: sa.Select) -> list[sa.Row]:
    return list(session.execute(statement.limit(FINDINGS_PER_CHECK_MAX)))


def ledger_verify(
    session: Session, *, verifier: Verifier | None = None, origin: str | None = None
) -> Report:
    problems: list[str] = []
    checks: dict[str, int] = {}

    def check(name: str, found: list[str]) -> None:
        checks[name] = len(found)
        problems.extend(f"{name}: {line}" for line in found)

    entry_sums = (
        sa.select(Posting.entry_id, Posting.asset, sa.func.sum(Posting.amount).label("total"))
        .group_by(Posting.entry_id, Posting.asset)
        .having(sa.func.sum(Posting.amount) != 0)
    )
    check(
        "entries balance per asset",
        [f"entry {r.entry_id} {r.asset} sums to {r.total}" for r in _rows(session, entry_sums)],
    )

    asset_sums = (
        sa.select(Posting.asset, sa.func.sum(Posting.amount).label("total"))
        .group_by(Posting.asset)
        .having(sa.func.sum(Posting.amount) != 0)
    )
    check(
        "assets balance overall",
        [f"{r.asset} postings sum to {r.total}" for r in _rows(session, asset_sums)],
    )

    check(
        "postings match their account's asset",
        [
            f"posting {r.id} is {r.asset} on a {r.account_asset} account"
            for r in _rows(
                session,
                sa.select(Posting.id, Posting.asset, Account.asset.label("account_asset"))
                .join(Account, Account.id == Posting.account_id)
                .where(Posting.asset != Account.asset),
            )
        ],
    )

    entry_postings = (
        sa.select(Entry.id, sa.func.count(Posting.id).label("count"))
        .outerjoin(Posting, Posting.entry_id == Entry.id)
        .group_by(Entry.id)
        .having(sa.func.count(Posting.id) < 2)
    )
    check(
        "entries have postings",
        [f"entry {r.id} has {r.count} postings" for r in _rows(session, entry_postings)],
    )

    sums = _totals(Posting.account_id, Posting.amount)
    stored = (
        sa.select(Account.code, Account.balance, sa.func.coalesce(sums.c.total, 0).label("total"))
        .outerjoin(sums, sums.c.key == Account.id)
        .where(~Account.allow_negative, Account.balance != sa.func.coalesce(sums.c.total, 0))
    )
    check(
        "stored balances equal their postings",
        [f"{r.code} stores {r.balance}, postings sum to {r.total}" for r in _rows(session, stored)],
    )

    check(
        "no account below zero",
        [
            f"{r.code} balance {r.balance} reserved {r.reserved}"
            for r in _rows(
                session,
                sa.select(Account.code, Account.balance, Account.reserved).where(
                    ~Account.allow_negative,
                    sa.or_(
                        Account.balance < 0,
                        Account.reserved < 0,
                        Account.balance - Account.reserved < 0,
                    ),
                ),
            )
        ],
    )
    check(
        "issuers keep no stored balance",
        [
            f"{r.code} stores {r.balance}/{r.reserved}"
            for r in _rows(
                session,
                sa.select(Account.code, Account.balance, Account.reserved).where(
                    Account.allow_negative, sa.or_(Account.balance != 0, Account.reserved != 0)
                ),
            )
        ],
    )

    held = _totals(Hold.account_id, Hold.amount, Hold.status == "pending")
    reserved = (
        sa.select(Account.code, Account.reserved, sa.func.coalesce(held.c.total, 0).label("held"))
        .outerjoin(held, held.c.key == Account.id)
        .where(Account.reserved != sa.func.coalesce(held.c.total, 0))
    )
    check(
        "reservations equal pending holds",
        [
            f"{r.code} reserves {r.reserved}, pending holds {r.held}"
            for r in _rows(session, reserved)
        ],
    )

    lot_sums = _totals(Lot.account_id, Lot.remaining)
    lots_vs_balance = (
        sa.select(
            Account.code, Account.balance, sa.func.coalesce(lot_sums.c.total, 0).label("lots")
        )
        .outerjoin(lot_sums, lot_sums.c.key == Account.id)
        .where(Account.uses_lots, Account.balance != sa.func.coalesce(lot_sums.c.total, 0))
    )
    check(
        "lot remainders sum to balances",
        [
            f"{r.code} balance {r.balance}, lots hold {r.lots}"
            for r in _rows(session, lots_vs_balance)
        ],
    )

    moved = _totals(LotMovement.lot_id, LotMovement.amount)
    lot_history = (
        sa.select(
            Lot.id,
            Lot.remaining,
            Lot.amount_initial,
            sa.func.coalesce(moved.c.total, 0).label("moved"),
        )
        .outerjoin(moved, moved.c.key == Lot.id)
        .where(
            sa.or_(
                Lot.remaining != sa.func.coalesce(moved.c.total, 0),
                Lot.remaining < 0,
                Lot.remaining > Lot.amount_initial,
            )
        )
    )
    check(
        "lots equal their movements",
        [
            f"lot {r.id} holds {r.remaining} of {r.amount_initial}, movements sum to {r.moved}"
            for r in _rows(session, lot_history)
        ],
    )

    posting_moves = _totals(LotMovement.posting_id, LotMovement.amount)
    lot_postings = (
        sa.select(
            Posting.id, Posting.amount, sa.func.coalesce(posting_moves.c.total, 0).label("moved")
        )
        .join(Account, Account.id == Posting.account_id)
        .outerjoin(posting_moves, posting_moves.c.key == Posting.id)
        .where(Account.uses_lots, Posting.amount != sa.func.coalesce(posting_moves.c.total, 0))
    )
    check(
        "lot account postings are fully in lots",
        [
            f"posting {r.id} of {r.amount} moved {r.moved} through lots"
            for r in _rows(session, lot_postings)
        ],
    )

    original = sa.orm.aliased(Posting)
    reversal = sa.orm.aliased(Posting)
    reversal_sums = sa.select(Entry.id, Entry.reverses_entry_id).where(
        Entry.reverses_entry_id.is_not(None)
    )
    mismatched = []
    for entry_id, reversed_id in session.execute(reversal_sums.limit(10_000)):
        mine = sorted(
            session.execute(
                sa.select(reversal.account_id, reversal.amount).where(reversal.entry_id == entry_id)
            ).all()
        )
        theirs = sorted(
            session.execute(
                sa.select(original.account_id, -original.amount).where(
                    original.entry_id == reversed_id
                )
            ).all()
        )
        if mine != theirs:
            mismatched.append(f"entry {entry_id} does not mirror entry {reversed_id}")
    check("reversals mirror their entries", mismatched[:FINDINGS_PER_CHECK_MAX])

    check("every entry is logged", _entries_logged(session))
    for name, found in _credit_findings(session):
        check(name, found)

    if verifier is not None and origin is not None:
        check(
            "transparency log",
            log_verify(session, verifier=verifier, origin=origin)[:FINDINGS_PER_CHECK_MAX],
        )
    return Report(checks, problems)


#: Entries checked against their leaves per round trip, so memory stays flat as the ledger grows.
ENTRIES_PER_VERIFY_CHUNK = 5_000


def _entries_logged(session: Session) -> list[str]:
    """Each entry is a leaf (or waits for the sequencer), and its leaf says what it did.

    Walks the entries in id order, a chunk at a time, fetching only that chunk's postings and
    leaves.
    """
    found: list[str] = []
    codes = dict(session.execute(sa.select(Account.id, Account.code)).all())
    after = 0
    while len(found) < FINDINGS_PER_CHECK_MAX:
        entries = session.execute(
            sa.select(Entry.id, Entry.idempotency_key, Entry.kind, Entry.created_at)
            .where(Entry.id > after)
            .order_by(Entry.id)
            .limit(ENTRIES_PER_VERIFY_CHUNK)
        ).all()
        if not entries:
            break
        low, high = entries[0].id, entries[-1].id
        after = high
        sources = [str(entry.id) for entry in entries]
        logged = {}
        for table in (LogLeaf, LogPending):
            logged.update(
                session.execute(
                    sa.select(table.source_id, table.data).where(
                        table.kind == "ledger.entry", table.source_id.in_(sources)
                    )
                ).all()
            )
        postings: dict[int, list[list]] = {}
        for row in session.execute(
            sa.select(Posting.entry_id, Posting.account_id, Posting.asset, Posting.amount)
            .where(Posting.entry_id.between(low, high))
            .order_by(Posting.id)
        ):
            postings.setdefault(row.entry_id, []).append(
                [codes[row.account_id], row.asset, row.amount]
            )
        for entry in entries:
            data = logged.get(str(entry.id))
            if data is None:
                found.append(f"entry {entry.id} is not in the log")
            elif data != canonical_json(
                {
                    "type": "ledger.entry",
                    "id": entry.id,
                    "key": entry.idempotency_key,
                    "kind": entry.kind,
                    "postings": postings.get(entry.id, []),
                    "created_at": entry.created_at.isoformat(),
                }
            ):
                found.append(f"entry {entry.id} differs from its log leaf")
    return found[:FINDINGS_PER_CHECK_MAX]


def _credit_findings(session: Session) -> list[tuple[str, list[str]]]:
    """The sink-credit invariants: serials conserved and never overlapping, each retirement's
    tonnes in its retired ranges, and no retired range (so no retirement) over-allocated."""
    batches, ranges = CreditBatch.__table__, CreditSerialRange.__table__
    findings = []

    tiles = _totals(ranges.c.batch_id, ranges.c.serial_end - ranges.c.serial_start + 1)
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
    findings.append(
        (
            "credit serials are conserved",
            [
                f"batch {r.id} ({r.serial_start}–{r.serial_end}) has ranges {r.first}–{r.last} "
                f"holding {r.tonnes} t"
                for r in _rows(session, conserved)
            ],
        )
    )

    one, two = ranges.alias("one"), ranges.alias("two")
    range_overlaps = sa.select(one.c.id.label("a"), two.c.id.label("b")).where(
        one.c.batch_id == two.c.batch_id,
        one.c.id < two.c.id,
        one.c.serial_start <= two.c.serial_end,
        two.c.serial_start <= one.c.serial_end,
    )
    first, second = batches.alias("first"), batches.alias("second")
    batch_overlaps = sa.select(first.c.id.label("a"), second.c.id.label("b")).where(
        first.c.registry_id == second.c.registry_id,
        first.c.id < second.c.id,
        first.c.serial_start <= second.c.serial_end,
        second.c.serial_start <= first.c.serial_end,
    )
    findings.append(
        (
            "credit serials never overlap",
            [f"ranges {r.a} and {r.b} overlap" for r in _rows(session, range_overlaps)]
            + [f"batches {r.a} and {r.b} overlap" for r in _rows(session, batch_overlaps)],
        )
    )

    retired = _totals(
        ranges.c.retirement_id,
        ranges.c.serial_end - ranges.c.serial_start + 1,
        ranges.c.status == "retired",
    )
    retirements = CreditRetirement.__table__
    mismatched = (
        sa.select(retirements.c.id, retirements.c.quantity_t, sa.func.coalesce(retired.c.total, 0))
        .outerjoin(retired, retired.c.key == retirements.c.id)
        .where(sa.func.coalesce(retired.c.total, 0) != retirements.c.quantity_t)
    )
    findings.append(
        (
            "retirements hold their tonnes",
            [
                f"retirement {r[0]} of {r[1]} t has {r[2]} t of serials"
                for r in _rows(session, mismatched)
            ],
        )
    )

    parts = CreditAllocationPart.__table__
    allocated = _totals(parts.c.range_id, parts.c.quantity_g)
    grams = (ranges.c.serial_end - ranges.c.serial_start + 1) * GRAMS_PER_TONNE
    lots = Lot.__table__
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
    findings.append(
        (
            "allocations stay within retirements",
            [
                f"retired range {r.id} (retirement {r.retirement_id}) of {r.grams} g: "
                f"{r.allocated} g allocated, lot {r.amount_initial} g holding {r.remaining} g"
                for r in _rows(session, over)
            ],
        )
    )

    allocation_parts = _totals(parts.c.allocation_id, parts.c.quantity_g)
    allocations = CreditAllocation.__table__
    unbacked = (
        sa.select(
            allocations.c.id,
            allocations.c.quantity_g,
            sa.func.coalesce(allocation_parts.c.total, 0).label("parts"),
        )
        .outerjoin(allocation_parts, allocation_parts.c.key == allocations.c.id)
        .where(sa.func.coalesce(allocation_parts.c.total, 0) != allocations.c.quantity_g)
    )
    findings.append(
        (
            "allocations trace to retirements",
            [
                f"allocation {r.id} of {r.quantity_g} g has {r.parts} g of retired ranges"
                for r in _rows(session, unbacked)
            ],
        )
    )
    return findings
