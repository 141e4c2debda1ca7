"""Labels: enterprises' products, their footprints, category benchmarks, and label applications
with every certification transition."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.base.orm import Base, ExactDecimal, utcnow
from service.base.units import GRAMS_PER_TONNE

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

#: Product categories; low-carbon benchmarks are set per category.
PRODUCT_CATEGORIES = ("milled_rice", "brown_rice", "glutinous_rice", "rice_flour", "other")
#: What one footprint value refers to: a kilogram of product, or one sales unit (a bag, a box).
DECLARED_UNITS = ("kg", "unit")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    gtin: Mapped[str] = mapped_column(sa.String(14), unique=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    name_en: Mapped[str] = mapped_column(sa.String(128), default="")
    category: Mapped[str] = mapped_column(sa.String(32))
    declared_unit: Mapped[str] = mapped_column(sa.String(8))
    #: Net content of one sales unit, in grams.
    net_content_g: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint("length(gtin) = 14", name="gtin_14_digits"),
        sa.CheckConstraint(_in("category", PRODUCT_CATEGORIES), name="category_known"),
        sa.CheckConstraint(_in("declared_unit", DECLARED_UNITS), name="declared_unit_known"),
        sa.CheckConstraint("net_content_g > 0", name="net_content_positive"),
    )


FOOTPRINT_METHODS = ("declared", "computed")
BOUNDARIES = ("cradle_to_gate", "cradle_to_grave", "farm_gate")
GWP_SET_NAMES = ("AR5", "AR6")
LABEL_SCHEMES = ("footprint", "low_carbon", "carbon_neutral")
LABEL_STATUSES = (
    "submitted",
    "under_review",
    "certified",
    "rejected",
    "suspended",
    "revoked",
    "expired",
)
KG = ExactDecimal(14, 4)


class Footprint(Base):
    """A product's carbon footprint per declared unit: declared with a verifier's report, or
    computed by the rice calculator from activity data. Never changed; a new one replaces it."""

    __tablename__ = "footprints"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), index=True)
    method: Mapped[str] = mapped_column(sa.String(16))
    kg_per_unit: Mapped[Decimal] = mapped_column(KG)
    kg_per_kg: Mapped[Decimal] = mapped_column(KG)
    low_kg_per_unit: Mapped[Decimal] = mapped_column(KG)
    high_kg_per_unit: Mapped[Decimal] = mapped_column(KG)
    declared_unit: Mapped[str] = mapped_column(sa.String(8))
    boundary: Mapped[str] = mapped_column(sa.String(32))
    gwp_set: Mapped[str] = mapped_column(sa.String(8))
    period_start: Mapped[date]
    period_end: Mapped[date]
    #: kg CO2e per kg of product, by stage.
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSON)
    data_quality: Mapped[dict[str, Any]] = mapped_column(JSON)
    verifier: Mapped[str] = mapped_column(sa.String(200), default="")
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: For computed footprints: the activity data, the factors used and the table's version.
    calculation: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(_in("method", FOOTPRINT_METHODS), name="method_known"),
        sa.CheckConstraint(_in("boundary", BOUNDARIES), name="boundary_known"),
        sa.CheckConstraint(_in("gwp_set", GWP_SET_NAMES), name="gwp_set_known"),
        # Cast: SQLite keeps exact decimals as text, which would compare as strings.
        sa.CheckConstraint(
            "CAST(kg_per_unit AS REAL) > 0 AND CAST(kg_per_kg AS REAL) > 0", name="positive"
        ),
        sa.CheckConstraint(
            "CAST(low_kg_per_unit AS REAL) <= CAST(kg_per_unit AS REAL) "
            "AND CAST(kg_per_unit AS REAL) <= CAST(high_kg_per_unit AS REAL)",
            name="in_range",
        ),
        sa.CheckConstraint("period_start <= period_end", name="period_ordered"),
    )


class Benchmark(Base):
    """A category's low-carbon benchmark, kg CO2e per kg, with where it comes from."""

    __tablename__ = "label_benchmarks"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(sa.String(32), index=True)
    kg_per_kg: Mapped[Decimal] = mapped_column(KG)
    source: Mapped[str] = mapped_column(sa.String(500))
    valid_from: Mapped[date]
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(_in("category", PRODUCT_CATEGORIES), name="category_known"),
        sa.CheckConstraint("CAST(kg_per_kg AS REAL) > 0", name="positive"),
        sa.UniqueConstraint("category", "valid_from"),
    )


class Label(Base):
    """An application for a label scheme on a product's footprint, and its certification."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"), index=True)
    footprint_id: Mapped[int] = mapped_column(sa.ForeignKey("footprints.id"))
    scheme: Mapped[str] = mapped_column(sa.String(16))
    #: Where the product is sold: market codes of ``labels.markets.MARKETS``, each once.
    markets: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(sa.String(16), default="submitted")
    benchmark_id: Mapped[int | None] = mapped_column(sa.ForeignKey("label_benchmarks.id"))
    certificate_number: Mapped[str | None] = mapped_column(sa.String(32), unique=True)
    valid_from: Mapped[date | None]
    valid_until: Mapped[date | None]
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    submitted_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint(_in("scheme", LABEL_SCHEMES), name="scheme_known"),
        sa.CheckConstraint(_in("status", LABEL_STATUSES), name="status_known"),
        sa.CheckConstraint(
            "(certificate_number IS NULL) = (valid_from IS NULL) "
            "AND (valid_from IS NULL) = (valid_until IS NULL)",
            name="certificate_complete",
        ),
        sa.CheckConstraint("valid_from IS NULL OR valid_from < valid_until", name="valid_window"),
        sa.CheckConstraint(
            "scheme <> 'low_carbon' OR status IN ('submitted', 'under_review', 'rejected') "
            "OR benchmark_id IS NOT NULL",
            name="low_carbon_has_benchmark",
        ),
    )


class LabelTransition(Base):
    """One status change of a label: who, when, why. Never changed."""

    __tablename__ = "label_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    label_id: Mapped[int] = mapped_column(sa.ForeignKey("labels.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(16))
    to_status: Mapped[str] = mapped_column(sa.String(16))
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


LOT_STATUSES = ("reserved", "paid", "retiring", "issued", "cancelled")
PAYMENT_PROVIDERS = ("offline", "wechatpay")


class LabelLot(Base):
    """An order of N units of a certified label under a lot number, and its codes.

    ``grams_required`` is N × the footprint per unit in grams (rounded up) for a carbon-neutral
    label, and 0 otherwise; the price snapshot is taken when the lot is ordered."""

    __tablename__ = "label_lots"

    id: Mapped[int] = mapped_column(primary_key=True)
    label_id: Mapped[int] = mapped_column(sa.ForeignKey("labels.id"), index=True)
    product_id: Mapped[int] = mapped_column(sa.ForeignKey("products.id"))
    lot_number: Mapped[str] = mapped_column(sa.String(20))
    units: Mapped[int] = mapped_column(sa.BigInteger)
    grams_per_unit: Mapped[int] = mapped_column(sa.BigInteger)
    grams_required: Mapped[int] = mapped_column(sa.BigInteger)
    price_per_tonne_fen: Mapped[int] = mapped_column(sa.BigInteger)
    service_fee_fen: Mapped[int] = mapped_column(sa.BigInteger)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16))
    hold_id: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Grams the order held in the enterprise's retired pool: all it needs, or what the pool
    #: had (the registry retires the rest on payment).
    held_g: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    allocation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("credit_allocations.id"))
    key_id: Mapped[str] = mapped_column(sa.String(1))
    payment_provider: Mapped[str | None] = mapped_column(sa.String(16))
    payment_reference: Mapped[str | None] = mapped_column(sa.String(64))
    ordered_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    paid_at: Mapped[datetime | None]
    issued_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    #: The registry request of a lot paid before its grams were retired (``labels.retiring``).
    retirement: Mapped[LotRetirement | None] = relationship(viewonly=True, lazy="select")

    __table_args__ = (
        sa.UniqueConstraint("product_id", "lot_number"),
        sa.CheckConstraint(_in("status", LOT_STATUSES), name="status_known"),
        sa.CheckConstraint("units > 0", name="units_positive"),
        sa.CheckConstraint("grams_required = units * grams_per_unit", name="grams_add_up"),
        sa.CheckConstraint("0 <= held_g AND held_g <= grams_required", name="held_within_required"),
        sa.CheckConstraint(
            "amount_fen >= service_fee_fen AND service_fee_fen >= 0", name="amount_covers_fee"
        ),
        sa.CheckConstraint(
            "payment_provider IS NULL OR " + _in("payment_provider", PAYMENT_PROVIDERS),
            name="payment_provider_known",
        ),
        sa.CheckConstraint(
            "status <> 'issued' OR grams_required = 0 OR allocation_id IS NOT NULL",
            name="issued_lots_are_backed",
        ),
    )

    @property
    def tonnes_to_retire(self) -> int:
        """Whole tonnes the registry must retire for the lot beyond what its order held."""
        return -(-(self.grams_required - self.held_g) // GRAMS_PER_TONNE)


LOT_RETIREMENT_STATUSES = ("pending", "retired", "refused")


class LotRetirement(Base):
    """A lot paid for before its enterprise had the retired grams: the registry is to retire
    ``quantity_t`` whole tonnes in the enterprise's name under ``reference``, our idempotency
    key. One row per lot (UNIQUE), written in the payment's transaction, so repeated payment
    notifications ask for one retirement; ``tanhui credits retire-pending`` takes it.

    ``pending`` until the registry confirms (``retired``, naming the recorded retirement) or
    refuses (``refused``, for an operator); an outage leaves it pending, counting attempts."""

    __tablename__ = "lot_retirements"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("label_lots.id"), unique=True)
    reference: Mapped[str] = mapped_column(sa.String(64), unique=True)
    quantity_t: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(200))
    retirement_id: Mapped[int | None] = mapped_column(sa.ForeignKey("credit_retirements.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(_in("status", LOT_RETIREMENT_STATUSES), name="status_known"),
        sa.CheckConstraint("quantity_t > 0", name="quantity_positive"),
        sa.CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        sa.CheckConstraint(
            "(status = 'retired') = (retirement_id IS NOT NULL)", name="retired_names_retirement"
        ),
    )


class UnitRevocation(Base):
    """Units of a lot revoked, as an index range (one unit: start = end). Never changed."""

    __tablename__ = "unit_revocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("label_lots.id"), index=True)
    index_start: Mapped[int] = mapped_column(sa.BigInteger)
    index_end: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str] = mapped_column(sa.String(500))
    revoked_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("0 <= index_start AND index_start <= index_end", name="range_ordered"),
    )


class UnitScan(Base):
    """How often a unit (or, with ``unit_index`` −1, a lot-level code) was resolved: a row appears
    on the first scan, so unscanned units cost nothing."""

    __tablename__ = "unit_scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("label_lots.id"))
    unit_index: Mapped[int] = mapped_column(sa.BigInteger)
    scan_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    first_scan_at: Mapped[datetime]
    last_scan_at: Mapped[datetime]
    #: GB/T 2260 province prefixes (two digits) the code was scanned from, as clients said.
    provinces: Mapped[list[str]] = mapped_column(JSON, default=list)
    last_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    __table_args__ = (
        sa.UniqueConstraint("lot_id", "unit_index"),
        sa.CheckConstraint("unit_index >= -1", name="unit_index_known"),
        sa.CheckConstraint("scan_count >= 0", name="scan_count_non_negative"),
    )


class ScanEvent(Base):
    """One counted scan not yet folded into ``unit_scans`` (the production profile).

    The durable record of a scan: the scan's request appends it, in one INSERT that locks no
    row (no foreign keys, whose checks would lock the lot's row against every other scan of
    it), and commits before answering, so an acknowledged scan survives Redis losing
    everything. ``tanhui scans flush`` folds these rows into ``unit_scans`` and deletes them in
    the same transaction: each is counted exactly once.
    """

    __tablename__ = "scan_events"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True
    )
    lot_id: Mapped[int] = mapped_column(sa.Integer)
    unit_index: Mapped[int] = mapped_column(sa.BigInteger)
    scanned_at: Mapped[datetime]
    province: Mapped[str | None] = mapped_column(sa.String(2))
    user_id: Mapped[int | None] = mapped_column(sa.Integer)

    __table_args__ = (
        sa.Index("ix_scan_events_lot_id_unit_index", "lot_id", "unit_index"),
        sa.CheckConstraint("unit_index >= -1", name="unit_index_known"),
    )
