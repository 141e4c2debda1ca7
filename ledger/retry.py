"""Run a unit of work in its own transaction, retrying what the database asks to be retried.

Serialization failures (40001) and deadlocks (40P01) are PostgreSQL saying "try again"; SQLite
says it with SQLITE_BUSY, and SQLITE_BUSY_SNAPSHOT when another writer committed since this
transaction first read (its snapshot can no longer become a write). The work is rerun from the
start in a fresh transaction, at most ``TRANSACTION_ATTEMPTS_MAX`` times.
Idempotency keys make the rerun safe even if an earlier attempt's commit was in fact applied.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
TRANSACTION_ATTEMPTS_MAX = 8
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})
#: SQLITE_BUSY, SQLITE_BUSY_RECOVERY, SQLITE_BUSY_SNAPSHOT (the extended result codes).
RETRYABLE_SQLITE_CODES = frozenset({5, 261, 517})
BACKOFF_BASE_S = 0.002


def retryable(error: BaseException) -> bool:
    """Whether the database asked for a retry, through SQLAlchemy or straight from the driver."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    return (
        getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES
        or getattr(cause, "sqlite_errorcode", None) in RETRYABLE_SQLITE_CODES
    )


def in_transaction(
    sessions: Session | sessionmaker[Session] | Callable[[], Session],
    work: Callable[[Session], T],
    *,
    attempts: int = TRANSACTION_ATTEMPTS_MAX,
) -> T:
    """Run ``work`` in a transaction of a session: the one given (kept open afterwards, with
    its connection), or a new one from a factory (closed afterwards)."""
    for attempt in range(1, attempts + 1):
        if isinstance(sessions, Session):
            session, owned = sessions, False
        else:
            session, owned = sessions(), True
        try:
            with session.begin():
                return work(session)
        except Exception as error:
            if not retryable(error) or attempt == attempts:
                raise
            time.sleep(BACKOFF_BASE_S * attempt * (1 + random.random()))  # noqa: S311
        finally:
            if owned:
                session.close()
    raise AssertionError("unreachable")
