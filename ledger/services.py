"""The ledger engine: accounts, entries, holds, lots, reversals and expiry.

Sign convention: a positive posting amount increases its account's balance; every entry's postings
sum to zero per asset. Issuer and external accounts (``allow_negative``) keep no stored balance, so
no write ever locks them.

Every write takes the session first, flushes, and never commits. Locks: a write locks the stored
balance rows of the accounts it touches, in ascending id order (so concurrent writers cannot
deadlock on them), and an account's lots only while holding that account's row. On PostgreSQL
under READ COMMITTED this is enough: balance checks are conditional UPDATEs on the locked rows.

Idempotency: every entry and hold carries a client key. Repeating a key with the same request
returns the original result with ``Outcome.EXISTS``; with a different request it raises
``idempotency_conflict`` naming the first field that differs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledger import postgresql as one_statement_path
from ledger.canonical import canonical_json
from ledger.errors import ErrorCode, LedgerError, Outcome
from ledger.models import ASSETS, Account, Entry, Hold, LogPending, Lot, LotMovement, Posting

KEY_MAX_LENGTH_CHARS = 128
KIND_MAX_LENGTH_CHARS = 32
POSTINGS_PER_ENTRY_MAX = 64
ENTRIES_PER_BATCH_MAX = 5_000
#: ``entries_post_many`` on PostgreSQL starts with a batch this many times smaller than the
#: largest and doubles each next one, so the database starts writing while the helper thread
#: prepares the next (not after a whole largest batch has been prepared).
FIRST_BATCH_FRACTION = 8
#: Above this many accounts, an entry batch locks its balances in one statement and credits them
#: in one batched UPDATE (a distribution); below it, each balance is one statement.
BALANCES_ONE_BY_ONE_MAX = 16
#: Largest amount one posting may move: exact in JSON numbers, and 9 Gt in grams.
AMOUNT_MAX = 2**53
METADATA_MAX_BYTES = 4096
_ACCOUNT_CACHE = "ledger.accounts"


# -- requests and results ----------------------------------------------------------------------
@dataclass(frozen=True)
class PostingRequest:
    """One leg of an entry. ``lot_id`` pins a debit to one lot; ``expires_at`` and
    ``provenance`` describe the lot a credit creates on an account that uses lots."""

    account: str
    amount: int
    lot_id: int | None = None
    expires_at: datetime | None = None
    provenance: Mapping[str, Any] | None = None

    def canonical(self) -> dict[str, Any]:
        result: dict[str, Any] = {"account": self.account, "amount": self.amount}
        if self.lot_id is not None:
            result["lot_id"] = self.lot_id
        if self.expires_at is not None:
            result["expires_at"] = self.expires_at.isoformat()
        if self.provenance:
            result["provenance"] = dict(self.provenance)
        return result


@dataclass(frozen=True)
class EntryRequest:
    key: str
    kind: str
    postings: Sequence[PostingRequest]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def canonical(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "postings": [posting.canonical() for posting in self.postings],
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True)
class LotUse:
    """``amount`` of a posting filled (+) or drew on (-) lot ``lot_id``."""

    posting_index: int
    lot_id: int
    amount: int


@dataclass(frozen=True)
class EntryResult:
    outcome: Outcome
    entry_id: int
    key: str
    kind: str
    postings: tuple[tuple[str, int], ...]
    lots: tuple[LotUse, ...] = ()


@dataclass(frozen=True)
class AccountInfo:
    id: int
    code: str
    asset: str
    allow_negative: bool
    uses_lots: bool


@dataclass(frozen=True)
class Balance:
    account: str
    asset: str
    balance: int
    reserved: int

    @property
    def available(self) -> int:
        return self.balance - self.reserved


def among(session: Session, column: Any, values: Iterable[Any]) -> Any:
    """``column IN values``: on PostgreSQL as ``= ANY(array)`` with one parameter, which stays
    cheap for thousands of values (an IN list renders a placeholder each), sent in its text form
    (``one_statement_path.array_literal``)."""
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        # Untyped, so the server reads the literal as the array when the statement is bound (a
        # typed text parameter would be cast again for every row the scan filters).
        literal = sa.bindparam(
            None, one_statement_path.array_literal(values), type_=sa.types.NullType()
        )
        return column == sa.any_(sa.cast(literal, postgresql.ARRAY(column.type)))
    return column.in_(values)


# -- accounts -------------------------------------------------------------------------------------
def account_open(
    session: Session,
    *,
    code: str,
    asset: str,
    owner_type: str,
    owner_id: int | None = None,
    allow_negative: bool = False,
    uses_lots: bool = False,
) -> AccountInfo:
    """Open an account, or return it when one with this code and these terms exists."""
    if asset not in ASSETS:
        raise LedgerError(ErrorCode.ASSET_MISMATCH, f"unknown asset {asset}", field="asset")
    if not code or len(code) > 128:
        raise LedgerError(ErrorCode.ENTRY_INVALID, "account code length", field="code")
    if allow_negative and uses_lots:
        raise LedgerError(ErrorCode.ACCOUNT_CONFLICT, "issuers keep no lots", field="uses_lots")
    terms = {
        "asset": asset,
        "owner_type": owner_type,
        "owner_id": owner_id,
        "allow_negative": allow_negative,
        "uses_lots": uses_lots,
    }
    statement = insert_for(session, Account).values(code=code, **terms)
    session.execute(statement.on_conflict_do_nothing(index_elements=["code"]))
    account = session.scalars(sa.select(Account).where(Account.code == code)).one()
    for name, value in terms.items():
        if getattr(account, name) != value:
            raise LedgerError(ErrorCode.ACCOUNT_CONFLICT, f"{code} has another {name}", field=name)
    return _info(account)


ACCOUNTS_OPENED_PER_STATEMENT_MAX = 5_000


def accounts_open_many(
    session: Session,
    *,
    owners: Mapping[str, int],
    asset: str,
    owner_type: str,
    uses_lots: bool = False,
) -> None:
    """Open many accounts of one kind at once (``owners``: code → owner id), as ``account_open``
    does one: an existing account must have the same terms."""
    if asset not in ASSETS:
        raise LedgerError(ErrorCode.ASSET_MISMATCH, f"unknown asset {asset}", field="asset")
    codes = sorted(owners)
    if any(not code or len(code) > 128 for code in codes):
        raise LedgerError(ErrorCode.ENTRY_INVALID, "account code length", field="code")
    postgresql_bind = session.get_bind().dialect.name == "postgresql"
    for start in range(0, len(codes), ACCOUNTS_OPENED_PER_STATEMENT_MAX):
        chunk = codes[start : start + ACCOUNTS_OPENED_PER_STATEMENT_MAX]
        if postgresql_bind:
            # Arrays in one statement: a multi-row VALUES list would cost the client more to
            # build than the server to run.
            session.execute(
                sa.text(
                    "INSERT INTO ledger_accounts (code, asset, owner_type, owner_id, "
                    "allow_negative, uses_lots, balance, reserved, created_at) "
                    "SELECT c, :asset, :owner_type, o, false, :uses_lots, 0, 0, now() "
                    "FROM unnest(CAST(:codes AS text[]), CAST(:owners AS bigint[])) AS t(c, o) "
                    "ON CONFLICT (code) DO NOTHING"
                ),
                {"asset": asset, "owner_type": owner_type, "uses_lots": uses_lots,
                 "codes": one_statement_path.array_literal(chunk),
                 "owners": one_statement_path.array_literal([owners[code] for code in chunk])},
            )  # fmt: skip
        else:
            session.execute(
                insert_for(session, Account).on_conflict_do_nothing(index_elements=["code"]),
                [{"code": code, "asset": asset, "owner_type": owner_type,
                  "owner_id": owners[code], "allow_negative": False, "uses_lots": uses_lots}
                 for code in chunk],
            )  # fmt: skip
        conflicting = session.scalars(
            sa.select(Account.code).where(
                among(session, Account.code, chunk),
                sa.or_(
                    Account.asset != asset,
                    Account.owner_type != owner_type,
                    Account.allow_negative.is_(True),
                    Account.uses_lots.is_not(uses_lots),
                ),
            )
        ).first()
        if conflicting is not None:
            raise LedgerError(ErrorCode.ACCOUNT_CONFLICT, f"{conflicting} has other terms")


def _info(account: Account) -> AccountInfo:
    return AccountInfo(
        account.id, account.code, account.asset, account.allow_negative, account.uses_lots
    )


@dataclass(frozen=True)
class AccountSpec:
    """An account as ``account_open`` opens it."""

    code: str
    asset: str
    owner_type: str
    owner_id: int | None = None
    allow_negative: bool = False
    uses_lots: bool = False


def accounts_ensure(session: Session, specs: Sequence[AccountSpec]) -> dict[str, AccountInfo]:
    """Open each account unless it exists, as ``account_open`` would: one lookup when they all
    exist already (the usual case on a hot path), and an existing one must have the same asset
    and kind."""
    found = _accounts_lookup(session, [spec.code for spec in specs])
    result: dict[str, AccountInfo] = {}
    for spec in specs:
        info = found.get(spec.code)
        if info is None:
            info = account_open(
                session, code=spec.code, asset=spec.asset, owner_type=spec.owner_type,
                owner_id=spec.owner_id, allow_negative=spec.allow_negative,
                uses_lots=spec.uses_lots,
            )  # fmt: skip
            session.info.setdefault(_ACCOUNT_CACHE, {})[spec.code] = info
        else:
            for name in ("asset", "allow_negative", "uses_lots"):
                if getattr(info, name) != getattr(spec, name):
                    raise LedgerError(
                        ErrorCode.ACCOUNT_CONFLICT, f"{spec.code} has another {name}", field=name
                    )
        result[spec.code] = info
    return result


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget_accounts(session: Session, _previous: Any) -> None:
    """An account opened in a rolled-back transaction may not exist: forget every cached one."""
    session.info.pop(_ACCOUNT_CACHE, None)


def accounts_resolve(session: Session, codes: Iterable[str]) -> dict[str, AccountInfo]:
    """Look accounts up by code. Their terms never change, so the session remembers them."""
    codes = list(codes)
    found = _accounts_lookup(session, codes)
    unknown = set(codes) - found.keys()
    if unknown:
        raise LedgerError(ErrorCode.ACCOUNT_NOT_FOUND, ", ".join(sorted(unknown)), field="account")
    return {code: found[code] for code in codes}


def accounts_known(session: Session, rows: Iterable[Sequence[Any]]) -> None:
    """Remember accounts the caller read in its own statement, as (id, code, asset,
    allow_negative, uses_lots) rows, so posting to them looks nothing up."""
    cache: dict[str, AccountInfo] = session.info.setdefault(_ACCOUNT_CACHE, {})
    for row in rows:
        cache[row[1]] = AccountInfo(*row)


def _accounts_lookup(session: Session, codes: Iterable[str]) -> dict[str, AccountInfo]:
    """The accounts among ``codes`` that exist, from the session's memory or one query."""
    cache: dict[str, AccountInfo] = session.info.setdefault(_ACCOUNT_CACHE, {})
    missing = {code for code in codes if code not in cache}
    if missing:
        columns = (Account.id, Account.code, Account.asset, Account.allow_negative,
                   Account.uses_lots)  # fmt: skip
        for row in session.execute(
            sa.select(*columns).where(among(session, Account.code, missing))
        ):
            cache[row[1]] = AccountInfo(*row)
    return {code: cache[code] for code in codes if code in cache}


def balance_of(session: Session, code: str) -> Balance:
    """The account's balance: stored for ordinary accounts, summed for issuers."""
    info = accounts_resolve(session, [code])[code]
    if info.allow_negative:
        total = session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Posting.amount), 0)).where(
                Posting.account_id == info.id
            )
        )
        return Balance(code, info.asset, int(total), 0)
    balance, reserved = session.execute(
        sa.select(Account.balance, Account.reserved).where(Account.id == info.id)
    ).one()
    return Balance(code, info.asset, balance, reserved)


# -- entries --------------------------------------------------------------------------------------
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
    portable: bool = False,
) -> list[EntryResult]:
    """Post many entries at once, all or nothing: the batch API for distributions.

    On PostgreSQL, entries without lot accounts, or whose lot-account legs only open lots, go
    through one statement (``ledger.postgresql``); ``portable=True`` forces the multi-statement
    path every database uses, which writes the same rows (the test suite compares them).
    """
    if len(requests) > ENTRIES_PER_BATCH_MAX:
        raise LedgerError(ErrorCode.BATCH_TOO_LARGE, f"at most {ENTRIES_PER_BATCH_MAX} entries")
    keys = [request.key for request in requests]
    if len(set(keys)) != len(keys):
        raise LedgerError(ErrorCode.ENTRY_INVALID, "a batch repeats a key", field="key")
    accounts = accounts_resolve(
        session, {posting.account for request in requests for posting in request.postings}
    )
    canonical = [entry_check(request, accounts) for request in requests]

    hold_ids, reverses = hold_ids or {}, reverses or {}
    one_statement = (
        not portable
        and session.get_bind().dialect.name == "postgresql"
        and _one_statement_fits(requests, accounts)
    )
    if one_statement:
        prepared = one_statement_path.statement_prepare(
            requests, canonical, accounts, now, hold_ids, reverses
        )
        inserted, opened = one_statement_path.statement_run(session, prepared, accounts)
        return _one_statement_results(session, requests, canonical, accounts, inserted, opened)
    if session.connection().get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        raise LedgerError(ErrorCode.ENTRY_INVALID, "entries with lots need a transaction")
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
    inserted = dict(connection.execute(_statements(session).entry_insert, rows).all())
    results: list[EntryResult | None] = [None] * len(requests)
    existing_keys = [key for key in keys if key not in inserted]
    if existing_keys:
        for index, result in _existing_entries(session, requests, canonical, existing_keys):
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


def _one_statement_results(
    session: Session,
    requests: Sequence[EntryRequest],
    canonical: Sequence[dict[str, Any]],
    accounts: Mapping[str, AccountInfo],
    inserted: Mapping[str, int],
    opened: Mapping[tuple[int, int], int],
) -> list[EntryResult]:
    """What a batch posted through ``ledger.postgresql``'s statement answers, in request order.
    The database is read only for entries that existed already (so when all are new, any
    thread may run it)."""
    results: list[EntryResult | None] = [None] * len(requests)
    existing_keys = [request.key for request in requests if request.key not in inserted]
    if existing_keys:
        for index, result in _existing_entries(session, requests, canonical, existing_keys):
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
    grow from a small first one (``batch_bounds``), so the database starts early. Elsewhere the
    batches go one after another through ``entries_post``. ``account_codes``, when the caller
    knows them, are the accounts the entries touch, so they are not read off every entry first.
    """
    overlapped = (
        len(requests) > ENTRIES_PER_BATCH_MAX and session.get_bind().dialect.name == "postgresql"
    )
    if not overlapped:
        return [
            result
            for start in range(0, len(requests), ENTRIES_PER_BATCH_MAX)
            for result in entries_post(
                session, requests[start : start + ENTRIES_PER_BATCH_MAX], now=now
            )
        ]
    bounds = batch_bounds(len(requests))
    if account_codes is None:
        account_codes = {p.account for request in requests for p in request.postings}
    accounts = accounts_resolve(session, account_codes)

    def prepare(bound: tuple[int, int]) -> _Batch:
        batch = requests[bound[0] : bound[1]]
        keys = [request.key for request in batch]
        if len(set(keys)) != len(keys):
            raise LedgerError(ErrorCode.ENTRY_INVALID, "a batch repeats a key", field="key")
        unknown = {p.account for request in batch for p in request.postings} - accounts.keys()
        if unknown:
            raise LedgerError(
                ErrorCode.ACCOUNT_NOT_FOUND, ", ".join(sorted(unknown)), field="account"
            )
        if not _one_statement_fits(batch, accounts):
            return _Batch(batch, None, None)
        canonical = [entry_check(request, accounts) for request in batch]
        return _Batch(
            batch,
            canonical,
            one_statement_path.statement_prepare(batch, canonical, accounts, now, {}, {}),
        )

    answers: list[Future[list[EntryResult]] | list[EntryResult]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-encode") as helper:
        upcoming = helper.submit(prepare, bounds[0])
        for number in range(len(bounds)):
            batch = upcoming.result()
            if number + 1 < len(bounds):
                upcoming = helper.submit(prepare, bounds[number + 1])
            if batch.prepared is None:  # lots used otherwise: the statements of every database
                answers.append(entries_post(session, batch.requests, now=now))
                continue
            inserted, opened = one_statement_path.statement_run(session, batch.prepared, accounts)
            arguments = (batch.requests, batch.canonical, accounts, inserted, opened)
            if len(inserted) == len(batch.requests):  # all new: answered without the database
                answers.append(helper.submit(_one_statement_results, session, *arguments))
            else:
                answers.append(_one_statement_results(session, *arguments))
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
    bounds, start, size = [], 0, max(ENTRIES_PER_BATCH_MAX // FIRST_BATCH_FRACTION, 1)
    while start < count:
        bounds.append((start, min(start + size, count)))
        start, size = start + size, min(size * 2, ENTRIES_PER_BATCH_MAX)
    return bounds


@dataclass(frozen=True)
class _Batch:
    """One batch of ``entries_post_many``: its entries, their canonical forms and the statement
    (``None`` for both when the one statement cannot post it)."""

    requests: Sequence[EntryRequest]
    canonical: list[dict[str, Any]] | None
    prepared: one_statement_path.Prepared | None


def _one_statement_fits(
    requests: Sequence[EntryRequest], accounts: Mapping[str, AccountInfo]
) -> bool:
    """Whether PostgreSQL's one statement can post the batch: no lot accounts, or lot-account
    legs that each open a lot, one per account and entry (a points earning or distribution)."""
    for request in requests:
        lot_accounts = [p for p in request.postings if accounts[p.account].uses_lots]
        if not lot_accounts:
            continue
        if any(p.amount <= 0 or p.lot_id is not None for p in lot_accounts):
            return False
        if len({p.account for p in lot_accounts}) != len(lot_accounts):
            return False
    return True


def entry_check(request: EntryRequest, accounts: Mapping[str, AccountInfo]) -> dict[str, Any]:
    """Validate an entry before anything is written; return its canonical form."""
    if not isinstance(request.key, str) or not 0 < len(request.key) <= KEY_MAX_LENGTH_CHARS:
        raise LedgerError(ErrorCode.ENTRY_INVALID, "key length", field="key")
    if not isinstance(request.kind, str) or not 0 < len(request.kind) <= KIND_MAX_LENGTH_CHARS:
        raise LedgerError(ErrorCode.ENTRY_INVALID, "kind length", field="kind")
    if not 2 <= len(request.postings) <= POSTINGS_PER_ENTRY_MAX:
        raise LedgerError(
            ErrorCode.ENTRY_INVALID, f"2 to {POSTINGS_PER_ENTRY_MAX} postings", field="postings"
        )
    sums: dict[str, int] = defaultdict(int)
    for posting in request.postings:
        amount = posting.amount
        if type(amount) is not int or amount == 0 or abs(amount) > AMOUNT_MAX:
            raise LedgerError(
                ErrorCode.AMOUNT_INVALID, f"{posting.account}: {amount!r}", field="amount"
            )
        info = accounts[posting.account]
        if posting.lot_id is not None and (amount > 0 or not info.uses_lots):
            raise LedgerError(
                ErrorCode.LOT_INVALID, "only debits of lot accounts name a lot", field="lot_id"
            )
        if (posting.expires_at is not None or posting.provenance) and (
            amount < 0 or not info.uses_lots
        ):
            raise LedgerError(
                ErrorCode.LOT_INVALID, "only credits of lot accounts make a lot", field="expires_at"
            )
        sums[info.asset] += amount
    unbalanced = {asset: total for asset, total in sums.items() if total}
    if unbalanced:
        raise LedgerError(ErrorCode.UNBALANCED, canonical_json(unbalanced), field="postings")
    canonical = request.canonical()
    if len(canonical_json(canonical["metadata"]).encode()) > METADATA_MAX_BYTES:
        raise LedgerError(ErrorCode.ENTRY_INVALID, "metadata too large", field="metadata")
    return canonical


def _existing_entries(
    session: Session,
    requests: Sequence[EntryRequest],
    canonical: Sequence[dict[str, Any]],
    keys: Sequence[str],
) -> Iterable[tuple[int, EntryResult]]:
    stored = {
        entry.idempotency_key: entry
        for entry in session.scalars(sa.select(Entry).where(Entry.idempotency_key.in_(keys)))
    }
    for index, request in enumerate(requests):
        entry = stored.get(request.key)
        if entry is None:
            continue
        _compare(entry.request, canonical[index])
        yield (
            index,
            EntryResult(
                outcome=Outcome.EXISTS,
                entry_id=entry.id,
                key=entry.idempotency_key,
                kind=entry.kind,
                postings=tuple((p["account"], p["amount"]) for p in entry.request["postings"]),
            ),
        )


def _compare(stored: Mapping[str, Any], request: Mapping[str, Any]) -> None:
    for name in sorted(set(stored) | set(request)):
        if stored.get(name) != request.get(name):
            raise LedgerError(
                ErrorCode.IDEMPOTENCY_CONFLICT, f"the key was used with another {name}", field=name
            )


def _apply(
    session: Session,
    requests: Sequence[EntryRequest],
    entry_ids: Sequence[int],
    accounts: Mapping[str, AccountInfo],
    now: datetime,
) -> list[EntryResult]:
    """Write postings and log rows first, then lock and update balances, then move lots: the
    balance rows (the only contended ones) stay locked for as short a time as possible."""
    statements = _statements(session)
    connection = session.connection()
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
    lots_needed = any(accounts[p.account].uses_lots for r in requests for p in r.postings)
    if lots_needed:
        posting_ids = list(
            connection.execute(statements.posting_insert_returning, posting_rows).scalars()
        )
    else:
        connection.execute(statements.posting_insert, posting_rows)
        posting_ids = []
    connection.execute(
        statements.pending_insert,
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

    # Lots: every credit to a lot account opens a lot (written in two batched statements);
    # debits then draw on lots, FIFO by expiry, under the balance locks taken above.
    uses: list[list[LotUse]] = [[] for _ in requests]
    if lots_needed:
        fills, draws = [], []
        offset = 0
        for index, (request, entry_id) in enumerate(zip(requests, entry_ids, strict=True)):
            for position, posting in enumerate(request.postings):
                info = accounts[posting.account]
                if info.uses_lots:
                    item = (index, position, posting, posting_ids[offset + position], entry_id)
                    (fills if posting.amount > 0 else draws).append(item)
            offset += len(request.postings)
        if fills:
            lot_ids = (
                connection.execute(
                    statements.lot_insert_returning,
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
                statements.movement_insert,
                [
                    {"posting_id": posting_id, "lot_id": lot_id, "amount": posting.amount}
                    for (_, _, posting, posting_id, _), lot_id in zip(fills, lot_ids, strict=True)
                ],
            )
            for (index, position, posting, _, _), lot_id in zip(fills, lot_ids, strict=True):
                uses[index].append(LotUse(position, lot_id, posting.amount))
        for index, position, posting, posting_id, _ in draws:
            info = accounts[posting.account]
            uses[index].extend(_lots_draw(session, info, posting, position, posting_id, now))
        for index_uses in uses:
            index_uses.sort(key=lambda use: use.posting_index)
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


def entry_leaf_data(
    entry_id: int, request: EntryRequest, accounts: Mapping[str, AccountInfo], now: datetime
) -> str:
    """What the transparency log records of an entry (``ledger verify`` rebuilds it from rows)."""
    return canonical_json(
        {
            "type": "ledger.entry",
            "id": entry_id,
            "key": request.key,
            "kind": request.kind,
            "postings": [
                [p.account, accounts[p.account].asset, p.amount] for p in request.postings
            ],
            "created_at": now.isoformat(),
        }
    )


def _balances_apply(
    session: Session, deltas: Mapping[int, int], accounts: Mapping[str, AccountInfo]
) -> None:
    """Add ``deltas`` to stored balances in ascending account id order, refusing any that would
    leave available < 0.

    Every account in ``deltas`` is locked, a zero delta included, so lots are only ever drawn
    under their account's lock. (On PostgreSQL, entries without lots do all of this in one
    statement: ``ledger.postgresql``.)
    """
    codes = {info.id: info.code for info in accounts.values()}
    connection = session.connection()
    statements = _statements(session)
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
            connection.execute(statements.balance_credit_many, credits)
        deltas = {account_id: delta for account_id, delta in deltas.items() if delta < 0}
    for account_id, delta in sorted(deltas.items()):
        statement = statements.balance_debit if delta < 0 else statements.balance_credit
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
        raise LedgerError(code, f"{info.code}: {needed} short in lots", field="amount")
    lots = Lot.__table__
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


@dataclass(frozen=True)
class _Statements:
    """The hot path's statements, built once per dialect so their compiled forms are cached."""

    entry_insert: Any
    posting_insert: Any
    posting_insert_returning: Any
    pending_insert: Any
    balance_credit: Any
    balance_credit_many: Any
    balance_debit: Any
    lot_insert_returning: Any
    movement_insert: Any


def _build_statements(dialect: str) -> _Statements:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    entries, postings = Entry.__table__, Posting.__table__
    accounts = Account.__table__
    delta = sa.bindparam("delta", type_=sa.BigInteger)
    credit = (
        sa.update(accounts)
        .where(accounts.c.id == sa.bindparam("account", type_=sa.BigInteger))
        .values(balance=accounts.c.balance + delta)
        .returning(accounts.c.id)
    )
    return _Statements(
        entry_insert=insert(entries)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(entries.c.idempotency_key, entries.c.id),
        posting_insert=sa.insert(postings),
        posting_insert_returning=sa.insert(postings).returning(
            postings.c.id, sort_by_parameter_order=True
        ),
        pending_insert=sa.insert(LogPending.__table__),
        balance_credit=credit,
        balance_credit_many=sa.update(accounts)
        .where(accounts.c.id == sa.bindparam("account", type_=sa.BigInteger))
        .values(balance=accounts.c.balance + delta),
        balance_debit=credit.where(accounts.c.balance + delta - accounts.c.reserved >= 0),
        lot_insert_returning=sa.insert(Lot.__table__).returning(
            Lot.__table__.c.id, sort_by_parameter_order=True
        ),
        movement_insert=sa.insert(LotMovement.__table__),
    )


_STATEMENTS = {name: _build_statements(name) for name in ("postgresql", "sqlite")}


def _statements(session: Session) -> _Statements:
    return _STATEMENTS[session.get_bind().dialect.name]


def insert_for(session: Session, model: Any) -> Any:
    """An INSERT of the session's dialect (for ``on_conflict_do_nothing``)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


# -- reversals ------------------------------------------------------------------------------------
def entry_reverse(
    session: Session,
    *,
    entry_id: int,
    key: str,
    now: datetime,
    metadata: Mapping[str, Any] | None = None,
) -> EntryResult:
    """Post the mirror image of an entry, linked to it. The original stays as it was.

    A reversed credit to a lot account is drawn back from the lot it made when that lot still
    holds it (FIFO otherwise); a reversed debit becomes a new lot, expiring with the earliest lot
    the debit drew on.
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


# -- holds ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HoldResult:
    outcome: Outcome
    hold_id: int
    status: str
    amount: int


def hold_create(
    session: Session,
    *,
    key: str,
    account: str,
    destination: str,
    amount: int,
    now: datetime,
    expires_at: datetime | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> HoldResult:
    """Reserve ``amount`` of ``account`` for ``destination``. Locks the account's row."""
    accounts = accounts_resolve(session, [account, destination])
    source, target = accounts[account], accounts[destination]
    if not isinstance(key, str) or not 0 < len(key) <= KEY_MAX_LENGTH_CHARS:
        raise LedgerError(ErrorCode.ENTRY_INVALID, "key length", field="key")
    if type(amount) is not int or not 0 < amount <= AMOUNT_MAX:
        raise LedgerError(ErrorCode.AMOUNT_INVALID, repr(amount), field="amount")
    if source.asset != target.asset:
        raise LedgerError(
            ErrorCode.ASSET_MISMATCH, f"{account} and {destination}", field="destination"
        )
    if source.allow_negative:
        raise LedgerError(ErrorCode.ENTRY_INVALID, "issuers are not held", field="account")
    canonical = {
        "account": account,
        "destination": destination,
        "amount": amount,
        "expires_at": expires_at.isoformat() if expires_at else None,
        "metadata": dict(metadata or {}),
    }
    hold_id = session.scalar(
        insert_for(session, Hold)
        .values(
            idempotency_key=key,
            request=canonical,
            account_id=source.id,
            destination_account_id=target.id,
            asset=source.asset,
            amount=amount,
            status="pending",
            expires_at=expires_at,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(Hold.id)
    )
    if hold_id is None:
        hold = session.scalars(sa.select(Hold).where(Hold.idempotency_key == key)).one()
        _compare(hold.request, canonical)
        return HoldResult(Outcome.EXISTS, hold.id, hold.status, hold.amount)
    reserved = session.execute(
        sa.update(Account)
        .where(Account.id == source.id, Account.balance - Account.reserved >= amount)
        .values(reserved=Account.reserved + amount)
        .returning(Account.id)
        .execution_options(synchronize_session=False)
    ).first()
    if reserved is None:
        raise LedgerError(ErrorCode.INSUFFICIENT_FUNDS, account, field="amount")
    return HoldResult(Outcome.CREATED, hold_id, "pending", amount)


def _hold_lock(session: Session, hold_id: int) -> Hold:
    hold = session.scalars(
        sa.select(Hold)
        .where(Hold.id == hold_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if hold is None:
        raise LedgerError(ErrorCode.HOLD_NOT_FOUND, str(hold_id), field="hold_id")
    return hold


def _reservation_release(session: Session, hold: Hold) -> None:
    session.execute(
        sa.update(Account)
        .where(Account.id == hold.account_id)
        .values(reserved=Account.reserved - hold.amount)
        .execution_options(synchronize_session=False)
    )


def hold_post(
    session: Session,
    *,
    hold_id: int,
    key: str,
    now: datetime,
    amount: int | None = None,
    kind: str = "hold_post",
    metadata: Mapping[str, Any] | None = None,
) -> EntryResult:
    """Turn a pending hold into an entry for ``amount`` (all of it by default); release the rest.

    Locks the hold's row, then both account rows in id order, as any entry does.
    """
    hold = _hold_lock(session, hold_id)
    accounts = {
        a.id: a.code
        for a in session.scalars(
            sa.select(Account).where(Account.id.in_([hold.account_id, hold.destination_account_id]))
        )
    }
    amount = hold.amount if amount is None else amount
    request = EntryRequest(
        key=key,
        kind=kind,
        postings=[
            PostingRequest(accounts[hold.account_id], -amount),
            PostingRequest(accounts[hold.destination_account_id], amount),
        ],
        metadata={"hold_id": hold.id, **(metadata or {})},
    )
    if hold.status == "posted":
        existing = session.scalar(sa.select(Entry.idempotency_key).where(Entry.hold_id == hold.id))
        if existing == key:
            return entries_post(session, [request], now=now, hold_ids={key: hold.id})[0]
    if hold.status != "pending":
        raise LedgerError(ErrorCode.HOLD_NOT_PENDING, hold.status, field="hold_id")
    if hold.expires_at is not None and hold.expires_at <= now:
        raise LedgerError(ErrorCode.HOLD_EXPIRED, hold.expires_at.isoformat(), field="hold_id")
    if type(amount) is not int or not 0 < amount <= hold.amount:
        raise LedgerError(
            ErrorCode.HOLD_AMOUNT_EXCEEDED, f"{amount} of {hold.amount}", field="amount"
        )
    # Both balances are locked in id order before the reservation is released, as every other
    # writer locks them, so posting a hold cannot deadlock with a transfer between the two.
    session.execute(
        sa.select(Account.id)
        .where(Account.id.in_([hold.account_id, hold.destination_account_id]))
        .order_by(Account.id)
        .with_for_update(key_share=True)
    ).all()
    _reservation_release(session, hold)
    result = entries_post(session, [request], now=now, hold_ids={key: hold.id})[0]
    hold.status, hold.posted_amount, hold.resolved_at = "posted", amount, now
    session.flush()
    return result


def hold_void(session: Session, *, hold_id: int, now: datetime) -> HoldResult:
    """Release a pending hold. Voiding a voided hold answers ``exists``."""
    hold = _hold_lock(session, hold_id)
    if hold.status == "voided":
        return HoldResult(Outcome.EXISTS, hold.id, hold.status, hold.amount)
    if hold.status != "pending":
        raise LedgerError(ErrorCode.HOLD_NOT_PENDING, hold.status, field="hold_id")
    _reservation_release(session, hold)
    hold.status, hold.resolved_at = "voided", now
    session.flush()
    return HoldResult(Outcome.CREATED, hold.id, hold.status, hold.amount)


HOLDS_EXPIRED_PER_RUN_MAX = 1_000


def holds_expire(
    session: Session, *, now: datetime, limit: int = HOLDS_EXPIRED_PER_RUN_MAX
) -> list[int]:
    """Expire pending holds past their time, releasing what they reserved. Returns their ids."""
    due = list(
        session.scalars(
            sa.select(Hold.id)
            .where(Hold.status == "pending", Hold.expires_at <= now)
            .order_by(Hold.id)
            .limit(min(limit, HOLDS_EXPIRED_PER_RUN_MAX))
        )
    )
    expired = []
    for hold_id in due:
        hold = _hold_lock(session, hold_id)
        if hold.status != "pending":
            continue
        _reservation_release(session, hold)
        hold.status, hold.resolved_at = "expired", now
        expired.append(hold_id)
    session.flush()
    return expired


# -- lot expiry -----------------------------------------------------------------------------------
LOTS_EXPIRED_PER_RUN_MAX = 1_000
#: Where expired amounts go, per asset: ordinary platform accounts, so expiry is reportable.
EXPIRY_SINKS = {asset: f"platform:{asset.lower()}:expired" for asset in ASSETS}


def expiry_sinks_open(session: Session) -> dict[str, str]:
    for asset, code in EXPIRY_SINKS.items():
        account_open(session, code=code, asset=asset, owner_type="platform")
    return dict(EXPIRY_SINKS)


def lots_expire(
    session: Session,
    *,
    now: datetime,
    sink_for_asset: Mapping[str, str],
    limit: int = LOTS_EXPIRED_PER_RUN_MAX,
) -> list[EntryResult]:
    """Post an expiry entry for each lot past its expiry, moving what is left of it to the
    asset's sink account. A held amount is not expired while its hold is pending; the next run
    expires it if the hold is voided. Rerunning is harmless: keys name the lot and its remainder.
    """
    due = session.execute(
        sa.select(Lot.id, Lot.remaining, Lot.asset, Account.code, Account.id)
        .join(Account, Account.id == Lot.account_id)
        .where(Lot.remaining > 0, Lot.expires_at <= now)
        .order_by(Lot.expires_at, Lot.id)
        .limit(min(limit, LOTS_EXPIRED_PER_RUN_MAX))
    ).all()
    results = []
    for lot_id, remaining, asset, code, account_id in due:
        balance, reserved = session.execute(
            sa.select(Account.balance, Account.reserved).where(Account.id == account_id)
        ).one()
        amount = min(remaining, balance - reserved)
        if amount <= 0:
            continue
        request = EntryRequest(
            key=f"expiry:lot:{lot_id}:{remaining}",
            kind="expiry",
            postings=[
                PostingRequest(code, -amount, lot_id=lot_id),
                PostingRequest(sink_for_asset[asset], amount),
            ],
            metadata={"lot_id": lot_id},
        )
        results.append(entry_post(session, request, now=now))
    return results
