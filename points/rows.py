"""Points' own rows (orders, payouts, practice records, flags) read for a decision on them."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.base.exceptions import NotFound


def locked(session: Session, model: type[Any], row_id: int) -> Any:
    """The row, locked for this transaction and read afresh (two operators deciding at once take
    turns, and the second sees the first's decision); ``NotFound`` when there is none."""
    row = session.scalars(
        sa.select(model)
        .where(model.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFound()
    return row
