"""Reads for the public portal: headline numbers, monthly series for charts, the label
registry, retirements, the log's state and the published notices.

Months are Asia/Shanghai calendar months, as every report of the service counts them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.models import Label, LabelLot, Product
from ledger.credits.disclosure import project_totals
from ledger.credits.models import (
    CreditAllocation,
    CreditBatch,
    CreditProject,
    CreditRetirement,
)
from ledger.tlog import latest_checkpoint
from service.base.parties.models import Organisation
from service.base.units import GRAMS_PER_TONNE, SHANGHAI
from service.models import Publication

#: Months a chart shows at most (the most recent).
CHART_MONTHS_MAX = 24


def month_of(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        moment = moment.astimezone(SHANGHAI)
    return f"{moment.year:04d}-{moment.month:02d}"


def headline(session: Session) -> dict[str, int]:
    """The programme in numbers: tonnes issued, retired and allocated; labels and units."""
    issued_t = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(CreditBatch.quantity_t), 0)))
    retired_t = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(CreditRetirement.quantity_t), 0))
    )
    allocated_g = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(CreditAllocation.quantity_g), 0))
    )
    labels = session.scalar(
        sa.select(sa.func.count()).select_from(Label).where(Label.status == "certified")
    )
    units = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LabelLot.units), 0)).where(
            LabelLot.status == "issued"
        )
    )
    projects = session.scalar(sa.select(sa.func.count()).select_from(CreditProject))
    return {
        "issued_t": int(issued_t),
        "retired_t": int(retired_t),
        "allocated_g": int(allocated_g),
        "labels_certified": int(labels or 0),
        "units_issued": int(units),
        "projects": int(projects or 0),
    }


def credits_by_month(session: Session) -> dict[str, list[Any]]:
    """Tonnes retired (by the registry's retirement date) and allocated, per month."""
    retired: dict[str, float] = defaultdict(float)
    allocated: dict[str, float] = defaultdict(float)
    for retired_on, quantity_t in session.execute(
        sa.select(CreditRetirement.retired_on, CreditRetirement.quantity_t)
    ):
        retired[month_of(retired_on)] += quantity_t
    for created_at, quantity_g in session.execute(
        sa.select(CreditAllocation.created_at, CreditAllocation.quantity_g)
    ):
        allocated[month_of(created_at)] += quantity_g / GRAMS_PER_TONNE
    months = sorted(set(retired) | set(allocated))[-CHART_MONTHS_MAX:]
    return {
        "months": months,
        "retired_t": [round(retired.get(month, 0), 3) for month in months],
        "allocated_t": [round(allocated.get(month, 0), 3) for month in months],
    }


def credits_by_project(session: Session) -> list[dict[str, Any]]:
    """Tonnes issued, retired and allocated per project (the disclosure's own totals)."""
    projects = session.scalars(sa.select(CreditProject).order_by(CreditProject.id)).all()
    totals = project_totals(session, [project.id for project in projects])
    return [{"project": project, **totals[project.id]} for project in projects]


def label_registry(query: str, status: str | None) -> Any:
    """Labels with their product and enterprise, newest first; ``query`` matches the product's
    name, its GTIN, the enterprise or the certificate number."""
    statement = (
        sa.select(Label, Product, Organisation)
        .join(Product, Product.id == Label.product_id)
        .join(Organisation, Organisation.id == Product.organisation_id)
        .where(Label.status.in_(("certified", "suspended", "revoked", "expired")))
        .order_by(Label.id.desc())
    )
    if status:
        statement = statement.where(Label.status == status)
    if query:
        statement = statement.where(
            sa.or_(
                Product.name.icontains(query, autoescape=True),
                Product.name_en.icontains(query, autoescape=True),
                Product.gtin.contains(query, autoescape=True),
                Organisation.name.icontains(query, autoescape=True),
                Label.certificate_number.icontains(query, autoescape=True),
            )
        )
    return statement


def retirements() -> Any:
    """Every retirement, newest first (a statement, for a paged list)."""
    return sa.select(CreditRetirement).order_by(CreditRetirement.id.desc())


def publications(kind: str | None = None) -> Any:
    """Published notices, newest first; of one ``kind`` when given."""
    statement = (
        sa.select(Publication)
        .where(Publication.status == "published")
        .order_by(Publication.published_at.desc(), Publication.id.desc())
    )
    if kind:
        statement = statement.where(Publication.kind == kind)
    return statement


def publications_latest(session: Session, *, limit: int) -> list[Publication]:
    """The latest published notices of either kind."""
    return list(session.scalars(publications().limit(limit)))


def log_state(session: Session) -> dict[str, Any] | None:
    checkpoint = latest_checkpoint(session)
    if checkpoint is None:
        return None
    return {
        "size": checkpoint.size,
        "root_hash_hex": checkpoint.root_hash.hex(),
        "note": checkpoint.note,
        "created_at": checkpoint.created_at,
    }


def publication_published(session: Session, slug: str) -> Publication | None:
    """The published notice at ``slug`` (drafts and withdrawn pages are not found)."""
    return session.scalars(
        sa.select(Publication).where(Publication.slug == slug, Publication.status == "published")
    ).one_or_none()
