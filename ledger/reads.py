"""What other packages may read of the ledger: balances, sums over windows, lots, entries by key,
and what a credit allocation drew. Functions take a session and never write.

The ledger's tables are its own: a package that keeps accounts here (points keeps every party's
points as lots of asset ``POINT``) asks through these functions and never joins the tables
itself, so the ledger can change how it stores a balance or a lot without a change elsewhere.
The one exception is a caller's single statement on PostgreSQL (a unit claim), which embeds the
fragment :data:`EARNING_LOCK` that this module owns, and hands its columns back here to read.

Sign convention as in the ledger: a credit is a positive posting; an expiry is an entry of kind
``expiry``. Nothing here imports the packages that use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger import entries as ledger
from ledger.credits.models import (
    CreditAllocation,
    CreditAllocationPart,
    CreditBatchShare,
    CreditFarm,
    CreditSerialRange,
)
from ledger.models import Account, Entry, Hold, Lot, Posting

#: Accounts one query locks or sums (a bound on its parameters).
ACCOUNTS_PER_QUERY_MAX = 5_000
EXPIRY_KIND = "expiry"


# -- locks ----------------------------------------------------------------------------------------
def account_lock(session: Session, code: str) -> int:
    """Lock an account's row for this transaction (its spending takes turns); returns its id."""
    return session.execute(
        sa.select(Account.id).where(Account.code == code).with_for_update()
    ).scalar_one()


def accounts_lock(session: Session, codes: Iterable[str]) -> dict[str, int]:
    """Lock the accounts' rows in ascending id order (as every ledger write does, so no two
    lockers deadlock) and return their ids by code. Their terms come with the ids, so posting to
    them afterwards looks nothing up again."""
    codes = sorted(set(codes))
    columns = (Account.id, Account.code, Account.asset, Account.allow_negative, Account.uses_lots)
    rows: list[Any] = []
    if len(codes) <= ACCOUNTS_PER_QUERY_MAX or session.get_bind().dialect.name == "postgresql":
        # Resolve and lock in one statement (on PostgreSQL the codes are one array parameter).
        rows += session.execute(
            sa.select(*columns)
            .where(ledger.among(session, Account.code, codes))
            .order_by(Account.id)
            .with_for_update()
        )
    else:
        for start in range(0, len(codes), ACCOUNTS_PER_QUERY_MAX):
            chunk = codes[start : start + ACCOUNTS_PER_QUERY_MAX]
            rows += session.execute(
                sa.select(*columns).where(ledger.among(session, Account.code, chunk))
            )
        ids = sorted(row[0] for row in rows)
        for start in range(0, len(ids), ACCOUNTS_PER_QUERY_MAX):
            chunk = ids[start : start + ACCOUNTS_PER_QUERY_MAX]
            session.execute(
                sa.select(Account.id)
                .where(ledger.among(session, Account.id, chunk))
                .order_by(Account.id)
                .with_for_update()
            ).all()
    ledger.accounts_known(session, rows)
    return {row[1]: row[0] for row in rows}


# -- sums over windows ----------------------------------------------------------------------------
def credited_in_windows(
    session: Session, *, account_ids: Sequence[int], kind: str, starts: Mapping[str, datetime]
) -> dict[str, dict[int, int]]:
    """What each account was credited by entries of ``kind`` since each window's start (by
    window name, then account id; an account credited nothing is absent): all windows in one
    query per chunk of accounts."""
    earliest = min(starts.values())
    sums = [
        sa.func.sum(sa.case((Entry.created_at >= start, Posting.amount), else_=0))
        for start in starts.values()
    ]
    credited: dict[str, dict[int, int]] = {name: {} for name in starts}
    for first in range(0, len(account_ids), ACCOUNTS_PER_QUERY_MAX):
        chunk = account_ids[first : first + ACCOUNTS_PER_QUERY_MAX]
        for account_id, *totals in session.execute(
            sa.select(Posting.account_id, *sums)
            .join(Entry, Entry.id == Posting.entry_id)
            .where(
                ledger.among(session, Posting.account_id, chunk),
                Entry.kind == kind,
                Entry.created_at >= earliest,
                Posting.amount > 0,
            )
            .group_by(Posting.account_id)
        ):
            for name, total in zip(starts, totals, strict=True):
                credited[name][account_id] = int(total)
    return credited


#: What one account was credited by one kind since two instants (a day's and a month's start),
#: on the driver's own cursor so psycopg prepares it.
CREDITED_SINCE = """
    SELECT coalesce(sum(p.amount) FILTER (WHERE e.created_at >= CAST(%(day)s AS timestamptz)), 0),
           coalesce(sum(p.amount), 0)
    FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id
    WHERE p.account_id = CAST(%(account_id)s AS bigint) AND p.amount > 0
      AND e.kind = CAST(%(kind)s AS text) AND e.created_at >= CAST(%(month)s AS timestamptz)
"""


def credited_since(
    session: Session, *, account_id: int, kind: str, day: datetime, month: datetime
) -> tuple[int, int]:
    """(credited since ``day``, credited since ``month``) by entries of ``kind``, on PostgreSQL
    (``month`` is the earlier instant)."""
    driver: Any = session.connection().connection.driver_connection
    with driver.cursor() as cursor:
        since_day, since_month = cursor.execute(
            CREDITED_SINCE, {"account_id": account_id, "kind": kind, "day": day, "month": month}
        ).fetchone()
    return int(since_day), int(since_month)


# -- a lock inside a caller's one statement (PostgreSQL) -----------------------------------------
@dataclass(frozen=True)
class StatementPart:
    """Text a caller's data-modifying ``WITH`` statement embeds: ``ctes`` after its own common
    table expressions (``{when}`` is its condition for taking the lock), ``columns`` at the end
    of its select list, ``joins`` after its ``FROM``. Parameters: ``account``, ``issuer``,
    ``kind``, ``day``, ``month``."""

    ctes: str
    columns: str
    joins: str
    width: int

    def ctes_when(self, condition: str) -> str:
        return self.ctes.replace("{when}", condition)


#: Lock the holder account ``%(account)s`` (``FOR NO KEY UPDATE``, as ledger writes lock balances)
#: when the caller's condition holds, and sum what it was credited by ``%(kind)s`` since ``%(day)s``
#: and ``%(month)s`` as the statement's snapshot saw it. Those sums hold only if no entry committed
#: between that snapshot and the lock: every credit updates the account's row, so the row version
#: the snapshot saw (``xmin``) is compared with the one locked (a lock that waited, or found the row
#: changed, returns the newest). The issuer ``%(issuer)s`` comes along, unlocked (issuers keep no
#: stored balance).
EARNING_LOCK = StatementPart(
    ctes="""
    account AS MATERIALIZED (
        SELECT id, code, asset, allow_negative, uses_lots, xmin::text AS version
        FROM ledger_accounts
        WHERE code = CAST(%(account)s AS text) AND {when}
        FOR NO KEY UPDATE
    ),
    seen AS (
        SELECT id, xmin::text AS version FROM ledger_accounts
        WHERE code = CAST(%(account)s AS text)
    ),
    earned AS (
        SELECT coalesce(sum(p.amount) FILTER (WHERE e.created_at >= CAST(%(day)s AS timestamptz)),
                        0) AS day,
               coalesce(sum(p.amount), 0) AS month
        FROM ledger_postings p JOIN ledger_entries e ON e.id = p.entry_id
        WHERE p.account_id = (SELECT id FROM seen) AND p.amount > 0
          AND e.kind = CAST(%(kind)s AS text) AND e.created_at >= CAST(%(month)s AS timestamptz)
    )""",
    columns="""account.id, account.code, account.asset, account.allow_negative, account.uses_lots,
           issuer.id, issuer.code, issuer.asset, issuer.allow_negative, issuer.uses_lots,
           account.version = (SELECT version FROM seen), earned.day, earned.month""",
    joins="""LEFT JOIN account ON true
    LEFT JOIN earned ON true
    LEFT JOIN ledger_accounts issuer ON issuer.code = CAST(%(issuer)s AS text)""",
    width=13,
)


@dataclass(frozen=True)
class LockedAccount:
    """A holder account :data:`EARNING_LOCK` locked: its id, and (credited since the day's start,
    since the month's) when the statement's own sums hold, else ``None``."""

    id: int
    credited: tuple[int, int] | None


def earning_locked(session: Session, columns: Sequence[Any], *, asset: str) -> LockedAccount | None:
    """Read :data:`EARNING_LOCK`'s columns: the locked holder, or ``None`` when nothing was locked
    or the accounts are not an issuer and a lot-keeping holder of ``asset`` (opening them would
    refuse with the conflict). The two accounts' terms are remembered, so posting to them looks
    nothing up."""
    account, issuer = tuple(columns[0:5]), tuple(columns[5:10])
    if account[0] is None or issuer[0] is None:
        return None
    if (account[2:], issuer[2:]) != ((asset, False, True), (asset, True, False)):
        return None
    ledger.accounts_known(session, [account, issuer])
    fresh, day, month = columns[10:13]
    return LockedAccount(account[0], (int(day), int(month)) if fresh else None)


# -- balances and lots ----------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountState:
    id: int
    balance: int
    reserved: int


def account_state(session: Session, code: str) -> AccountState | None:
    """The account's stored balance and what holds reserve of it; ``None`` when not open."""
    row = session.execute(
        sa.select(Account.id, Account.balance, Account.reserved).where(Account.code == code)
    ).first()
    return None if row is None else AccountState(row[0], int(row[1]), int(row[2]))


def hold_pending_g(session: Session, *, hold_id: int, now: datetime) -> int:
    """What a hold still sets aside: its amount while pending and not past its expiry, else 0."""
    row = session.execute(
        sa.select(Hold.amount, Hold.status, Hold.expires_at).where(Hold.id == hold_id)
    ).first()
    if row is None or row.status != "pending":
        return 0
    if row.expires_at is not None and row.expires_at <= now:
        return 0
    return int(row.amount)


def lots_lapsed(session: Session, *, account_id: int, now: datetime) -> int:
    """What is left in the account's lots past their expiry: gone, even before the expiry job
    has posted them."""
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Lot.remaining), 0)).where(
                Lot.account_id == account_id, Lot.remaining > 0, Lot.expires_at <= now
            )
        )
        or 0
    )


def lots_expiring(session: Session, *, account_id: int, after: datetime, until: datetime) -> int:
    """What is left in the account's lots that expire after ``after`` and by ``until``."""
    return int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Lot.remaining), 0)).where(
                Lot.account_id == account_id,
                Lot.remaining > 0,
                Lot.expires_at > after,
                Lot.expires_at <= until,
            )
        )
        or 0
    )


def available(session: Session, *, account_id: int, now: datetime) -> int:
    """Spendable now: the balance less holds, counting lots past their expiry as gone. Read under
    the account's row lock (:func:`account_lock`) to spend it."""
    balance, reserved = session.execute(
        sa.select(Account.balance, Account.reserved).where(Account.id == account_id)
    ).one()
    return int(balance) - int(reserved) - lots_lapsed(session, account_id=account_id, now=now)


# -- movements ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Totals:
    """An account's movements over its life: credited, debited other than by expiry, expired."""

    credited: int = 0
    debited: int = 0
    expired: int = 0


def lifetime_totals(session: Session, *, account_id: int) -> Totals:
    postings = (
        sa.select(Posting.amount, Entry.kind)
        .join(Entry, Entry.id == Posting.entry_id)
        .where(Posting.account_id == account_id)
        .subquery()
    )
    amount, kind = postings.c.amount, postings.c.kind
    credited, debited, expired = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((amount > 0, amount))), 0),
            sa.func.coalesce(
                sa.func.sum(sa.case((sa.and_(amount < 0, kind != EXPIRY_KIND), -amount))), 0
            ),
            sa.func.coalesce(sa.func.sum(sa.case((kind == EXPIRY_KIND, -amount))), 0),
        )
    ).one()
    return Totals(int(credited), int(debited), int(expired))


@dataclass(frozen=True)
class Movement:
    kind: str
    amount: int
    at: datetime


def history(session: Session, *, account_id: int, limit: int) -> list[Movement]:
    """The account's latest ``limit`` postings, newest first."""
    rows = session.execute(
        sa.select(Entry.kind, Posting.amount, Entry.created_at)
        .join(Entry, Entry.id == Posting.entry_id)
        .where(Posting.account_id == account_id)
        .order_by(Posting.id.desc())
        .limit(limit)
    ).all()
    return [Movement(kind, amount, at) for kind, amount, at in rows]


@dataclass(frozen=True)
class StoredEntry:
    id: int
    request: dict[str, Any]


def entry_by_key(session: Session, key: str) -> StoredEntry | None:
    """The entry posted under an idempotency key, with its request as stored."""
    row = session.execute(
        sa.select(Entry.id, Entry.request).where(Entry.idempotency_key == key)
    ).first()
    return None if row is None else StoredEntry(row[0], row[1])


# -- an asset's liability -------------------------------------------------------------------------
def outstanding_by_owner_type(session: Session, *, asset: str) -> dict[str, int]:
    """What holders of ``asset`` hold, by owner type (issuers and the expiry sink aside)."""
    rows = session.execute(
        sa.select(Account.owner_type, sa.func.coalesce(sa.func.sum(Account.balance), 0))
        .where(Account.asset == asset, Account.allow_negative.is_(False))
        .where(Account.code != ledger.EXPIRY_SINKS[asset])
        .group_by(Account.owner_type)
        .order_by(Account.owner_type)
    ).all()
    return {owner_type: int(total) for owner_type, total in rows}


def expiring_by_month(session: Session, *, asset: str, zone: ZoneInfo) -> dict[str, int]:
    """What is left in lots of ``asset`` by the month they expire (``YYYY-MM`` in ``zone``)."""
    schedule: dict[str, int] = {}
    for expires_at, remaining in session.execute(
        sa.select(Lot.expires_at, Lot.remaining)
        .join(Account, Account.id == Lot.account_id)
        .where(Account.asset == asset, Lot.remaining > 0, Lot.expires_at.is_not(None))
        .order_by(Lot.expires_at)
    ):
        assert expires_at is not None  # the query keeps lots that end
        month = expires_at.astimezone(zone).strftime("%Y-%m")
        schedule[month] = schedule.get(month, 0) + int(remaining)
    return schedule


@dataclass
class MonthTotals:
    credited: int = 0
    debited: int = 0
    expired: int = 0


def movements_by_month(session: Session, *, asset: str, zone: ZoneInfo) -> dict[str, MonthTotals]:
    """Credits, debits (other than expiry) and expiries of lot-keeping holders of ``asset``, by
    the month of their entry (``YYYY-MM`` in ``zone``)."""
    months: dict[str, MonthTotals] = {}
    rows = session.execute(
        sa.select(Entry.created_at, Entry.kind, Posting.amount)
        .join(Entry, Entry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(Account.asset == asset, Account.allow_negative.is_(False), Account.uses_lots)
    )
    for created_at, kind, amount in rows:
        bucket = months.setdefault(created_at.astimezone(zone).strftime("%Y-%m"), MonthTotals())
        if kind == EXPIRY_KIND:
            bucket.expired += -amount
        elif amount > 0:
            bucket.credited += amount
        else:
            bucket.debited += -amount
    return months


# -- credit allocations ---------------------------------------------------------------------------
def allocation_by_batch(session: Session, *, allocation_id: int) -> list[tuple[int, int]]:
    """(batch id, grams) the allocation drew on each batch, by batch id."""
    rows = session.execute(
        sa.select(CreditSerialRange.batch_id, sa.func.sum(CreditAllocationPart.quantity_g))
        .join(CreditSerialRange, CreditSerialRange.id == CreditAllocationPart.range_id)
        .where(CreditAllocationPart.allocation_id == allocation_id)
        .group_by(CreditSerialRange.batch_id)
        .order_by(CreditSerialRange.batch_id)
    ).all()
    return [(batch_id, int(grams)) for batch_id, grams in rows]


@dataclass(frozen=True)
class FarmShare:
    """A farm's share of a batch, in parts per million, and the organisation it is linked to
    (``None`` until linked)."""

    farm_id: int
    share_ppm: int
    organisation_id: int | None


def batch_shares(session: Session, *, batch_id: int) -> list[FarmShare]:
    """The batch's farm shares, by farm id (they add up to one million ppm)."""
    rows = session.execute(
        sa.select(CreditBatchShare.farm_id, CreditBatchShare.share_ppm, CreditFarm.organisation_id)
        .join(CreditFarm, CreditFarm.id == CreditBatchShare.farm_id)
        .where(CreditBatchShare.batch_id == batch_id)
        .order_by(CreditBatchShare.farm_id)
    ).all()
    return [FarmShare(*row) for row in rows]


def allocations_pending(session: Session, *, target_type: str, done: Any, limit: int) -> list[int]:
    """Ids of allocations to ``target_type`` the caller has not handled yet, oldest first, at most
    ``limit``: ``done`` is the caller's column (in a table of its own) holding the ids of the
    allocations it has handled, so the ledger needs to know nothing of it."""
    return list(
        session.scalars(
            sa.select(CreditAllocation.id)
            .outerjoin(done.table, done == CreditAllocation.id)
            .where(CreditAllocation.target_type == target_type, done.is_(None))
            .order_by(CreditAllocation.id)
            .limit(limit)
        )
    )
