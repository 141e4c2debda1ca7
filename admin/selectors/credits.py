"""Reads for the sink-credit API: the lists it pages (statements, paged by the API's
pagination) over the ledger's credit tables."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ledger.credits.models import CreditBatch, CreditProject, CreditRetirement


def projects(*, region_code: str | None) -> Any:
    """Projects in id order, in one region when given."""
    statement = sa.select(CreditProject).order_by(CreditProject.id)
    if region_code is not None:
        statement = statement.where(CreditProject.region_code == region_code)
    return statement


def batches(*, project_id: int | None, vintage: int | None) -> Any:
    """Batches in id order, of one project and one vintage when given."""
    statement = sa.select(CreditBatch).order_by(CreditBatch.id)
    if project_id is not None:
        statement = statement.where(CreditBatch.project_id == project_id)
    if vintage is not None:
        statement = statement.where(CreditBatch.vintage == vintage)
    return statement


def retirements() -> Any:
    """Retirements, newest first."""
    return sa.select(CreditRetirement).order_by(CreditRetirement.id.desc())
