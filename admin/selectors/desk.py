"""Reads for the enterprise desk at ``/desk``. Each takes the ids of the enterprises the
signed-in member of staff works for (or an object already reached through a reader check), so a
desk never lists another enterprise's rows."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from admin.selectors import matching
from labels import services
from labels.models import (
    Footprint,
    Label,
    LabelLot,
    LabelTransition,
    Product,
    UnitRevocation,
    UnitScan,
)
from points.models import UnitClaim
from service.base.parties.models import Organisation
from service.base.parties.services import Principal

#: Lots the desk's home lists (the most recent).
RECENT_LOTS = 5


def organisations(session: Session, ids: Collection[int]) -> list[Organisation]:
    if not ids:
        return []
    return list(
        session.scalars(
            sa.select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.id)
        )
    )


def home_counts(session: Session, ids: Collection[int]) -> dict[str, int | None]:
    """Products, certified labels and issued lots of the enterprises."""
    return {
        "products": session.scalar(
            sa.select(sa.func.count()).select_from(Product)
            .where(Product.organisation_id.in_(ids))
        ),
        "labels_certified": session.scalar(
            sa.select(sa.func.count()).select_from(Label)
            .join(Product, Product.id == Label.product_id)
            .where(Product.organisation_id.in_(ids), Label.status == "certified")
        ),
        "lots_issued": session.scalar(
            sa.select(sa.func.count()).select_from(LabelLot)
            .join(Product, Product.id == LabelLot.product_id)
            .where(Product.organisation_id.in_(ids), LabelLot.status == "issued")
        ),
    }  # fmt: skip


def lots_recent(session: Session, ids: Collection[int]) -> list[Any]:
    return list(
        session.execute(
            sa.select(LabelLot, Product)
            .join(Product, Product.id == LabelLot.product_id)
            .where(Product.organisation_id.in_(ids))
            .order_by(LabelLot.id.desc())
            .limit(RECENT_LOTS)
        ).all()
    )


def products(principal: Principal, *, query: str) -> Any:
    """The products the reader may see, newest first, searched by name or GTIN."""
    statement = services.products_visible(principal).order_by(None).order_by(Product.id.desc())
    if query:
        statement = statement.where(matching(query, Product.name, Product.gtin))
    return statement


def footprints_of(session: Session, product_id: int) -> list[Footprint]:
    return list(
        session.scalars(
            sa.select(Footprint)
            .where(Footprint.product_id == product_id)
            .order_by(Footprint.id.desc())
        )
    )


def applications_of(session: Session, product_id: int) -> list[Label]:
    return list(
        session.scalars(
            sa.select(Label).where(Label.product_id == product_id).order_by(Label.id.desc())
        )
    )


def labels(ids: Collection[int], *, status: str | None) -> Any:
    """The enterprises' labels with their product, newest first."""
    statement = (
        sa.select(Label, Product)
        .join(Product, Product.id == Label.product_id)
        .where(Product.organisation_id.in_(ids))
        .order_by(Label.id.desc())
    )
    if status:
        statement = statement.where(Label.status == status)
    return statement


def last_reasons(session: Session, label_ids: list[int]) -> dict[int, str]:
    """The reason of each label's latest decision that gave one."""
    reasons: dict[int, str] = {}
    if label_ids:
        for transition in session.scalars(
            sa.select(LabelTransition)
            .where(LabelTransition.label_id.in_(label_ids))
            .order_by(LabelTransition.id)
        ):
            if transition.reason:
                reasons[transition.label_id] = transition.reason
    return reasons


def lots(ids: Collection[int], *, status: str | None) -> Any:
    """The enterprises' lots with product and label, newest first."""
    statement = (
        sa.select(LabelLot, Product, Label)
        .join(Product, Product.id == LabelLot.product_id)
        .join(Label, Label.id == LabelLot.label_id)
        .where(Product.organisation_id.in_(ids))
        .order_by(LabelLot.id.desc())
    )
    if status:
        statement = statement.where(LabelLot.status == status)
    return statement


def labels_certified(session: Session, ids: Collection[int]) -> list[Any]:
    """The enterprises' certified labels with their product, the ones a lot may be ordered of."""
    return list(
        session.execute(
            sa.select(Label, Product)
            .join(Product, Product.id == Label.product_id)
            .where(Product.organisation_id.in_(ids), Label.status == "certified")
            .order_by(Product.name, Label.id)
        ).all()
    )


def revocations_of(session: Session, lot_id: int) -> list[UnitRevocation]:
    return list(
        session.scalars(
            sa.select(UnitRevocation).where(UnitRevocation.lot_id == lot_id)
            .order_by(UnitRevocation.id)
        )
    )  # fmt: skip


def _local_day(session: Session, column: Any) -> Any:
    """The Asia/Shanghai calendar day of a stored UTC time (no daylight saving there)."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(sa.func.timezone("Asia/Shanghai", column), sa.Date)
    return sa.func.date(column, "+8 hours")


def scan_statistics(session: Session, lot_id: int, *, now: datetime, days: int) -> dict[str, Any]:
    """Units scanned, scans in all, scans of the lot's own code and claims; and over the last
    ``days``, units first scanned and units claimed per local day (``{day: count}``)."""
    units = UnitScan.unit_index >= 0
    scanned, scans = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(UnitScan.scan_count), 0))
        .where(UnitScan.lot_id == lot_id, units)
    ).one()  # fmt: skip
    lot_code_scans = session.scalar(
        sa.select(UnitScan.scan_count).where(UnitScan.lot_id == lot_id, UnitScan.unit_index == -1)
    )
    claims = session.scalar(
        sa.select(sa.func.count()).select_from(UnitClaim).where(UnitClaim.lot_id == lot_id)
    )
    since = now - timedelta(days=days)
    first_day = _local_day(session, UnitScan.first_scan_at)
    claim_day = _local_day(session, UnitClaim.created_at)
    firsts = session.execute(
        sa.select(first_day, sa.func.count())
        .where(UnitScan.lot_id == lot_id, units, UnitScan.first_scan_at >= since)
        .group_by(first_day)
    ).all()
    claimed = session.execute(
        sa.select(claim_day, sa.func.count())
        .where(UnitClaim.lot_id == lot_id, UnitClaim.created_at >= since)
        .group_by(claim_day)
    ).all()
    return {
        "units_scanned": scanned,
        "scans": scans,
        "lot_code_scans": lot_code_scans or 0,
        "claims": claims,
        "first_scans_by_day": {str(day): count for day, count in firsts},
        "claims_by_day": {str(day): count for day, count in claimed},
    }
