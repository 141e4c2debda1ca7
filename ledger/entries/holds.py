"""Holds: an amount reserved on an account for a destination, later posted, voided or expired.

A pending hold raises its account's ``reserved``, so the available balance (balance − reserved)
excludes it. Every hold carries a client key: repeating it answers the original hold with
``Outcome.EXISTS``, with another request ``idempotency_conflict``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.entries.accounts import accounts_resolve
from ledger.entries.idempotency import request_compare
from ledger.entries.limits import AMOUNT_MAX, KEY_MAX_LENGTH_CHARS
from ledger.entries.posting import entries_post
from ledger.entries.requests import (
    EntryRequest,
    EntryResult,
    HoldResult,
    PostingRequest,
)
from ledger.entries.sql import insert_for
from ledger.errors import ErrorCode, LedgerError, Outcome
from ledger.models import Account, Entry, Hold
from service.base.exceptions import FieldMessage


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
            ErrorCode.ASSET_MISMATCH,
            FieldMessage(
                "{account} and {destination} hold different assets",
                account=account,
                destination=destination,
            ),
            field="destination",
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
        request_compare(hold.request, canonical)
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
            ErrorCode.HOLD_AMOUNT_EXCEEDED,
            FieldMessage("{amount} of {held}", amount=amount, held=hold.amount),
            field="amount",
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
