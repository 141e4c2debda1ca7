"""What every check of the audit shares: a limit on the findings each lists, and the totals the
rows are compared with."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

#: Findings listed per check at most; the count is always reported.
FINDINGS_PER_CHECK_MAX = 20


def totals(
    key: sa.ColumnElement[Any], amount: sa.ColumnElement[Any], *where: sa.ColumnElement[bool]
) -> sa.Subquery:
    """``key`` and ``total`` = sum of ``amount`` per key: the other side of each comparison."""
    return (
        sa.select(key.label("key"), sa.func.sum(amount).label("total"))
        .where(*where)
        .group_by(key)
        .subquery()
    )


def rows(session: Session, statement: sa.Select[Any]) -> list[sa.Row[Any]]:
    """The first ``FINDINGS_PER_CHECK_MAX`` rows the statement finds."""
    return list(session.execute(statement.limit(FINDINGS_PER_CHECK_MAX)))
