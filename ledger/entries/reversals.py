"""Reversals: the mirror image of an entry, linked to it. Entries are never updated or deleted;
a correction is a new entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.entries.posting import entries_post
from ledger.entries.requests import EntryRequest, EntryResult, PostingRequest
from ledger.errors import ErrorCode, LedgerError
from ledger.models import Account, Entry, Lot, LotMovement, Posting


def entry_reverse(
    session: Session,
    *,
    entry_id: int,
    key: str,
    now: datetime,
    metadata: Mapping[str, Any] | None = None,
    refill_lots: bool = False,
) -> EntryResult:
    """Post the mirror image of an entry, linked to it. The original stays as it was.

    A reversed credit to a lot account is drawn back from the lot it made when that lot still
    holds it (FIFO otherwise); a reversed debit becomes a new lot, expiring with the earliest lot
    the debit drew on, or with ``refill_lots`` goes back into the one lot it drew on (a debit
    that drew on several is refused then: its mirror would be several postings).
    """
    original = session.get(Entry, entry_id)
    if original is None:
        raise LedgerError(ErrorCode.ENTRY_NOT_FOUND, str(entry_id), field="entry_id")
    rows = session.execute(
        sa.select(Posting.id, Account.code, Posting.amount, Account.uses_lots)
        .join(Account, Account.id == Posting.account_id)
        .where(Posting.entry_id == entry_id)
        .order_by(Posting.id)
    ).all()
    postings = []
    for posting_id, code, amount, uses_lots in rows:
        lot_id = expires_at = None
        if uses_lots:
            moves = session.execute(
                sa.select(LotMovement.lot_id, LotMovement.amount, Lot.remaining, Lot.expires_at)
                .join(Lot, Lot.id == LotMovement.lot_id)
                .where(LotMovement.posting_id == posting_id)
            ).all()
            if amount > 0 and moves and moves[0].remaining >= amount:
                lot_id = moves[0].lot_id
            if amount < 0:
                expiries = [m.expires_at for m in moves if m.expires_at is not None]
                expires_at = min(expiries) if expiries else None
        provenance = {"reversal_of": entry_id} if uses_lots and amount < 0 else None
        if refill_lots and uses_lots and amount < 0:
            if len(moves) != 1:
                raise LedgerError(ErrorCode.LOT_INVALID, f"posting {posting_id} drew on "
                                  f"{len(moves)} lots", field="entry_id")  # fmt: skip
            postings.append(PostingRequest(code, -amount, refill_lot_id=moves[0].lot_id))
            continue
        postings.append(
            PostingRequest(
                code, -amount, lot_id=lot_id, expires_at=expires_at, provenance=provenance
            )
        )
    request = EntryRequest(
        key=key,
        kind="reversal",
        postings=postings,
        metadata={"reverses": entry_id, **(metadata or {})},
    )
    already = session.scalar(sa.select(Entry.id).where(Entry.reverses_entry_id == entry_id))
    if already is not None:
        existing = session.get(Entry, already)
        if existing is not None and existing.idempotency_key == key:
            return entries_post(session, [request], now=now, reverses={key: entry_id})[0]
        raise LedgerError(ErrorCode.ALREADY_REVERSED, str(entry_id), field="entry_id")
    return entries_post(session, [request], now=now, reverses={key: entry_id})[0]
