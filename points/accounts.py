"""Points accounts: each party's points are a ledger account of asset ``POINT`` with FIFO lots
(every earning is a lot that expires after its rule's validity), issued from
``platform:points:issued``. Points are rewards, never carbon claims."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ledger import entries as ledger

ISSUER_ACCOUNT = "platform:points:issued"
ASSET = "POINT"


def account_code(owner_type: str, owner_id: int) -> str:
    return f"{owner_type}:{owner_id}:points"


def account_open(session: Session, owner_type: str, owner_id: int) -> str:
    """Open the party's points account (and the issuer) unless open; returns its code."""
    code = account_code(owner_type, owner_id)
    ledger.accounts_ensure(
        session,
        [
            ledger.AccountSpec(ISSUER_ACCOUNT, ASSET, "platform", allow_negative=True),
            ledger.AccountSpec(code, ASSET, owner_type, owner_id, uses_lots=True),
        ],
    )
    return code
