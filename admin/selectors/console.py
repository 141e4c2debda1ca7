"""Reads for the console at ``/admin``: its counts, the lists operators, certifiers and auditors
search, a label application with its footprint, scan anomalies and ledger entries."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.models import Footprint, Label, LabelLot, LabelTransition, Product, UnitScan
from ledger.credits.models import CreditBatch, CreditImport, CreditProject
from ledger.models import Account, Entry, Posting
from service.base.parties.models import Organisation
from service.models import Publication

#: Registry files the credits page lists (the most recent).
CREDIT_IMPORTS_SHOWN = 10


def home_counts(session: Session) -> dict[str, int | None]:
    """What waits for staff: organisations to approve, lots to be paid, labels to decide."""
    return {
        "organisations_pending": session.scalar(
            sa.select(sa.func.count()).select_from(Organisation)
            .where(Organisation.status == "pending")
        ),
        "lots_unpaid": session.scalar(
            sa.select(sa.func.count()).select_from(LabelLot).where(LabelLot.status == "reserved")
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
        statement = statement.where(
            sa.or_(Product.name.contains(query, autoescape=True),
                   Product.gtin.contains(query, autoescape=True),
                   Organisation.name.contains(query, autoescape=True))
        )  # fmt: skip
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


def entries(*, key: str, kind: str, account: str) -> Any:
    """Ledger entries, newest first, by part of their idempotency key, kind or account code."""
    statement = sa.select(Entry).order_by(Entry.id.desc())
    if key:
        statement = statement.where(Entry.idempotency_key.contains(key, autoescape=True))
    if kind:
        statement = statement.where(Entry.kind == kind)
    if account:
        statement = statement.where(
            Entry.id.in_(
                sa.select(Posting.entry_id)
                .join(Account, Account.id == Posting.account_id)
                .where(Account.code == account)
            )
        )
    return statement


def postings_of(session: Session, entry_ids: list[int]) -> dict[int, list[tuple[str, str, int]]]:
    """Each entry's postings as (account code, asset, amount), in order."""
    postings: dict[int, list[tuple[str, str, int]]] = {}
    if entry_ids:
        for posting, code in session.execute(
            sa.select(Posting, Account.code)
            .join(Account, Account.id == Posting.account_id)
            .where(Posting.entry_id.in_(entry_ids))
            .order_by(Posting.id)
        ):
            postings.setdefault(posting.entry_id, []).append((code, posting.asset, posting.amount))
    return postings


def entry_kinds(session: Session) -> list[str]:
    """Every kind of entry the ledger holds, for the search's choices."""
    return list(session.scalars(sa.select(Entry.kind).distinct().order_by(Entry.kind)))


def credit_imports_recent(session: Session) -> list[CreditImport]:
    """The latest registry files imported."""
    return list(
        session.scalars(
            sa.select(CreditImport).order_by(CreditImport.id.desc()).limit(CREDIT_IMPORTS_SHOWN)
        )
    )


def credit_batches() -> Any:
    """Every credit batch with its project, newest first."""
    return (
        sa.select(CreditBatch, CreditProject)
        .join(CreditProject, CreditProject.id == CreditBatch.project_id)
        .order_by(CreditBatch.id.desc())
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
            sa.or_(LabelLot.lot_number.contains(query, autoescape=True),
                   Organisation.name.contains(query, autoescape=True),
                   Product.name.contains(query, autoescape=True))
        )  # fmt: skip
    return statement
