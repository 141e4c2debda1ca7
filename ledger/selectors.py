"""What the console may read of the journal: entries searched by key, kind or account, their
postings, and the kinds of entry there are. Read-only; functions never write.

The journal's tables are the ledger's own: the audit page reads them through these functions and
imports no model module. The list's statement is returned unexecuted, because the caller's pager
runs it twice (the page's rows and the total); the others take the ``session`` first.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.models import Account, Entry, LogCheckpoint, LogPending, LogState, Posting


def entries(*, key: str = "", kind: str = "", account: str = "") -> sa.Select[Entry]:
    """Entries, newest first: whose idempotency key contains ``key``, of ``kind``, and with a
    posting to the account coded ``account``, each only when given (an empty string matches
    every entry)."""
    statement = sa.select(Entry).order_by(Entry.id.desc())
    if key:
        statement = statement.where(Entry.idempotency_key.contains(key, autoescape=True))
    if kind:
        statement = statement.where(Entry.kind == kind)
    if account:
        statement = statement.where(
            Entry.id.in_(
                sa.select(Posting.entry_id)
                .join(Account, Account.id == Posting.account_id)
                .where(Account.code == account)
            )
        )
    return statement


def postings_of(
    session: Session, *, entry_ids: Sequence[int]
) -> dict[int, list[tuple[str, str, int]]]:
    """Each entry's postings as (account code, asset, amount) in the order they were posted,
    by entry id; an entry with no postings among ``entry_ids`` is absent."""
    postings: dict[int, list[tuple[str, str, int]]] = {}
    if entry_ids:
        for posting, code in session.execute(
            sa.select(Posting, Account.code)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id.in_(entry_ids))
            .order_by(Posting.id)
        ):
            postings.setdefault(posting.entry_id, []).append((code, posting.asset, posting.amount))
    return postings


def entry_kinds(session: Session) -> list[str]:
    """Every kind of entry the journal holds, in alphabetical order (a search's choices)."""
    return list(session.scalars(sa.select(Entry.kind).distinct().order_by(Entry.kind)))


def ledger_figures(session: Session) -> dict[str, Any]:
    """What a backup's manifest records of the ledger and the log: counts of entries and
    postings, the log's tree size and pending events, and the latest signed checkpoint (its size,
    root hash in base64 and signed note), or ``None`` before the first."""
    checkpoint = session.scalars(
        sa.select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)
    ).first()
    return {
        "entries": session.scalar(sa.select(sa.func.count()).select_from(Entry)) or 0,
        "postings": session.scalar(sa.select(sa.func.count()).select_from(Posting)) or 0,
        "log_tree_size": session.scalar(sa.select(LogState.size).where(LogState.id == 1)) or 0,
        "log_pending": session.scalar(sa.select(sa.func.count()).select_from(LogPending)) or 0,
        "checkpoint": None
        if checkpoint is None
        else {
            "size": checkpoint.size,
            "root_hash": base64.b64encode(checkpoint.root_hash).decode(),
            "note": checkpoint.note,
        },
    }
