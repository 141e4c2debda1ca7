"""Posting entries on PostgreSQL in one statement.

For entries that touch no lot accounts (the hot path: transfers, issuance, distributions), and
batches whose lot-account legs only open lots (a credit per lot account and entry: a points
distribution), one data-modifying ``WITH`` statement claims the idempotency keys, inserts the
postings, the lots with their movements and the log rows, locks the stored balances in ascending
id order (``FOR NO KEY UPDATE``, so other writers' foreign-key checks on those accounts do not
wait) and updates them only where the available balance suffices. It writes exactly the rows the
portable path in ``ledger.entries.posting`` writes; the test suite runs both against the same
requests and compares the rows.

It answers the (key, id) pairs it inserted and, for a batch, the (entry, account, lot) it
opened. When an available balance does not suffice, the statement itself fails
(``ledger_insufficient`` raises), so it writes nothing; that makes it atomic on its own, and a
connection in autocommit mode can post an entry in one round trip without holding any lock
between round trips. Either way the caller's transaction is then aborted and must be rolled back
(or a savepoint released), as after any ``LedgerError``.

A single entry (a transfer, a hold's settlement, a reversal, one points earning) takes a leaner
statement of the same shape: scalar and array parameters instead of JSON records, and deltas summed
by the caller, which spares the server the JSON parsing, sorts and joins a batch needs
(``bench.ledger`` and ``bench.points`` measure it). When it opens lots, two more parts insert them
and their movements.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.entries.idempotency import existing_entries
from ledger.entries.requests import AccountInfo, EntryRequest, EntryResult, LotUse, entry_leaf_data
from ledger.entries.sql import array_literal
from ledger.errors import ErrorCode, LedgerError, Outcome

_ID_PLACEHOLDER = 0
_INSUFFICIENT = re.compile(r"ledger: insufficient funds on accounts \{([0-9,]+)\}")

#: Shared by both statements: lock the stored balances in ascending id order, then update those
#: whose available balance suffices; ``refused`` raises for any that did not.
_BALANCES = """
    locked AS MATERIALIZED (
        SELECT id FROM ledger_accounts
        WHERE id = ANY(ARRAY(SELECT id FROM deltas))
        ORDER BY id
        FOR NO KEY UPDATE
    ),
    updated AS (
        UPDATE ledger_accounts AS a SET balance = a.balance + deltas.delta
        FROM deltas
        WHERE a.id = ANY(ARRAY(SELECT id FROM locked))
          AND a.id = deltas.id
          AND (deltas.delta >= 0 OR a.balance + deltas.delta - a.reserved >= 0)
        RETURNING a.id
    )
"""
_REFUSED = """
        (SELECT ledger_insufficient(array_agg(id)) FROM deltas
         WHERE id NOT IN (SELECT id FROM updated) HAVING count(*) > 0) AS refused
"""

_ONE_HEAD = """
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(CAST(:entries AS jsonb)) AS i(
            key text, kind text, request jsonb, hold_id bigint, reverses bigint,
            leaf_head text, leaf_tail text, n int
        )
    ),
    e AS (
        INSERT INTO ledger_entries
            (idempotency_key, kind, request, hold_id, reverses_entry_id, created_at)
        SELECT key, kind, request, hold_id, reverses, :now FROM input ORDER BY n
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, idempotency_key
    ),
    legs AS (
        SELECT * FROM jsonb_to_recordset(CAST(:legs AS jsonb)) AS l(
            key text, account_id bigint, asset text, amount bigint, stored boolean, n int,
            lot boolean, expires_at timestamptz, provenance jsonb
        )
    ),
    posted AS (
        INSERT INTO ledger_postings (entry_id, account_id, asset, amount)
        SELECT e.id, legs.account_id, legs.asset, legs.amount
        FROM legs JOIN e ON e.idempotency_key = legs.key
        ORDER BY legs.n
        RETURNING id, entry_id, account_id
    ),
    lotted AS (
        INSERT INTO ledger_lots
            (account_id, entry_id, asset, amount_initial, remaining, expires_at, provenance,
             created_at)
        SELECT legs.account_id, e.id, legs.asset, legs.amount, legs.amount, legs.expires_at,
               coalesce(legs.provenance, '{}'::jsonb), :now
        FROM legs JOIN e ON e.idempotency_key = legs.key
        WHERE legs.lot
        ORDER BY legs.n
        RETURNING id, entry_id, account_id, amount_initial
    ),
    moved AS (
        INSERT INTO ledger_lot_movements (posting_id, lot_id, amount)
        SELECT p.id, l.id, l.amount_initial
        FROM lotted l JOIN posted p ON p.entry_id = l.entry_id AND p.account_id = l.account_id
    ),
    logged AS (
        INSERT INTO tlog_pending (kind, source_id, data, created_at)
        SELECT 'ledger.entry', e.id::text, input.leaf_head || e.id || input.leaf_tail, :now
        FROM e JOIN input ON input.key = e.idempotency_key
        ORDER BY input.n
    ),
    deltas AS (
        SELECT legs.account_id AS id, sum(legs.amount) AS delta
        FROM legs JOIN e ON e.idempotency_key = legs.key
        WHERE legs.stored
        GROUP BY legs.account_id
    ),
    """
_ONE_TAIL = """    SELECT
        (SELECT coalesce(json_agg(json_build_array(idempotency_key, id)), '[]') FROM e)
            AS inserted,
        (SELECT coalesce(json_agg(json_build_array(entry_id, account_id, id)), '[]')
         FROM lotted) AS lots,
"""
ONE_STATEMENT = sa.text("".join((_ONE_HEAD, _BALANCES, _ONE_TAIL, _REFUSED)))


#: The same statement in the driver's own parameter style.
DRIVER_STATEMENT = re.sub(r":(entries|legs|now)\b", r"%(\1)s", ONE_STATEMENT.text)

#: One entry: the same rows, the same locks in the same order, the same refusal.
_SINGLE_HEAD = """
    WITH e AS (
        INSERT INTO ledger_entries
            (idempotency_key, kind, request, hold_id, reverses_entry_id, created_at)
        VALUES (
            %(key)s, %(kind)s, CAST(%(request)s AS jsonb), CAST(%(hold_id)s AS bigint),
            CAST(%(reverses)s AS bigint), %(now)s
        )
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id
    ),
    posted AS (
        INSERT INTO ledger_postings (entry_id, account_id, asset, amount)
        SELECT e.id, legs.account_id, legs.asset, legs.amount
        FROM e, unnest(
            CAST(%(account_ids)s AS bigint[]), CAST(%(assets)s AS text[]),
            CAST(%(amounts)s AS bigint[])
        ) WITH ORDINALITY AS legs(account_id, asset, amount, n)
        ORDER BY legs.n{posted_returning}
    ),
    logged AS (
        INSERT INTO tlog_pending (kind, source_id, data, created_at)
        SELECT 'ledger.entry', e.id::text, %(leaf_head)s || e.id || %(leaf_tail)s, %(now)s
        FROM e
    ),
    deltas AS (
        SELECT d.id, d.delta
        FROM e, unnest(CAST(%(delta_ids)s AS bigint[]), CAST(%(deltas)s AS bigint[]))
            AS d(id, delta)
    ),
    """
_SINGLE_TAIL = """    SELECT
        (SELECT id FROM e) AS inserted,
"""
SINGLE_STATEMENT = "".join(
    (_SINGLE_HEAD.format(posted_returning=""), _BALANCES, _SINGLE_TAIL, _REFUSED)
)

#: One entry whose lot-account legs each open a lot (one earning of points): the postings answer
#: their ids, and the lots and movements follow them, as in the batch statement.
_SINGLE_LOTS = """
    lotted AS (
        INSERT INTO ledger_lots
            (account_id, entry_id, asset, amount_initial, remaining, expires_at, provenance,
             created_at)
        SELECT lots.account_id, e.id, lots.asset, lots.amount, lots.amount, lots.expires_at,
               lots.provenance, %(now)s
        FROM e, unnest(
            CAST(%(lot_account_ids)s AS bigint[]), CAST(%(lot_assets)s AS text[]),
            CAST(%(lot_amounts)s AS bigint[]), CAST(%(lot_expires_at)s AS timestamptz[]),
            CAST(%(lot_provenance)s AS jsonb[])
        ) WITH ORDINALITY AS lots(account_id, asset, amount, expires_at, provenance, n)
        ORDER BY lots.n
        RETURNING id, account_id, amount_initial
    ),
    moved AS (
        INSERT INTO ledger_lot_movements (posting_id, lot_id, amount)
        SELECT p.id, l.id, l.amount_initial
        FROM lotted l JOIN posted p ON p.account_id = l.account_id
    ),
"""
SINGLE_LOTS_STATEMENT = "".join(
    (
        _SINGLE_HEAD.format(posted_returning="\n        RETURNING id, account_id"),
        _SINGLE_LOTS,
        _BALANCES,
        _SINGLE_TAIL,
        "        (SELECT json_agg(json_build_array(account_id, id)) FROM lotted) AS lots,\n",
        _REFUSED,
    )
)


def leaf_template(
    request: EntryRequest, accounts: Mapping[str, AccountInfo], now: datetime
) -> tuple[str, str]:
    """The log leaf of an entry as text before and after its id (which the database assigns)."""
    data = entry_leaf_data(_ID_PLACEHOLDER, request, accounts, now)
    marker = f'"id":{_ID_PLACEHOLDER},'
    head, tail = data.split(marker, 1)
    return head + '"id":', "," + tail


@dataclass(frozen=True)
class Prepared:
    """A batch's statement and its parameters, ready to run (built without the database)."""

    statement: str
    parameters: dict[str, Any]
    keys: tuple[str, ...]


def statement_prepare(
    requests: Sequence[EntryRequest],
    canonical: Sequence[dict[str, Any]],
    accounts: Mapping[str, AccountInfo],
    now: datetime,
    hold_ids: Mapping[str, int],
    reverses: Mapping[str, int],
) -> Prepared:
    """The statement that posts ``requests`` (the lean one for a single entry)."""
    keys = tuple(request.key for request in requests)
    if len(requests) == 1:
        statement, parameters = _single(
            requests[0], canonical[0], accounts, now, hold_ids, reverses
        )
        return Prepared(statement, parameters, keys)
    return Prepared(
        DRIVER_STATEMENT, _batch(requests, canonical, accounts, now, hold_ids, reverses), keys
    )


def statement_run(
    session: Session, prepared: Prepared, accounts: Mapping[str, AccountInfo]
) -> tuple[dict[str, int], dict[tuple[int, int], int]]:
    """Run a prepared statement; return the ids of the entries it inserted, by key, and the lots
    it opened, by (entry id, account id)."""
    # The driver's own cursor: this statement runs for every entry, and SQLAlchemy's execution
    # layer would cost as much as the rest of this function; psycopg prepares it after a few runs.
    driver = session.connection().connection.driver_connection
    assert driver is not None, "a live connection has a driver connection"
    try:
        with driver.cursor() as cursor:
            cursor.execute(prepared.statement, prepared.parameters)
            row = cursor.fetchone()
            inserted = row[0]
    except psycopg.errors.CheckViolation as error:
        match = _INSUFFICIENT.match(error.diag.message_primary or "")
        if match is None:
            raise
        refused = {int(number) for number in match.group(1).split(",")}
        codes = sorted(info.code for info in accounts.values() if info.id in refused)
        raise LedgerError(ErrorCode.INSUFFICIENT_FUNDS, ", ".join(codes), field="amount") from None
    if prepared.statement is not DRIVER_STATEMENT:
        if inserted is None:
            return {}, {}
        opened = row[1] if prepared.statement is SINGLE_LOTS_STATEMENT else None
        lots = {(inserted, account_id): lot_id for account_id, lot_id in opened or ()}
        return {prepared.keys[0]: inserted}, lots
    lots = {(entry_id, account_id): lot_id for entry_id, account_id, lot_id in row[1]}
    return {key: entry_id for key, entry_id in inserted}, lots


def _single(
    request: EntryRequest,
    form: dict[str, Any],
    accounts: Mapping[str, AccountInfo],
    now: datetime,
    hold_ids: Mapping[str, int],
    reverses: Mapping[str, int],
) -> tuple[str, dict[str, Any]]:
    head, tail = leaf_template(request, accounts, now)
    deltas: dict[int, int] = {}
    infos = [accounts[posting.account] for posting in request.postings]
    for info, posting in zip(infos, request.postings, strict=True):
        if not info.allow_negative:
            deltas[info.id] = deltas.get(info.id, 0) + posting.amount
    parameters: dict[str, Any] = {
        "key": request.key,
        "kind": request.kind,
        "request": json.dumps(form),
        "hold_id": hold_ids.get(request.key),
        "reverses": reverses.get(request.key),
        "now": now,
        "account_ids": array_literal(info.id for info in infos),
        "assets": array_literal(info.asset for info in infos),
        "amounts": array_literal(posting.amount for posting in request.postings),
        "leaf_head": head,
        "leaf_tail": tail,
        "delta_ids": array_literal(deltas),
        "deltas": array_literal(deltas.values()),
    }
    lots = [
        (info, posting)
        for info, posting in zip(infos, request.postings, strict=True)
        if info.uses_lots
    ]
    if not lots:
        return SINGLE_STATEMENT, parameters
    parameters.update(
        lot_account_ids=array_literal(info.id for info, _ in lots),
        lot_assets=array_literal(info.asset for info, _ in lots),
        lot_amounts=array_literal(posting.amount for _, posting in lots),
        lot_expires_at=[posting.expires_at for _, posting in lots],
        lot_provenance=[json.dumps(dict(posting.provenance or {})) for _, posting in lots],
    )
    return SINGLE_LOTS_STATEMENT, parameters


def _batch(
    requests: Sequence[EntryRequest],
    canonical: Sequence[dict[str, Any]],
    accounts: Mapping[str, AccountInfo],
    now: datetime,
    hold_ids: Mapping[str, int],
    reverses: Mapping[str, int],
) -> dict[str, Any]:
    entries = []
    for n, (request, form) in enumerate(zip(requests, canonical, strict=True)):
        head, tail = leaf_template(request, accounts, now)
        entries.append(
            {
                "key": request.key,
                "kind": request.kind,
                "request": form,
                "hold_id": hold_ids.get(request.key),
                "reverses": reverses.get(request.key),
                "leaf_head": head,
                "leaf_tail": tail,
                "n": n,
            }
        )
    legs: list[dict[str, Any]] = []
    for request in requests:
        for posting in request.postings:
            info = accounts[posting.account]
            legs.append(
                {
                    "key": request.key,
                    "account_id": info.id,
                    "asset": info.asset,
                    "amount": posting.amount,
                    "stored": not info.allow_negative,
                    "n": len(legs),
                    "lot": info.uses_lots,
                    "expires_at": posting.expires_at.isoformat() if posting.expires_at else None,
                    "provenance": dict(posting.provenance) if posting.provenance else None,
                }
            )
    return {"entries": json.dumps(entries), "legs": json.dumps(legs), "now": now}


def fits(requests: Sequence[EntryRequest], accounts: Mapping[str, AccountInfo]) -> bool:
    """Whether PostgreSQL's one statement can post the batch: no lot accounts, or lot-account
    legs that each open a lot, one per account and entry (a points earning or distribution)."""
    for request in requests:
        lot_accounts = [p for p in request.postings if accounts[p.account].uses_lots]
        if not lot_accounts:
            continue
        if any(
            p.amount <= 0 or p.lot_id is not None or p.refill_lot_id is not None
            for p in lot_accounts
        ):
            return False
        if len({p.account for p in lot_accounts}) != len(lot_accounts):
            return False
    return True


def results(
    session: Session,
    requests: Sequence[EntryRequest],
    canonical: Sequence[dict[str, Any]],
    accounts: Mapping[str, AccountInfo],
    inserted: Mapping[str, int],
    opened: Mapping[tuple[int, int], int],
) -> list[EntryResult]:
    """What a batch posted through the one statement answers, in request order.
    The database is read only for entries that existed already (so when all are new, any
    thread may run it)."""
    results: list[EntryResult | None] = [None] * len(requests)
    existing_keys = [request.key for request in requests if request.key not in inserted]
    if existing_keys:
        for index, result in existing_entries(session, requests, canonical, existing_keys):
            results[index] = result
    for index, request in enumerate(requests):
        entry_id = inserted.get(request.key)
        if entry_id is None:
            continue
        postings = tuple((p.account, p.amount) for p in request.postings)
        uses = tuple(
            LotUse(position, opened[(entry_id, accounts[p.account].id)], p.amount)
            for position, p in enumerate(request.postings)
            if accounts[p.account].uses_lots
        )
        results[index] = EntryResult(
            Outcome.CREATED, entry_id, request.key, request.kind, postings, uses
        )
    return [result for result in results if result is not None]
