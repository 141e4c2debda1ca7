"""Products of enterprises, identified by GTIN-14.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 06:02:41.174177
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("declared_unit", sa.String(length=8), nullable=False),
        sa.Column("net_content_g", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('milled_rice', 'brown_rice', 'glutinous_rice', 'rice_flour', 'other')",
            name=op.f("ck_products_category_known"),
        ),
        sa.CheckConstraint(
            "declared_unit IN ('kg', 'unit')", name=op.f("ck_products_declared_unit_known")
        ),
        sa.CheckConstraint("length(gtin) = 14", name=op.f("ck_products_gtin_14_digits")),
        sa.CheckConstraint("net_content_g > 0", name=op.f("ck_products_net_content_positive")),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_products_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("gtin", name=op.f("uq_products_gtin")),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_products_organisation_id"), ["organisation_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_products_organisation_id"))

    op.drop_table("products")
