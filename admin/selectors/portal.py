"""Reads for the public portal: headline numbers, monthly series for charts, the label
registry, the log's state and the published notices. The credit registry's figures come from
the ledger's selectors (``ledger.credits.selectors``); this module shapes them for the pages.

Months are Asia/Shanghai calendar months, as every report of the service counts them.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.models import Label, LabelLot, Product
from ledger.credits import selectors as credit_selectors
from ledger.credits.disclosure import project_totals
from ledger.tlog import proofs
from ledger.tlog.witnessing import published_checkpoint, witness_states
from service.base.parties.models import Organisation
from service.base.units import GRAMS_PER_TONNE, SHANGHAI
from service.models import Publication

#: Months a chart shows at most (the most recent).
CHART_MONTHS_MAX = 24


def headline(session: Session) -> dict[str, int]:
    """The programme in numbers: tonnes issued, retired and allocated; labels and units."""
    figures = credit_selectors.registry_figures(session)
    labels = session.scalar(
        sa.select(sa.func.count()).select_from(Label).where(Label.status == "certified")
    )
    units = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(LabelLot.units), 0)).where(
            LabelLot.status == "issued"
        )
    )
    return {
        "issued_t": figures.issued_t,
        "retired_t": figures.retired_t,
        "allocated_g": figures.allocated_g,
        "labels_certified": int(labels or 0),
        "units_issued": int(units),
        "projects": figures.projects,
    }


def credits_by_month(session: Session) -> dict[str, list[Any]]:
    """Tonnes retired (by the registry's retirement date) and allocated, per month, for the
    most recent :data:`CHART_MONTHS_MAX` months with either; a month without one shows 0."""
    monthly = credit_selectors.credits_by_month(session, zone=SHANGHAI)
    retired, allocated = monthly.retired_t, monthly.allocated_g
    months = sorted(set(retired) | set(allocated))[-CHART_MONTHS_MAX:]
    return {
        "months": months,
        "retired_t": [round(float(retired[month]), 3) if month in retired else 0
                      for month in months],
        "allocated_t": [round(allocated[month] / GRAMS_PER_TONNE, 3) if month in allocated else 0
                        for month in months],
    }  # fmt: skip


def credits_by_project(session: Session) -> list[dict[str, Any]]:
    """Tonnes issued, retired and allocated per project (the disclosure's own totals)."""
    projects = credit_selectors.projects_all(session)
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


#: Leaves the log's page lists, newest first.
LOG_LEAVES_SHOWN = 20


def log_state(session: Session, *, quorum: int, witnesses: list[Any]) -> dict[str, Any] | None:
    """The published checkpoint (with its cosignatures), each configured witness's state, and
    the newest leaves with their data parsed for reading."""
    published = published_checkpoint(session, quorum=quorum)
    if published is None:
        return None
    states = witness_states(session)
    cosigned = {row.witness: row for row in published["cosignatures"]}
    leaves = []
    for leaf in proofs.leaves_latest(session, limit=LOG_LEAVES_SHOWN):
        data = json.loads(leaf.data)
        leaves.append({"leaf": leaf, "data": data, "entry_kind": data.get("kind")})
    return {
        **published,
        "root_hash_hex": published["root_hash"].hex(),
        "witnesses": [
            {
                "name": witness.name,
                "cosignature": cosigned.get(witness.name),
                "state": states.get(witness.name),
            }
            for witness in witnesses
        ],
        "leaves": leaves,
    }


def publication_published(session: Session, slug: str) -> Publication | None:
    """The published notice at ``slug`` (drafts and withdrawn pages are not found)."""
    return session.scalars(
        sa.select(Publication).where(Publication.slug == slug, Publication.status == "published")
    ).one_or_none()
