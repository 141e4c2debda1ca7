"""Reads for the console at ``/admin``: its counts, the lists operators, certifiers and auditors
search, a label application with its footprint and scan anomalies. The ledger's entries and the
credit registry are read through the ledger's own selectors (``ledger.selectors``,
``ledger.credits.selectors``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from admin.selectors import matching
from labels.models import (
    Footprint,
    Label,
    LabelLot,
    LabelTransition,
    LotRetirement,
    Product,
    UnitScan,
)
from service.base.parties.models import Organisation
from service.models import Publication


def home_counts(session: Session) -> dict[str, int | None]:
    """What waits for staff: organisations to approve, lots to be paid, lots paid while the
    registry retires their credits (and the requests it refused, for an operator), labels to
    decide."""
    return {
        "organisations_pending": session.scalar(
            sa.select(sa.func.count()).select_from(Organisation)
            .where(Organisation.status == "pending")
        ),
        "lots_unpaid": session.scalar(
            sa.select(sa.func.count()).select_from(LabelLot).where(LabelLot.status == "reserved")
        ),
        "lots_retiring": session.scalar(
            sa.select(sa.func.count()).select_from(LabelLot).where(LabelLot.status == "retiring")
        ),
        "retirements_refused": session.scalar(
            sa.select(sa.func.count()).select_from(LotRetirement)
            .where(LotRetirement.status == "refused")
        ),
        "labels_waiting": session.scalar(
            sa.select(sa.func.count()).select_from(Label)
            .where(Label.status.in_(("submitted", "under_review")))
        ),
    }  # fmt: skip


def organisations(*, status: str | None, kind: str | None, query: str) -> Any:
    """Organisations other than the platform, newest first, filtered and searched by name."""
    statement = (
        sa.select(Organisation)
        .where(Organisation.kind != "platform")
        .order_by(Organisation.id.desc())
    )
    if status:
        statement = statement.where(Organisation.status == status)
    if kind:
        statement = statement.where(Organisation.kind == kind)
    if query:
        statement = statement.where(Organisation.name.contains(query, autoescape=True))
    return statement


def labels(*, status: str | None, query: str) -> Any:
    """Label applications with product and enterprise, newest first; ``query`` matches the
    product's name or GTIN, or the enterprise."""
    statement = (
        sa.select(Label, Product, Organisation)
        .join(Product, Product.id == Label.product_id)
        .join(Organisation, Organisation.id == Product.organisation_id)
        .order_by(Label.id.desc())
    )
    if status:
        statement = statement.where(Label.status == status)
    if query:
        statement = statement.where(matching(query, Product.name, Product.gtin, Organisation.name))
    return statement


def label_with_footprint(session: Session, label_id: int) -> Any:
    """One label with its product, enterprise and footprint, or ``None``."""
    return session.execute(
        sa.select(Label, Product, Organisation, Footprint)
        .join(Product, Product.id == Label.product_id)
        .join(Organisation, Organisation.id == Product.organisation_id)
        .join(Footprint, Footprint.id == Label.footprint_id)
        .where(Label.id == label_id)
    ).first()


def label_transitions(session: Session, label_id: int) -> list[LabelTransition]:
    """A label's decisions, oldest first."""
    return list(
        session.scalars(
            sa.select(LabelTransition).where(LabelTransition.label_id == label_id)
            .order_by(LabelTransition.id)
        )
    )  # fmt: skip


def publications(*, kind: str | None) -> Any:
    """Every publication (drafts and withdrawn ones too), newest first."""
    statement = sa.select(Publication).order_by(Publication.id.desc())
    if kind:
        statement = statement.where(Publication.kind == kind)
    return statement


def scan_anomalies(session: Session, *, warning_count: int) -> Any:
    """Codes scanned more than ``warning_count`` times or from more than one province, with
    their lot and product, most recently scanned first."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    length = sa.func.jsonb_array_length if postgresql else sa.func.json_array_length
    provinces = length(UnitScan.provinces)
    return (
        sa.select(UnitScan, LabelLot, Product)
        .join(LabelLot, LabelLot.id == UnitScan.lot_id)
        .join(Product, Product.id == LabelLot.product_id)
        .where(sa.or_(UnitScan.scan_count > warning_count, provinces > 1))
        .order_by(UnitScan.last_scan_at.desc(), UnitScan.id.desc())
    )


def lots(*, status: str | None, query: str) -> Any:
    """Label lots with product and enterprise, newest first; ``query`` matches the lot number,
    the enterprise or the product."""
    statement = (
        sa.select(LabelLot, Product, Organisation)
        .join(Product, Product.id == LabelLot.product_id)
        .join(Organisation, Organisation.id == Product.organisation_id)
        .order_by(LabelLot.id.desc())
    )
    if status:
        statement = statement.where(LabelLot.status == status)
    if query:
        statement = statement.where(
            matching(query, LabelLot.lot_number, Organisation.name, Product.name)
        )
    return statement
