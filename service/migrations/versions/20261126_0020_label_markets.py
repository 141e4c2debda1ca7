"""Label markets: each label records the markets where its product is sold (``labels.markets``),
so a claim banned in one of them is refused. Labels applied for before this revision were for the
pilot's home market, mainland China, and get ``["CN"]``.

Added in two steps: nullable, filled, then NOT NULL.

Revision ID: 0020
Revises: 0018
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
HOME_MARKETS = ["CN"]


def upgrade() -> None:
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("markets", JSON, nullable=True))
    labels = sa.table("labels", sa.column("markets", JSON))
    op.execute(labels.update().values(markets=HOME_MARKETS))
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.alter_column("markets", existing_type=JSON, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_column("markets")
