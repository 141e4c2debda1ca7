"""The ledger accounts sink credits live in, the limits of a credit request, and the registry
lock that imports and retirements of one registry take turns on.

Accounts (all ``CREDIT_G``, grams CO2e):

* ``registry:{code}:issued``: the registry's issuance, an issuer account (may go negative);
* ``platform:credits:inventory``: batches held, one lot per batch;
* ``credits:retired:org:{id}``: tonnes retired for one beneficiary organisation, one lot per
  retired serial range. One account per claimant makes a claimant's balance, and its holds, its
  own: a lot's order holds only its enterprise's retired grams;
* ``platform:credits:retired``: the one shared retired pool of retirements recorded before
  migration 0017 (their grams stay there; allocations draw on them by beneficiary);
* ``platform:credits:allocated``: grams allocated to targets; which ranges they came from is
  recorded in ``credit_allocation_parts``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.credits.models import CreditRegistry
from ledger.entries.accounts import account_open

INVENTORY_ACCOUNT = "platform:credits:inventory"
RETIRED_ACCOUNT = "platform:credits:retired"
ALLOCATED_ACCOUNT = "platform:credits:allocated"
ASSET = "CREDIT_G"
RETIREMENT_LINES_MAX = 100
ALLOCATION_RETIREMENTS_MAX = 100
TARGET_ID_MAX_LENGTH_CHARS = 64
KEY_MAX_LENGTH_CHARS = 128
REFERENCE_MAX_LENGTH_CHARS = 128
BENEFICIARY_MAX_LENGTH_CHARS = 200
PURPOSE_MAX_LENGTH_CHARS = 500


def retired_account(organisation_id: int) -> str:
    """The retired pool of one beneficiary (the claimant its grams may back)."""
    return f"credits:retired:org:{organisation_id}"


def issuer_account(registry_code: str) -> str:
    return f"registry:{registry_code}:issued"


def accounts_open(
    session: Session, registry_code: str | None = None, *, beneficiary_id: int | None = None
) -> None:
    """Open the platform's credit accounts (and a registry's issuer account, a beneficiary's
    retired pool); idempotent."""
    account_open(
        session, code=INVENTORY_ACCOUNT, asset=ASSET, owner_type="platform", uses_lots=True
    )
    account_open(session, code=RETIRED_ACCOUNT, asset=ASSET, owner_type="platform", uses_lots=True)
    account_open(session, code=ALLOCATED_ACCOUNT, asset=ASSET, owner_type="platform")
    if beneficiary_id is not None:
        account_open(
            session,
            code=retired_account(beneficiary_id),
            asset=ASSET,
            owner_type="organisation",
            owner_id=beneficiary_id,
            uses_lots=True,
        )
    if registry_code is not None:
        account_open(
            session,
            code=issuer_account(registry_code),
            asset=ASSET,
            owner_type="registry",
            allow_negative=True,
        )


def registry_lock(session: Session, code: str) -> CreditRegistry | None:
    """The registry row, locked: imports and retirements of one registry take turns."""
    return session.scalars(
        sa.select(CreditRegistry).where(CreditRegistry.code == code).with_for_update()
    ).first()
