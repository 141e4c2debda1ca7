"""The session's memory of accounts, and the one listener the ledger installs on every Session.

An account's terms (id, asset, issuer or not, lots or not) never change once it exists, so a
session looks each one up once (``ledger.entries.accounts``) and keeps it in ``Session.info``.
An account opened inside a transaction that is then rolled back may not exist, so on every
rollback the memory is dropped.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.entries.requests import AccountInfo

#: The key in ``Session.info`` that holds the accounts a session has seen, by code.
ACCOUNT_CACHE_KEY = "ledger.accounts"


def account_cache(session: Session) -> dict[str, AccountInfo]:
    """The accounts this session knows, by code (filled as it looks them up)."""
    cache: dict[str, AccountInfo] = session.info.setdefault(ACCOUNT_CACHE_KEY, {})
    return cache


@sa.event.listens_for(Session, "after_soft_rollback")
def _forget_accounts(session: Session, _previous: Any) -> None:
    """An account opened in a rolled-back transaction may not exist: forget every cached one.

    Installed on the ``Session`` class, so for every session in the process, because the ledger
    owns none of them: the service's request sessions, the command line's, the tests' and the
    benchmarks' come from different factories, and any of them may post entries. A listener on
    one factory would let a session from another keep an account its rollback undid. On a
    session that never touched the ledger it pops a key that is not there.
    """
    session.info.pop(ACCOUNT_CACHE_KEY, None)
