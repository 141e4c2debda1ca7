"""Lot expiry: what is left of a lot past its expiry moves to the asset's expiry sink account."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.entries.accounts import account_open
from ledger.entries.posting import entry_post
from ledger.entries.requests import EntryRequest, EntryResult, PostingRequest
from ledger.models import ASSETS, Account, Lot

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
