"""Labels: enterprises' products (and, as later parts land, footprints, certifications, lots and
unit codes)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.orm import Base, utcnow

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
