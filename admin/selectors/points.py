"""Reads for the points pages: the console's rules, catalogue, orders and payouts, and a
reader's own orders and the unit a scan names at ``/me``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.models import LabelLot, Product
from points import rules as points_rules
from points.models import (
    EVENT_TYPES,
    CatalogueItem,
    FarmPayout,
    PayoutExport,
    PointRule,
    RedemptionOrder,
)
from service.base.parties.models import Organisation


def rules(*, event_type: str | None) -> Any:
    """Every version of every rule (of one event type when given), newest version first."""
    statement = sa.select(PointRule).order_by(PointRule.event_type, PointRule.version.desc())
    if event_type:
        statement = statement.where(PointRule.event_type == event_type)
    return statement


def rule_ids_in_force(session: Session, *, now: datetime) -> set[int]:
    """The rule version in force for each event type at ``now``."""
    return {
        rule.id
        for rule in (points_rules.rule_current(session, kind, now) for kind in EVENT_TYPES)
        if rule is not None
    }


def catalogue_items(*, audience: str | None) -> Any:
    """Catalogue items, newest first, for one audience when given."""
    statement = sa.select(CatalogueItem).order_by(CatalogueItem.id.desc())
    if audience:
        statement = statement.where(CatalogueItem.audience == audience)
    return statement


def orders(*, status: str | None) -> Any:
    """Redemption orders with their item, newest first."""
    statement = (
        sa.select(RedemptionOrder, CatalogueItem)
        .join(CatalogueItem, CatalogueItem.id == RedemptionOrder.item_id)
        .order_by(RedemptionOrder.id.desc())
    )
    if status:
        statement = statement.where(RedemptionOrder.status == status)
    return statement


def orders_of_reader(session: Session, *, user_id: int, limit: int) -> list[Any]:
    """A consumer's latest orders with their item."""
    return list(
        session.execute(
            sa.select(RedemptionOrder, CatalogueItem)
            .join(CatalogueItem, CatalogueItem.id == RedemptionOrder.item_id)
            .where(RedemptionOrder.owner_type == "user", RedemptionOrder.owner_id == user_id)
            .order_by(RedemptionOrder.id.desc())
            .limit(limit)
        ).all()
    )


def payouts(*, status: str | None) -> Any:
    """Farm payouts with their organisation, newest first."""
    statement = (
        sa.select(FarmPayout, Organisation)
        .join(Organisation, Organisation.id == FarmPayout.organisation_id)
        .order_by(FarmPayout.id.desc())
    )
    if status:
        statement = statement.where(FarmPayout.status == status)
    return statement


def payouts_waiting(session: Session) -> dict[str, int]:
    """Approved payouts not yet in a transfer file, counted by method."""
    return {
        method: total or 0
        for method, total in session.execute(
            sa.select(FarmPayout.method, sa.func.count())
            .where(FarmPayout.status == "approved")
            .group_by(FarmPayout.method)
        )
    }


def payout_exports() -> Any:
    """Transfer files, newest first."""
    return sa.select(PayoutExport).order_by(PayoutExport.id.desc())


def product_and_lot(session: Session, *, gtin: str, lot_number: str) -> Any:
    """The product and lot a unit's link names, or ``None``."""
    return session.execute(
        sa.select(Product, LabelLot)
        .join(LabelLot, LabelLot.product_id == Product.id)
        .where(Product.gtin == gtin, LabelLot.lot_number == lot_number)
    ).first()
