"""Which label-lot allocations have paid their farms' shares in points.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 06:48:28.261684
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "farm_distributions",
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("points >= 0", name=op.f("ck_farm_distributions_points_non_negative")),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["credit_allocations.id"],
            name=op.f("fk_farm_distributions_allocation_id_credit_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["point_rules.id"], name=op.f("fk_farm_distributions_rule_id_point_rules")
        ),
        sa.PrimaryKeyConstraint("allocation_id", name=op.f("pk_farm_distributions")),
    )


def downgrade() -> None:
    op.drop_table("farm_distributions")
