"""Accounts: opening them (one or many at once) and looking them up by code.

Every account is opened idempotently: opening one that exists with the same terms returns it, with
other terms raises ``account_conflict``. Lookups go through the session's memory
(``ledger.entries.account_cache``), as an account's terms never change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.entries.account_cache import account_cache
from ledger.entries.requests import AccountInfo, AccountSpec, Balance
from ledger.entries.sql import among, array_literal, insert_for
from ledger.errors import ErrorCode, LedgerError
from ledger.models import ASSETS, Account, Posting
from service.base.exceptions import FieldMessage

#: Longest account code.
ACCOUNT_CODE_MAX_LENGTH_CHARS = 128


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
        raise LedgerError(
            ErrorCode.ASSET_MISMATCH,
            FieldMessage("unknown asset {asset}", asset=asset),
            field="asset",
        )
    if not code or len(code) > ACCOUNT_CODE_MAX_LENGTH_CHARS:
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
            raise LedgerError(
                ErrorCode.ACCOUNT_CONFLICT,
                FieldMessage("{code} has another {name}", code=code, name=name),
                field=name,
            )
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
        raise LedgerError(
            ErrorCode.ASSET_MISMATCH,
            FieldMessage("unknown asset {asset}", asset=asset),
            field="asset",
        )
    codes = sorted(owners)
    if any(not code or len(code) > ACCOUNT_CODE_MAX_LENGTH_CHARS for code in codes):
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
                 "codes": array_literal(chunk),
                 "owners": array_literal([owners[code] for code in chunk])},
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
            raise LedgerError(
                ErrorCode.ACCOUNT_CONFLICT, FieldMessage("{code} has other terms", code=conflicting)
            )


def _info(account: Account) -> AccountInfo:
    return AccountInfo(
        account.id, account.code, account.asset, account.allow_negative, account.uses_lots
    )


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
            account_cache(session)[spec.code] = info
        else:
            for name in ("asset", "allow_negative", "uses_lots"):
                if getattr(info, name) != getattr(spec, name):
                    raise LedgerError(
                        ErrorCode.ACCOUNT_CONFLICT,
                        FieldMessage("{code} has another {name}", code=spec.code, name=name),
                        field=name,
                    )
        result[spec.code] = info
    return result


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
    cache = account_cache(session)
    for row in rows:
        cache[row[1]] = AccountInfo(*row)


def _accounts_lookup(session: Session, codes: Iterable[str]) -> dict[str, AccountInfo]:
    """The accounts among ``codes`` that exist, from the session's memory or one query."""
    cache = account_cache(session)
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
        return Balance(code, info.asset, int(total or 0), 0)
    balance, reserved = session.execute(
        sa.select(Account.balance, Account.reserved).where(Account.id == info.id)
    ).one()
    return Balance(code, info.asset, balance, reserved)
