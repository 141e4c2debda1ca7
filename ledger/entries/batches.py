"""Posting more entries than one batch holds: a distribution to many parties.

On PostgreSQL, this process encodes the next batch while the database writes the one before; the
batches grow from a small first one so the database starts early.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ledger import paths
from ledger.entries import limits, postgresql
from ledger.entries.accounts import accounts_resolve
from ledger.entries.posting import entries_post
from ledger.entries.requests import AccountInfo, EntryRequest, EntryResult, entry_check
from ledger.errors import ErrorCode, LedgerError

#: ``entries_post_many`` on PostgreSQL starts with a batch this many times smaller than the
#: largest and doubles each next one, so the database starts writing while the helper thread
#: prepares the next (not after a whole largest batch has been prepared).
FIRST_BATCH_FRACTION = 8


def entries_post_many(
    session: Session,
    requests: Sequence[EntryRequest],
    *,
    now: datetime,
    account_codes: Iterable[str] | None = None,
) -> list[EntryResult]:
    """Post any number of entries, up to ``ENTRIES_PER_BATCH_MAX`` a statement, in the caller's
    transaction (all or nothing with it): the path of a distribution to many parties.

    On PostgreSQL's one statement, a helper thread reads each batch off ``requests`` (which may
    build its entries only when sliced), checks and encodes it while the database writes the one
    before, and turns each written batch into its answers, so this process and the database work
    at the same time (``bench.points`` measures a distribution to 100,000 farms); the batches
    grow from a small first one (``batch_bounds``), so the database starts early. Elsewhere (and
    inside ``ledger.paths.portable_path``) the batches go one after another through
    ``entries_post``. ``account_codes``, when the caller knows them, are the accounts the entries
    touch, so they are not read off every entry first.
    """
    overlapped = len(requests) > limits.ENTRIES_PER_BATCH_MAX and paths.one_statement(session)
    if not overlapped:
        return [
            result
            for start in range(0, len(requests), limits.ENTRIES_PER_BATCH_MAX)
            for result in entries_post(
                session, requests[start : start + limits.ENTRIES_PER_BATCH_MAX], now=now
            )
        ]
    bounds = batch_bounds(len(requests))
    if account_codes is None:
        account_codes = {p.account for request in requests for p in request.postings}
    accounts = accounts_resolve(session, account_codes)

    answers: list[Future[list[EntryResult]] | list[EntryResult]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-encode") as helper:
        upcoming = helper.submit(_batch_prepare, requests, bounds[0], accounts, now)
        for number in range(len(bounds)):
            batch = upcoming.result()
            if number + 1 < len(bounds):
                upcoming = helper.submit(
                    _batch_prepare, requests, bounds[number + 1], accounts, now
                )
            if batch.prepared is None:  # lots used otherwise: the statements of every database
                answers.append(entries_post(session, batch.requests, now=now))
                continue
            assert batch.canonical is not None  # prepared with it
            inserted, opened = postgresql.statement_run(session, batch.prepared, accounts)
            arguments = (session, batch.requests, batch.canonical, accounts, inserted, opened)
            if len(inserted) == len(batch.requests):  # all new: answered without the database
                answers.append(helper.submit(postgresql.results, *arguments))
            else:
                answers.append(postgresql.results(*arguments))
    return [
        result
        for answer in answers
        for result in (answer.result() if isinstance(answer, Future) else answer)
    ]


def batch_bounds(count: int) -> list[tuple[int, int]]:
    """(start, end) of each batch of ``entries_post_many``'s overlapped path: the first
    ``FIRST_BATCH_FRACTION`` times smaller than ``ENTRIES_PER_BATCH_MAX`` (at least one entry),
    each next twice the one before, up to the largest.

    >>> batch_bounds(12_000)
    [(0, 625), (625, 1875), (1875, 4375), (4375, 9375), (9375, 12000)]
    """
    bounds, start, size = [], 0, max(limits.ENTRIES_PER_BATCH_MAX // FIRST_BATCH_FRACTION, 1)
    while start < count:
        bounds.append((start, min(start + size, count)))
        start, size = start + size, min(size * 2, limits.ENTRIES_PER_BATCH_MAX)
    return bounds


@dataclass(frozen=True)
class _Batch:
    """One batch of ``entries_post_many``: its entries, their canonical forms and the statement
    (``None`` for both when the one statement cannot post it)."""

    requests: Sequence[EntryRequest]
    canonical: list[dict[str, Any]] | None
    prepared: postgresql.Prepared | None


def _batch_prepare(
    requests: Sequence[EntryRequest],
    bound: tuple[int, int],
    accounts: Mapping[str, AccountInfo],
    now: datetime,
) -> _Batch:
    """Check and encode one batch of ``entries_post_many`` (on the helper thread: no database)."""
    batch = requests[bound[0] : bound[1]]
    keys = [request.key for request in batch]
    if len(set(keys)) != len(keys):
        raise LedgerError(ErrorCode.ENTRY_INVALID, "a batch repeats a key", field="key")
    unknown = {p.account for request in batch for p in request.postings} - accounts.keys()
    if unknown:
        raise LedgerError(ErrorCode.ACCOUNT_NOT_FOUND, ", ".join(sorted(unknown)), field="account")
    if not postgresql.fits(batch, accounts):
        return _Batch(batch, None, None)
    canonical = [entry_check(request, accounts) for request in batch]
    return _Batch(
        batch,
        canonical,
        postgresql.statement_prepare(batch, canonical, accounts, now, {}, {}),
    )
