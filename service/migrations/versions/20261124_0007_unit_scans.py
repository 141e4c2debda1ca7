"""Scan counts per unit (a row on the first scan only).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 06:24:50.805998
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unit_scans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("unit_index", sa.BigInteger(), nullable=False),
        sa.Column("scan_count", sa.BigInteger(), nullable=False),
        sa.Column("first_scan_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_scan_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "provinces",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("last_user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("scan_count >= 0", name=op.f("ck_unit_scans_scan_count_non_negative")),
        sa.CheckConstraint("unit_index >= -1", name=op.f("ck_unit_scans_unit_index_known")),
        sa.ForeignKeyConstraint(
            ["last_user_id"], ["users.id"], name=op.f("fk_unit_scans_last_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["label_lots.id"], name=op.f("fk_unit_scans_lot_id_label_lots")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_scans")),
        sa.UniqueConstraint("lot_id", "unit_index", name=op.f("uq_unit_scans_lot_id_unit_index")),
    )


def downgrade() -> None:
    op.drop_table("unit_scans")
