"""Retire on payment: a lot paid before its enterprise had the retired grams waits as
``retiring`` while the registry retires the tonnes still needed, one ``lot_retirements`` row per
lot (UNIQUE lot, UNIQUE reference: the idempotency key the registry is asked with). A lot
records the grams its order held (``held_g``); lots ordered before this revision held them all.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-26 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

OLD_LOT_STATUSES = "'reserved', 'paid', 'issued', 'cancelled'"
NEW_LOT_STATUSES = "'reserved', 'paid', 'retiring', 'issued', 'cancelled'"


def upgrade() -> None:
    with op.batch_alter_table("label_lots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_g", sa.BigInteger(), nullable=True))
    lots = sa.table("label_lots", sa.column("held_g"), sa.column("grams_required"))
    op.execute(lots.update().values(held_g=lots.c.grams_required))
    with op.batch_alter_table("label_lots", schema=None) as batch_op:
        batch_op.alter_column("held_g", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_check_constraint(
            "held_within_required", "0 <= held_g AND held_g <= grams_required"
        )
        batch_op.drop_constraint(op.f("ck_label_lots_status_known"), type_="check")
        batch_op.create_check_constraint("status_known", f"status IN ({NEW_LOT_STATUSES})")
    op.create_table(
        "lot_retirements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("quantity_t", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("retirement_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'retired', 'refused')",
            name=op.f("ck_lot_retirements_status_known"),
        ),
        sa.CheckConstraint("quantity_t > 0", name=op.f("ck_lot_retirements_quantity_positive")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_lot_retirements_attempts_non_negative")),
        sa.CheckConstraint(
            "(status = 'retired') = (retirement_id IS NOT NULL)",
            name=op.f("ck_lot_retirements_retired_names_retirement"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["label_lots.id"], name=op.f("fk_lot_retirements_lot_id_label_lots")
        ),
        sa.ForeignKeyConstraint(
            ["retirement_id"],
            ["credit_retirements.id"],
            name=op.f("fk_lot_retirements_retirement_id_credit_retirements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot_retirements")),
        sa.UniqueConstraint("lot_id", name=op.f("uq_lot_retirements_lot_id")),
        sa.UniqueConstraint("reference", name=op.f("uq_lot_retirements_reference")),
    )


def downgrade() -> None:
    op.drop_table("lot_retirements")
    with op.batch_alter_table("label_lots", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_label_lots_status_known"), type_="check")
        batch_op.create_check_constraint("status_known", f"status IN ({OLD_LOT_STATUSES})")
        batch_op.drop_constraint(op.f("ck_label_lots_held_within_required"), type_="check")
        batch_op.drop_column("held_g")
