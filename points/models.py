"""Carbon points: versioned earning rules and once-only unit claims.

Points themselves live in the ledger (asset ``POINT``, FIFO lots with expiry); these tables say
why points were earned and make each unit claimable once.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from service.base.orm import Base, ExactDecimal, utcnow

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
EVENT_TYPES = ("unit_claim", "label_purchase", "farm_share", "farm_practice", "operator_grant")
FORMULA_KINDS = ("fixed", "per_kg_co2e", "per_fen", "per_mu")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class PointRule(Base):
    """One version of the rule for an event type. Never changed: a change is a new version."""

    __tablename__ = "point_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(sa.String(32))
    version: Mapped[int]
    #: ``{"kind": "fixed", "points": 10}``, ``{"kind": "per_kg_co2e", "points_per_kg": 2}`` or
    #: ``{"kind": "per_fen", "points_per_100_fen": 1}``
    #: or ``{"kind": "per_mu", "points_per_mu": 5}``.
    formula: Mapped[dict[str, Any]] = mapped_column(JSON)
    cap_per_day: Mapped[int | None]
    cap_per_month: Mapped[int | None]
    validity_days: Mapped[int]
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("event_type", "version"),
        sa.CheckConstraint(_in("event_type", EVENT_TYPES), name="event_type_known"),
        sa.CheckConstraint("version > 0", name="version_positive"),
        sa.CheckConstraint("cap_per_day IS NULL OR cap_per_day > 0", name="cap_per_day_positive"),
        sa.CheckConstraint(
            "cap_per_month IS NULL OR cap_per_month > 0", name="cap_per_month_positive"
        ),
        sa.CheckConstraint("validity_days > 0", name="validity_positive"),
    )


class UnitClaim(Base):
    """A consumer's claim of one scanned unit: at most one per unit, ever."""

    __tablename__ = "unit_claims"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("label_lots.id"))
    unit_index: Mapped[int] = mapped_column(sa.BigInteger)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("point_rules.id"))
    points: Mapped[int] = mapped_column(sa.BigInteger)
    entry_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    idempotency_key: Mapped[str] = mapped_column(sa.String(128), unique=True)
    #: The whole request's fingerprint (``points.idempotency``); none on rows from before it.
    request_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    #: The claimant's GB/T 2260 region, when the mini-program knows it (for abuse flags).
    region_code: Mapped[str | None] = mapped_column(sa.String(6))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("lot_id", "unit_index"),
        sa.Index("ix_unit_claims_created_at", "created_at"),
        sa.CheckConstraint("points >= 0", name="points_non_negative"),
    )


class FarmDistribution(Base):
    """A label lot's allocation whose farm shares have been paid out in points (once)."""

    __tablename__ = "farm_distributions"

    allocation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("credit_allocations.id"), primary_key=True
    )
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("point_rules.id"))
    points: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.CheckConstraint("points >= 0", name="points_non_negative"),)


# -- farm practice records ------------------------------------------------------------------------
PRACTICES = ("intermittent_irrigation", "straw_handling", "nitrogen_rate")
PRACTICE_STATUSES = ("submitted", "verified", "rejected")


class PracticeRecord(Base):
    """A farm's low-carbon practice in one season on one plot. The reduction is computed with the
    rice formulas as information only, never a carbon claim; points follow an operator's check."""

    __tablename__ = "practice_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    practice: Mapped[str] = mapped_column(sa.String(32))
    season_year: Mapped[int]
    plot_ref: Mapped[str] = mapped_column(sa.String(64))
    area_mu: Mapped[Decimal] = mapped_column(ExactDecimal(12, 2))
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    reduction_kg_co2e: Mapped[Decimal] = mapped_column(ExactDecimal(14, 4))
    basis: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(sa.String(16), default="submitted")
    points: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rule_id: Mapped[int | None] = mapped_column(sa.ForeignKey("point_rules.id"))
    entry_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    evidence: Mapped[str] = mapped_column(sa.String(1000), default="")
    submitted_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(sa.String(500), default="")

    __table_args__ = (
        # One record per plot, practice and season: a reduction is not counted twice.
        sa.UniqueConstraint("organisation_id", "practice", "season_year", "plot_ref"),
        sa.CheckConstraint(_in("practice", PRACTICES), name="practice_known"),
        sa.CheckConstraint(_in("status", PRACTICE_STATUSES), name="status_known"),
        sa.CheckConstraint("area_mu > 0", name="area_positive"),
        sa.CheckConstraint("points >= 0", name="points_non_negative"),
    )


# -- catalogue and redemption ---------------------------------------------------------------------
AUDIENCES = ("consumer", "farm", "enterprise")
ITEM_KINDS = ("goods", "voucher", "personal_offset")
ORDER_STATUSES = ("reserved", "fulfilled", "cancelled")
OWNER_TYPES = ("user", "organisation")


class CatalogueItem(Base):
    """Something points buy. ``stock_available`` is what is left to order; the database refuses
    to let it fall below zero, so stock is never oversold."""

    __tablename__ = "catalogue_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name_zh: Mapped[str] = mapped_column(sa.String(128))
    name_en: Mapped[str] = mapped_column(sa.String(128))
    description: Mapped[str] = mapped_column(sa.String(1000), default="")
    audience: Mapped[str] = mapped_column(sa.String(16))
    kind: Mapped[str] = mapped_column(sa.String(16))
    price_points: Mapped[int] = mapped_column(sa.BigInteger)
    stock_total: Mapped[int] = mapped_column(sa.BigInteger)
    stock_available: Mapped[int] = mapped_column(sa.BigInteger)
    per_party_limit: Mapped[int | None]
    offset_g_per_unit: Mapped[int | None] = mapped_column(sa.BigInteger)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint(_in("audience", AUDIENCES), name="audience_known"),
        sa.CheckConstraint(_in("kind", ITEM_KINDS), name="kind_known"),
        sa.CheckConstraint("price_points > 0", name="price_positive"),
        sa.CheckConstraint("stock_available >= 0", name="stock_not_oversold"),
        sa.CheckConstraint("stock_available <= stock_total", name="stock_within_total"),
        sa.CheckConstraint(
            "per_party_limit IS NULL OR per_party_limit > 0", name="per_party_limit_positive"
        ),
        sa.CheckConstraint(
            "(kind = 'personal_offset' AND offset_g_per_unit > 0)"
            " OR (kind <> 'personal_offset' AND offset_g_per_unit IS NULL)",
            name="offset_grams_iff_offset",
        ),
    )


class RedemptionOrder(Base):
    """An order of catalogue items: its points are held and its stock reserved until it is
    fulfilled or cancelled. A personal offset is fulfilled at once, with its certificate."""

    __tablename__ = "redemption_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("catalogue_items.id"), index=True)
    owner_type: Mapped[str] = mapped_column(sa.String(16))
    owner_id: Mapped[int]
    quantity: Mapped[int]
    points: Mapped[int] = mapped_column(sa.BigInteger)
    hold_id: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16), default="reserved")
    idempotency_key: Mapped[str] = mapped_column(sa.String(160), unique=True)
    request_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    entry_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    allocation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("credit_allocations.id"))
    certificate_number: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    #: The name a personal offset's certificate is made out to (the holder's choice).
    holder_name: Mapped[str] = mapped_column(sa.String(64), default="")
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(sa.String(500), default="")

    __table_args__ = (
        sa.Index("ix_redemption_orders_owner", "owner_type", "owner_id", "item_id"),
        sa.CheckConstraint(_in("owner_type", OWNER_TYPES), name="owner_type_known"),
        sa.CheckConstraint(_in("status", ORDER_STATUSES), name="status_known"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("points > 0", name="points_positive"),
    )


# -- farm payouts ---------------------------------------------------------------------------------
PAYOUT_STATUSES = ("requested", "approved", "rejected", "exported")
PAYOUT_METHODS = ("bank", "wechat")


class PayoutExport(Base):
    """A file of approved payouts handed to the bank or to WeChat Pay's transfer service."""

    __tablename__ = "payout_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    method: Mapped[str] = mapped_column(sa.String(16))
    payouts: Mapped[int]
    total_fen: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.CheckConstraint(_in("method", PAYOUT_METHODS), name="method_known"),)


class FarmPayout(Base):
    """A farm's request to turn points into fen: held on request, posted through the ledger on an
    operator's approval, then exported for transfer."""

    __tablename__ = "farm_payouts"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    points: Mapped[int] = mapped_column(sa.BigInteger)
    fen_per_100_points: Mapped[int]
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    method: Mapped[str] = mapped_column(sa.String(16))
    payee_name: Mapped[str] = mapped_column(sa.String(64))
    payee_account: Mapped[str] = mapped_column(sa.String(64))
    bank_name: Mapped[str] = mapped_column(sa.String(64), default="")
    hold_id: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16), default="requested")
    idempotency_key: Mapped[str] = mapped_column(sa.String(160), unique=True)
    request_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    requested_by: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(sa.String(500), default="")
    points_entry_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    fen_entry_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    export_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payout_exports.id"))

    __table_args__ = (
        sa.CheckConstraint(_in("status", PAYOUT_STATUSES), name="status_known"),
        sa.CheckConstraint(_in("method", PAYOUT_METHODS), name="method_known"),
        sa.CheckConstraint("points > 0", name="points_positive"),
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("fen_per_100_points > 0", name="rate_positive"),
        sa.CheckConstraint("amount_fen * 100 = points * fen_per_100_points", name="amount_exact"),
    )


# -- label purchases and flags --------------------------------------------------------------------
class PurchaseReward(Base):
    """A paid label lot whose enterprise has earned its purchase points (once)."""

    __tablename__ = "purchase_rewards"

    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("label_lots.id"), primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    rule_id: Mapped[int] = mapped_column(sa.ForeignKey("point_rules.id"))
    points: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.CheckConstraint("points >= 0", name="points_non_negative"),)


FLAG_KINDS = ("claims_many_regions", "claims_burst")
FLAG_STATUSES = ("open", "dismissed", "confirmed")


class PointFlag(Base):
    """A pattern of claims an operator should look at: one per user, kind and window."""

    __tablename__ = "point_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    window_start: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None]
    resolution_note: Mapped[str] = mapped_column(sa.String(500), default="")

    __table_args__ = (
        sa.UniqueConstraint("kind", "user_id", "window_start"),
        sa.CheckConstraint(_in("kind", FLAG_KINDS), name="kind_known"),
        sa.CheckConstraint(_in("status", FLAG_STATUSES), name="status_known"),
    )
