"""Scan events: the durable record of each counted scan until the flusher folds it.

Production kept unflushed scan counts in Redis only, so a Redis that restarted empty lost them.
Each scan's request now appends a row here (no foreign keys: the INSERT locks nothing) and
``tanhui scans flush`` folds the rows into ``unit_scans``, deleting them as it counts them.

Deploying: run the old ``tanhui scans flush`` once before upgrading, so counts the old code left
in Redis reach ``unit_scans``. Downgrade drops the table: fold it first (``tanhui scans flush``),
or its scans are lost.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scan_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("unit_index", sa.BigInteger(), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("unit_index >= -1", name=op.f("ck_scan_events_unit_index_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scan_events")),
    )
    op.create_index("ix_scan_events_lot_id_unit_index", "scan_events", ["lot_id", "unit_index"])


def downgrade() -> None:
    op.drop_index("ix_scan_events_lot_id_unit_index", table_name="scan_events")
    op.drop_table("scan_events")
