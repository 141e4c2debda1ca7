"""Point rules (versioned, never changed) and once-only unit claims.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 06:46:16.656214
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from service.migrations.triggers import make_immutable, make_mutable

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "point_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "formula",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("cap_per_day", sa.Integer(), nullable=True),
        sa.Column("cap_per_month", sa.Integer(), nullable=True),
        sa.Column("validity_days", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "event_type IN ('unit_claim', 'label_purchase', 'farm_share', 'farm_practice', 'operator_grant')",
            name=op.f("ck_point_rules_event_type_known"),
        ),
        sa.CheckConstraint(
            "cap_per_day IS NULL OR cap_per_day > 0",
            name=op.f("ck_point_rules_cap_per_day_positive"),
        ),
        sa.CheckConstraint(
            "cap_per_month IS NULL OR cap_per_month > 0",
            name=op.f("ck_point_rules_cap_per_month_positive"),
        ),
        sa.CheckConstraint("validity_days > 0", name=op.f("ck_point_rules_validity_positive")),
        sa.CheckConstraint("version > 0", name=op.f("ck_point_rules_version_positive")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_point_rules_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_rules")),
        sa.UniqueConstraint(
            "event_type", "version", name=op.f("uq_point_rules_event_type_version")
        ),
    )
    op.create_table(
        "unit_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("unit_index", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("points >= 0", name=op.f("ck_unit_claims_points_non_negative")),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["label_lots.id"], name=op.f("fk_unit_claims_lot_id_label_lots")
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["point_rules.id"], name=op.f("fk_unit_claims_rule_id_point_rules")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_unit_claims_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_claims")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_unit_claims_idempotency_key")),
        sa.UniqueConstraint("lot_id", "unit_index", name=op.f("uq_unit_claims_lot_id_unit_index")),
    )
    with op.batch_alter_table("unit_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_claims_user_id"), ["user_id"], unique=False)
    make_immutable("point_rules")


def downgrade() -> None:
    make_mutable("point_rules")
    with op.batch_alter_table("unit_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_claims_user_id"))

    op.drop_table("unit_claims")
    op.drop_table("point_rules")
