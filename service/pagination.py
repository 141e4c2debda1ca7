"""Paging a SELECT for flask-smorest's ``@blp.paginate()`` views, with the page number bounded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.base.exceptions import FieldMessage, ValidationFailed

#: Pages past this are refused rather than turned into enormous OFFSETs.
PAGE_NUMBER_MAX = 100_000


def paginate(session: Session, statement: sa.Select[Any], pagination: Any) -> Sequence[Any]:
    """Count the rows of ``statement``, tell ``pagination`` the total, and return one page."""
    if pagination.page > PAGE_NUMBER_MAX:
        raise ValidationFailed.field(
            "page",
            FieldMessage(
                "Must be less than or equal to {page_number_max}.", page_number_max=PAGE_NUMBER_MAX
            ),
        )
    pagination.item_count = row_count(session, statement)
    return session.scalars(
        statement.offset(pagination.first_item).limit(pagination.page_size)
    ).all()


def row_count(session: Session, statement: sa.Select[Any]) -> int:
    """How many rows ``statement`` selects (its ORDER BY dropped)."""
    return int(
        session.scalar(sa.select(sa.func.count()).select_from(statement.order_by(None).subquery()))
        or 0
    )
