"""Posting entries: the write every movement of value goes through.

Sign convention: a positive posting amount increases its account's balance; every entry's postings
sum to zero per asset. Issuer and external accounts (``allow_negative``) keep no stored balance, so
no write ever locks them.

Every write takes the session first, flushes, and never commits. Locks: a write locks the stored
balance rows of the accounts it touches, in ascending id order (so concurrent writers cannot
deadlock on them), and an account's lots only while holding that account's row. On PostgreSQL
under READ COMMITTED this is enough: balance checks are conditional UPDATEs on the locked rows.

Idempotency: every entry carries a client key. Repeating a key with the same request returns the
original result with ``Outcome.EXISTS``; with a different request it raises
``idempotency_conflict`` naming the first field that differs.

Two paths write the same rows: the portable one here, a few statements every database runs, and
on PostgreSQL one statement (``ledger.entries.postgresql``). ``ledger.paths.one_statement`` picks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger import paths
from ledger.entries import limits, postgresql
from ledger.entries.accounts import accounts_resolve
from ledger.entries.idempotency import existing_entries
from ledger.entries.requests import (
    AccountInfo,
    EntryRequest,
    EntryResult,
    LotUse,
    PostingRequest,
    entry_check,
    entry_leaf_data,
)
from ledger.entries.sql import among, statements
from ledger.errors import ErrorCode, LedgerError, Outcome
from ledger.models import Account, Lot, LotMovement, table
from service.base.exceptions import FieldMessage

#: Above this many accounts, an entry batch locks its balances in one statement and credits them
#: in one batched UPDATE (a distribution); below it, each balance is one statement.
BALANCES_ONE_BY_ONE_MAX = 16

#: A posting of a lot account: (request index, posting position, posting, posting id, entry id).
_LotLeg = tuple[int, int, PostingRequest, int, int]


def entry_post(session: Session, request: EntryRequest, *, now: datetime) -> EntryResult:
    """Post one entry (or return the original answer to its key)."""
    return entries_post(session, [request], now=now)[0]


def entries_post(
    session: Session,
    requests: Sequence[EntryRequest],
    *,
    now: datetime,
    hold_ids: Mapping[str, int] | None = None,
    reverses: Mapping[str, int] | None = None,
) -> list[EntryResult]:
    """Post many entries at once, all or nothing: the batch API for distributions.

    On PostgreSQL, entries without lot accounts, or whose lot-account legs only open lots, go
    through one statement (``ledger.entries.postgresql``); every other database, and PostgreSQL
    inside ``ledger.paths.portable_path``, takes the multi-statement path, which writes the same
    rows (the test suite compares them).
    """
    if len(requests) > limits.ENTRIES_PER_BATCH_MAX:
        raise LedgerError(
            ErrorCode.BATCH_TOO_LARGE,
            FieldMessage("at most {entries_max} entries", entries_max=limits.ENTRIES_PER_BATCH_MAX),
        )
    keys = [request.key for request in requests]
    if len(set(keys)) != len(keys):
        raise LedgerError(ErrorCode.ENTRY_INVALID, "a batch repeats a key", field="key")
    accounts = accounts_resolve(
        session, {posting.account for request in requests for posting in request.postings}
    )
    canonical = [entry_check(request, accounts) for request in requests]

    hold_ids, reverses = hold_ids or {}, reverses or {}
    if paths.one_statement(session) and postgresql.fits(requests, accounts):
        prepared = postgresql.statement_prepare(
            requests, canonical, accounts, now, hold_ids, reverses
        )
        inserted, opened = postgresql.statement_run(session, prepared, accounts)
        return postgresql.results(session, requests, canonical, accounts, inserted, opened)
    if session.connection().get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        raise LedgerError(ErrorCode.ENTRY_INVALID, "entries with lots need a transaction")
    return _portable_post(session, requests, canonical, accounts, now, hold_ids, reverses)


def _portable_post(
    session: Session,
    requests: Sequence[EntryRequest],
    canonical: Sequence[dict[str, Any]],
    accounts: Mapping[str, AccountInfo],
    now: datetime,
    hold_ids: Mapping[str, int],
    reverses: Mapping[str, int],
) -> list[EntryResult]:
    """Claim the keys in one INSERT, answer those that existed, and write the rest."""
    rows = [
        {
            "idempotency_key": request.key,
            "kind": request.kind,
            "request": canonical[index],
            "hold_id": hold_ids.get(request.key),
            "reverses_entry_id": reverses.get(request.key),
            "created_at": now,
        }
        for index, request in enumerate(requests)
    ]
    connection = session.connection()
    inserted = dict(connection.execute(statements(session).entry_insert, rows).all())
    results: list[EntryResult | None] = [None] * len(requests)
    existing_keys = [request.key for request in requests if request.key not in inserted]
    if existing_keys:
        for index, result in existing_entries(session, requests, canonical, existing_keys):
            results[index] = result
    fresh = [index for index, request in enumerate(requests) if request.key in inserted]
    if fresh:
        posted = _apply(
            session,
            [requests[i] for i in fresh],
            [inserted[requests[i].key] for i in fresh],
            accounts,
            now,
        )
        for index, result in zip(fresh, posted, strict=True):
            results[index] = result
    return [result for result in results if result is not None]


def _apply(
    session: Session,
    requests: Sequence[EntryRequest],
    entry_ids: Sequence[int],
    accounts: Mapping[str, AccountInfo],
    now: datetime,
) -> list[EntryResult]:
    """Write postings and log rows first, then lock and update balances, then move lots: the
    balance rows (the only contended ones) stay locked for as short a time as possible."""
    lots_needed = any(accounts[p.account].uses_lots for r in requests for p in r.postings)
    posting_ids = _postings_insert(session, requests, entry_ids, accounts, returning=lots_needed)
    session.connection().execute(
        statements(session).pending_insert,
        [
            {
                "kind": "ledger.entry",
                "source_id": str(entry_id),
                "data": entry_leaf_data(entry_id, request, accounts, now),
                "created_at": now,
            }
            for request, entry_id in zip(requests, entry_ids, strict=True)
        ],
    )

    deltas: dict[int, int] = defaultdict(int)
    for request in requests:
        for posting in request.postings:
            info = accounts[posting.account]
            if not info.allow_negative:
                deltas[info.id] += posting.amount
    _balances_apply(session, deltas, accounts)

    uses: list[list[LotUse]] = [[] for _ in requests]
    if lots_needed:
        _lots_move(session, requests, entry_ids, posting_ids, accounts, now, uses)
    return [
        EntryResult(
            Outcome.CREATED,
            entry_id,
            request.key,
            request.kind,
            tuple((p.account, p.amount) for p in request.postings),
            tuple(uses[index]),
        )
        for index, (request, entry_id) in enumerate(zip(requests, entry_ids, strict=True))
    ]


def _postings_insert(
    session: Session,
    requests: Sequence[EntryRequest],
    entry_ids: Sequence[int],
    accounts: Mapping[str, AccountInfo],
    *,
    returning: bool,
) -> list[int]:
    """Insert every posting of the entries; answer their ids, in order, when ``returning``."""
    posting_rows = [
        {
            "entry_id": entry_id,
            "account_id": accounts[p.account].id,
            "asset": accounts[p.account].asset,
            "amount": p.amount,
        }
        for request, entry_id in zip(requests, entry_ids, strict=True)
        for p in request.postings
    ]
    connection = session.connection()
    if not returning:
        connection.execute(statements(session).posting_insert, posting_rows)
        return []
    inserted = connection.execute(statements(session).posting_insert_returning, posting_rows)
    return list(inserted.scalars())


def _lots_move(
    session: Session,
    requests: Sequence[EntryRequest],
    entry_ids: Sequence[int],
    posting_ids: Sequence[int],
    accounts: Mapping[str, AccountInfo],
    now: datetime,
    uses: list[list[LotUse]],
) -> None:
    """Every credit to a lot account opens a lot (written in two batched statements); debits
    then draw on lots, FIFO by expiry, under the balance locks already taken. Fills ``uses``."""
    fills: list[_LotLeg] = []
    draws: list[_LotLeg] = []
    offset = 0
    for index, (request, entry_id) in enumerate(zip(requests, entry_ids, strict=True)):
        for position, posting in enumerate(request.postings):
            if accounts[posting.account].uses_lots:
                item = (index, position, posting, posting_ids[offset + position], entry_id)
                (fills if posting.amount > 0 else draws).append(item)
        offset += len(request.postings)
    refills = [fill for fill in fills if fill[2].refill_lot_id is not None]
    fills = [fill for fill in fills if fill[2].refill_lot_id is None]
    if fills:
        _lots_open(session, fills, accounts, now, uses)
    for index, position, posting, posting_id, _ in refills:
        uses[index].append(_lot_refill(session, accounts[posting.account], posting, position,
                                       posting_id))  # fmt: skip
    for index, position, posting, posting_id, _ in draws:
        info = accounts[posting.account]
        uses[index].extend(_lots_draw(session, info, posting, position, posting_id, now))
    for index_uses in uses:
        index_uses.sort(key=lambda use: use.posting_index)


def _lots_open(
    session: Session,
    fills: Sequence[_LotLeg],
    accounts: Mapping[str, AccountInfo],
    now: datetime,
    uses: list[list[LotUse]],
) -> None:
    """Open a lot for each credit of a lot account, with the movement that fills it."""
    connection = session.connection()
    lot_ids = (
        connection.execute(
            statements(session).lot_insert_returning,
            [
                {
                    "account_id": accounts[posting.account].id,
                    "entry_id": entry_id,
                    "asset": accounts[posting.account].asset,
                    "amount_initial": posting.amount,
                    "remaining": posting.amount,
                    "expires_at": posting.expires_at,
                    "provenance": dict(posting.provenance or {}),
                    "created_at": now,
                }
                for _, _, posting, _, entry_id in fills
            ],
        )
        .scalars()
        .all()
    )
    connection.execute(
        statements(session).movement_insert,
        [
            {"posting_id": posting_id, "lot_id": lot_id, "amount": posting.amount}
            for (_, _, posting, posting_id, _), lot_id in zip(fills, lot_ids, strict=True)
        ],
    )
    for (index, position, posting, _, _), lot_id in zip(fills, lot_ids, strict=True):
        uses[index].append(LotUse(position, lot_id, posting.amount))


def _lot_refill(
    session: Session, info: AccountInfo, posting: PostingRequest, position: int, posting_id: int
) -> LotUse:
    """Give a lot of the account back ``posting.amount``, never beyond its initial amount."""
    lots = table(Lot)
    refilled = session.execute(
        sa.update(lots)
        .where(
            lots.c.id == posting.refill_lot_id,
            lots.c.account_id == info.id,
            lots.c.remaining + posting.amount <= lots.c.amount_initial,
        )
        .values(remaining=lots.c.remaining + posting.amount)
        .returning(lots.c.id)
    ).first()
    if refilled is None:
        raise LedgerError(
            ErrorCode.LOT_INVALID,
            f"{info.code}: lot {posting.refill_lot_id} cannot take {posting.amount} back",
            field="refill_lot_id",
        )
    assert posting.refill_lot_id is not None
    session.execute(
        sa.insert(LotMovement),
        [{"posting_id": posting_id, "lot_id": posting.refill_lot_id, "amount": posting.amount}],
    )
    return LotUse(position, posting.refill_lot_id, posting.amount)


def _balances_apply(
    session: Session, deltas: Mapping[int, int], accounts: Mapping[str, AccountInfo]
) -> None:
    """Add ``deltas`` to stored balances in ascending account id order, refusing any that would
    leave available < 0.

    Every account in ``deltas`` is locked, a zero delta included, so lots are only ever drawn
    under their account's lock. (On PostgreSQL, entries without lots do all of this in one
    statement: ``ledger.entries.postgresql``.)
    """
    codes = {info.id: info.code for info in accounts.values()}
    connection = session.connection()
    statements_ = statements(session)
    if len(deltas) > BALANCES_ONE_BY_ONE_MAX:
        # A distribution: lock every row in id order in one statement, credit in one batch,
        # and check each debit alone.
        connection.execute(
            sa.select(Account.id)
            .where(among(session, Account.id, sorted(deltas)))
            .order_by(Account.id)
            .with_for_update()
        ).all()
        credits = [
            {"account": account_id, "delta": delta}
            for account_id, delta in sorted(deltas.items())
            if delta >= 0
        ]
        if credits:
            connection.execute(statements_.balance_credit_many, credits)
        deltas = {account_id: delta for account_id, delta in deltas.items() if delta < 0}
    for account_id, delta in sorted(deltas.items()):
        statement = statements_.balance_debit if delta < 0 else statements_.balance_credit
        if connection.execute(statement, {"account": account_id, "delta": delta}).first() is None:
            raise LedgerError(ErrorCode.INSUFFICIENT_FUNDS, codes[account_id], field="amount")


def _lots_draw(
    session: Session,
    info: AccountInfo,
    posting: PostingRequest,
    position: int,
    posting_id: int,
    now: datetime,
) -> list[LotUse]:
    """Draw a debit from the account's lots: the pinned one, or FIFO by expiry (lots past their
    expiry are not drawn on)."""
    needed = -posting.amount
    query = sa.select(Lot.id, Lot.remaining).where(Lot.account_id == info.id, Lot.remaining > 0)
    if posting.lot_id is not None:
        query = query.where(Lot.id == posting.lot_id)
    else:
        query = query.where(sa.or_(Lot.expires_at.is_(None), Lot.expires_at > now)).order_by(
            Lot.expires_at.asc().nulls_last(), Lot.id
        )
    draws: list[tuple[int, int]] = []
    for lot_id, remaining in session.execute(query):
        take = min(remaining, needed)
        draws.append((lot_id, take))
        needed -= take
        if needed == 0:
            break
    if needed:
        code = ErrorCode.LOT_INVALID if posting.lot_id is not None else ErrorCode.INSUFFICIENT_FUNDS
        raise LedgerError(
            code,
            FieldMessage("{code}: {needed} short in lots", code=info.code, needed=needed),
            field="amount",
        )
    lots = table(Lot)
    session.execute(
        sa.update(lots)
        .where(lots.c.id == sa.bindparam("lot"))
        .values(remaining=lots.c.remaining - sa.bindparam("take")),
        [{"lot": lot_id, "take": take} for lot_id, take in draws],
    )
    session.execute(
        sa.insert(LotMovement),
        [{"posting_id": posting_id, "lot_id": lot_id, "amount": -take} for lot_id, take in draws],
    )
    return [LotUse(position, lot_id, -take) for lot_id, take in draws]
