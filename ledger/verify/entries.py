"""The audit's checks of entries, balances, holds and lots: each re-derives one invariant from the
rows, independently of the code that wrote them, and answers what it found (at most
``FINDINGS_PER_CHECK_MAX`` lines)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from ledger.models import Account, Entry, Hold, LogLeaf, LogPending, Lot, LotMovement, Posting
from ledger.tlog.canonical import canonical_json
from ledger.verify.common import FINDINGS_PER_CHECK_MAX, rows, totals

#: Entries checked against their leaves per round trip, so memory stays flat as the ledger grows.
ENTRIES_PER_VERIFY_CHUNK = 5_000
#: Reversals compared with the entries they mirror, at most.
REVERSALS_CHECKED_MAX = 10_000


def entries_balance(session: Session) -> list[str]:
    entry_sums = (
        sa.select(Posting.entry_id, Posting.asset, sa.func.sum(Posting.amount).label("total"))
        .group_by(Posting.entry_id, Posting.asset)
        .having(sa.func.sum(Posting.amount) != 0)
    )
    return [f"entry {r.entry_id} {r.asset} sums to {r.total}" for r in rows(session, entry_sums)]


def assets_balance(session: Session) -> list[str]:
    asset_sums = (
        sa.select(Posting.asset, sa.func.sum(Posting.amount).label("total"))
        .group_by(Posting.asset)
        .having(sa.func.sum(Posting.amount) != 0)
    )
    return [f"{r.asset} postings sum to {r.total}" for r in rows(session, asset_sums)]


def postings_match_assets(session: Session) -> list[str]:
    mismatched = (
        sa.select(Posting.id, Posting.asset, Account.asset.label("account_asset"))
        .join(Account, Account.id == Posting.account_id)
        .where(Posting.asset != Account.asset)
    )
    return [
        f"posting {r.id} is {r.asset} on a {r.account_asset} account"
        for r in rows(session, mismatched)
    ]


def entries_have_postings(session: Session) -> list[str]:
    entry_postings = (
        sa.select(Entry.id, sa.func.count(Posting.id).label("count"))
        .outerjoin(Posting, Posting.entry_id == Entry.id)
        .group_by(Entry.id)
        .having(sa.func.count(Posting.id) < 2)
    )
    return [f"entry {r.id} has {r.count} postings" for r in rows(session, entry_postings)]


def balances_stored(session: Session) -> list[str]:
    sums = totals(Posting.account_id, Posting.amount)
    stored = (
        sa.select(Account.code, Account.balance, sa.func.coalesce(sums.c.total, 0).label("total"))
        .outerjoin(sums, sums.c.key == Account.id)
        .where(~Account.allow_negative, Account.balance != sa.func.coalesce(sums.c.total, 0))
    )
    return [
        f"{r.code} stores {r.balance}, postings sum to {r.total}" for r in rows(session, stored)
    ]


def balances_not_negative(session: Session) -> list[str]:
    negative = sa.select(Account.code, Account.balance, Account.reserved).where(
        ~Account.allow_negative,
        sa.or_(
            Account.balance < 0,
            Account.reserved < 0,
            Account.balance - Account.reserved < 0,
        ),
    )
    return [f"{r.code} balance {r.balance} reserved {r.reserved}" for r in rows(session, negative)]


def issuers_store_nothing(session: Session) -> list[str]:
    storing = sa.select(Account.code, Account.balance, Account.reserved).where(
        Account.allow_negative, sa.or_(Account.balance != 0, Account.reserved != 0)
    )
    return [f"{r.code} stores {r.balance}/{r.reserved}" for r in rows(session, storing)]


def reservations_held(session: Session) -> list[str]:
    held = totals(Hold.account_id, Hold.amount, Hold.status == "pending")
    reserved = (
        sa.select(Account.code, Account.reserved, sa.func.coalesce(held.c.total, 0).label("held"))
        .outerjoin(held, held.c.key == Account.id)
        .where(Account.reserved != sa.func.coalesce(held.c.total, 0))
    )
    return [
        f"{r.code} reserves {r.reserved}, pending holds {r.held}" for r in rows(session, reserved)
    ]


def lots_sum_to_balances(session: Session) -> list[str]:
    lot_sums = totals(Lot.account_id, Lot.remaining)
    lots_vs_balance = (
        sa.select(
            Account.code, Account.balance, sa.func.coalesce(lot_sums.c.total, 0).label("lots")
        )
        .outerjoin(lot_sums, lot_sums.c.key == Account.id)
        .where(Account.uses_lots, Account.balance != sa.func.coalesce(lot_sums.c.total, 0))
    )
    return [
        f"{r.code} balance {r.balance}, lots hold {r.lots}" for r in rows(session, lots_vs_balance)
    ]


def lots_equal_movements(session: Session) -> list[str]:
    moved = totals(LotMovement.lot_id, LotMovement.amount)
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
    return [
        f"lot {r.id} holds {r.remaining} of {r.amount_initial}, movements sum to {r.moved}"
        for r in rows(session, lot_history)
    ]


def lot_postings_in_lots(session: Session) -> list[str]:
    posting_moves = totals(LotMovement.posting_id, LotMovement.amount)
    lot_postings = (
        sa.select(
            Posting.id, Posting.amount, sa.func.coalesce(posting_moves.c.total, 0).label("moved")
        )
        .join(Account, Account.id == Posting.account_id)
        .outerjoin(posting_moves, posting_moves.c.key == Posting.id)
        .where(Account.uses_lots, Posting.amount != sa.func.coalesce(posting_moves.c.total, 0))
    )
    return [
        f"posting {r.id} of {r.amount} moved {r.moved} through lots"
        for r in rows(session, lot_postings)
    ]


def reversals_mirror(session: Session) -> list[str]:
    original = aliased(Posting)
    reversal = aliased(Posting)
    reversals = sa.select(Entry.id, Entry.reverses_entry_id).where(
        Entry.reverses_entry_id.is_not(None)
    )
    mismatched = []
    for entry_id, reversed_id in session.execute(reversals.limit(REVERSALS_CHECKED_MAX)):
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
    return mismatched[:FINDINGS_PER_CHECK_MAX]


def entries_logged(session: Session) -> list[str]:
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
        logged = _leaves(session, [str(entry.id) for entry in entries])
        postings: dict[int, list[list[object]]] = {}
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


def _leaves(session: Session, sources: list[str]) -> dict[str, str]:
    """The log data of these entries, sequenced or pending, by entry id."""
    logged: dict[str, str] = {}
    for table in (LogLeaf, LogPending):
        logged.update(
            session.execute(
                sa.select(table.source_id, table.data).where(
                    table.kind == "ledger.entry", table.source_id.in_(sources)
                )
            ).all()
        )
    return logged
