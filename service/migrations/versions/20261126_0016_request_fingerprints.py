"""Request fingerprints: each idempotent write keeps the SHA-256 of its whole request beside its
key, so a key used again with another request is refused (``points.idempotency``).

Nullable: rows written before this revision have none and are compared by their own fields, as
they were. Grants keep theirs in their ledger entry's metadata, which needs no column.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("unit_claims", "redemption_orders", "farm_payouts")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("request_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("request_sha256")
