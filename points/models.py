"""Carbon points: versioned earning rules and once-only unit claims.

Points themselves live in the ledger (asset ``POINT``, FIFO lots with expiry); these tables say
why points were earned and make each unit claimable once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from service.orm import Base, utcnow

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
EVENT_TYPES = ("unit_claim", "label_purchase", "farm_share", "farm_practice", "operator_grant")
FORMULA_KINDS = ("fixed", "per_kg_co2e", "per_fen")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class PointRule(Base):
    """One version of the rule for an event type. Never changed: a change is a new version."""

    __tablename__ = "point_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(sa.String(32))
    version: Mapped[int]
    #: ``{"kind": "fixed", "points": 10}``, ``{"kind": "per_kg_co2e", "points_per_kg": 2}`` or
    #: ``{"kind": "per_fen", "points_per_100_fen": 1}``.
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("lot_id", "unit_index"),
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
