"""Which path a write takes: one statement on PostgreSQL, or the portable path every database runs.

The hottest writes (batches of entries, a unit claim's earning) have two implementations that
write the same rows: a few ORM statements that run on SQLite and PostgreSQL alike, and one
data-modifying statement that only PostgreSQL understands. Callers never choose; they ask
:func:`one_statement` with their session. The equivalence tests run the portable path on
PostgreSQL too, inside :func:`portable_path`, and compare the rows both paths wrote, so domain
signatures carry no flag for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

#: Dialects with a one-statement path.
ONE_STATEMENT_DIALECTS = frozenset({"postgresql"})

#: The key in ``Session.info`` that holds a forced choice of the portable path.
_PORTABLE_KEY = "ledger.portable_path"


def one_statement(session: Session) -> bool:
    """True when this session's writes may take the one-statement path."""
    if session.info.get(_PORTABLE_KEY):
        return False
    return session.get_bind().dialect.name in ONE_STATEMENT_DIALECTS


@contextmanager
def portable_path(session: Session) -> Iterator[None]:
    """Within the block, this session's writes take the portable path (nestable)."""
    previous = session.info.get(_PORTABLE_KEY, False)
    session.info[_PORTABLE_KEY] = True
    try:
        yield
    finally:
        session.info[_PORTABLE_KEY] = previous
