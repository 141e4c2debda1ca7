"""What every check of the audit shares: a limit on the findings each lists, and the totals the
rows are compared with."""

from __future__ import annotations

from typing import Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from ledger.models import AnyRow, AnySelect

#: A column or mapped attribute of any type.
Column: TypeAlias = "sa.ColumnElement[Any] | InstrumentedAttribute[Any]"

#: Findings listed per check at most; the count is always reported.
FINDINGS_PER_CHECK_MAX = 20


def totals(key: Column, amount: Column, *where: sa.ColumnElement[bool]) -> sa.Subquery:
    """``key`` and ``total`` = sum of ``amount`` per key: the other side of each comparison."""
    return (
        sa.select(key.label("key"), sa.func.sum(amount).label("total"))
        .where(*where)
        .group_by(key)
        .subquery()
    )


def rows(session: Session, statement: AnySelect) -> list[AnyRow]:
    """The first ``FINDINGS_PER_CHECK_MAX`` rows the statement finds."""
    return list(session.execute(statement.limit(FINDINGS_PER_CHECK_MAX)))
