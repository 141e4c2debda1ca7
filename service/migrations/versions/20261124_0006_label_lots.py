"""Label lots (orders of units under a lot number) and unit revocations (records).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 06:13:20.244153
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.migrations.triggers import make_immutable, make_mutable

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "label_lots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot_number", sa.String(length=20), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("grams_per_unit", sa.BigInteger(), nullable=False),
        sa.Column("grams_required", sa.BigInteger(), nullable=False),
        sa.Column("price_per_tonne_fen", sa.BigInteger(), nullable=False),
        sa.Column("service_fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("hold_id", sa.BigInteger(), nullable=True),
        sa.Column("allocation_id", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.String(length=1), nullable=False),
        sa.Column("payment_provider", sa.String(length=16), nullable=True),
        sa.Column("payment_reference", sa.String(length=64), nullable=True),
        sa.Column("ordered_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "payment_provider IS NULL OR payment_provider IN ('offline', 'wechatpay')",
            name=op.f("ck_label_lots_payment_provider_known"),
        ),
        sa.CheckConstraint(
            "status <> 'issued' OR grams_required = 0 OR allocation_id IS NOT NULL",
            name=op.f("ck_label_lots_issued_lots_are_backed"),
        ),
        sa.CheckConstraint(
            "status IN ('reserved', 'paid', 'issued', 'cancelled')",
            name=op.f("ck_label_lots_status_known"),
        ),
        sa.CheckConstraint(
            "amount_fen >= service_fee_fen AND service_fee_fen >= 0",
            name=op.f("ck_label_lots_amount_covers_fee"),
        ),
        sa.CheckConstraint(
            "grams_required = units * grams_per_unit", name=op.f("ck_label_lots_grams_add_up")
        ),
        sa.CheckConstraint("units > 0", name=op.f("ck_label_lots_units_positive")),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["credit_allocations.id"],
            name=op.f("fk_label_lots_allocation_id_credit_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["label_id"], ["labels.id"], name=op.f("fk_label_lots_label_id_labels")
        ),
        sa.ForeignKeyConstraint(
            ["ordered_by"], ["users.id"], name=op.f("fk_label_lots_ordered_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_label_lots_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_lots")),
        sa.UniqueConstraint(
            "product_id", "lot_number", name=op.f("uq_label_lots_product_id_lot_number")
        ),
    )
    with op.batch_alter_table("label_lots", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_label_lots_label_id"), ["label_id"], unique=False)

    op.create_table(
        "unit_revocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("index_start", sa.BigInteger(), nullable=False),
        sa.Column("index_end", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("revoked_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "0 <= index_start AND index_start <= index_end",
            name=op.f("ck_unit_revocations_range_ordered"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["label_lots.id"], name=op.f("fk_unit_revocations_lot_id_label_lots")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by"], ["users.id"], name=op.f("fk_unit_revocations_revoked_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_revocations")),
    )
    with op.batch_alter_table("unit_revocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_revocations_lot_id"), ["lot_id"], unique=False)
    make_immutable("unit_revocations")


def downgrade() -> None:
    make_mutable("unit_revocations")
    with op.batch_alter_table("unit_revocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_revocations_lot_id"))

    op.drop_table("unit_revocations")
    with op.batch_alter_table("label_lots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_lots_label_id"))

    op.drop_table("label_lots")
