"""Points: farm practice records, the catalogue and redemption orders, farm payouts and their
exports, label-purchase rewards, claim flags; claims keep the claimant's region.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24 07:15:26.316596
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("price_points", sa.BigInteger(), nullable=False),
        sa.Column("stock_total", sa.BigInteger(), nullable=False),
        sa.Column("stock_available", sa.BigInteger(), nullable=False),
        sa.Column("per_party_limit", sa.Integer(), nullable=True),
        sa.Column("offset_g_per_unit", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(kind = 'personal_offset' AND offset_g_per_unit > 0)"
            " OR (kind <> 'personal_offset' AND offset_g_per_unit IS NULL)",
            name=op.f("ck_catalogue_items_offset_grams_iff_offset"),
        ),
        sa.CheckConstraint(
            "audience IN ('consumer', 'farm', 'enterprise')",
            name=op.f("ck_catalogue_items_audience_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('goods', 'voucher', 'personal_offset')",
            name=op.f("ck_catalogue_items_kind_known"),
        ),
        sa.CheckConstraint(
            "per_party_limit IS NULL OR per_party_limit > 0",
            name=op.f("ck_catalogue_items_per_party_limit_positive"),
        ),
        sa.CheckConstraint("price_points > 0", name=op.f("ck_catalogue_items_price_positive")),
        sa.CheckConstraint(
            "stock_available <= stock_total", name=op.f("ck_catalogue_items_stock_within_total")
        ),
        sa.CheckConstraint(
            "stock_available >= 0", name=op.f("ck_catalogue_items_stock_not_oversold")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_items")),
        sa.UniqueConstraint("code", name=op.f("uq_catalogue_items_code")),
    )
    op.create_table(
        "payout_exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("payouts", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "method IN ('bank', 'wechat')", name=op.f("ck_payout_exports_method_known")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_payout_exports_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payout_exports")),
    )
    op.create_table(
        "point_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_note", sa.String(length=500), nullable=False),
        sa.CheckConstraint(
            "kind IN ('claims_many_regions', 'claims_burst')",
            name=op.f("ck_point_flags_kind_known"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'dismissed', 'confirmed')", name=op.f("ck_point_flags_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_point_flags_resolved_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_point_flags_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_flags")),
        sa.UniqueConstraint(
            "kind", "user_id", "window_start", name=op.f("uq_point_flags_kind_user_id_window_start")
        ),
    )
    with op.batch_alter_table("point_flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_point_flags_user_id"), ["user_id"], unique=False)

    op.create_table(
        "farm_payouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("fen_per_100_points", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("payee_name", sa.String(length=64), nullable=False),
        sa.Column("payee_account", sa.String(length=64), nullable=False),
        sa.Column("bank_name", sa.String(length=64), nullable=False),
        sa.Column("hold_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=False),
        sa.Column("points_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("fen_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("export_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "method IN ('bank', 'wechat')", name=op.f("ck_farm_payouts_method_known")
        ),
        sa.CheckConstraint(
            "status IN ('requested', 'approved', 'rejected', 'exported')",
            name=op.f("ck_farm_payouts_status_known"),
        ),
        sa.CheckConstraint(
            "amount_fen * 100 = points * fen_per_100_points",
            name=op.f("ck_farm_payouts_amount_exact"),
        ),
        sa.CheckConstraint("amount_fen > 0", name=op.f("ck_farm_payouts_amount_positive")),
        sa.CheckConstraint("fen_per_100_points > 0", name=op.f("ck_farm_payouts_rate_positive")),
        sa.CheckConstraint("points > 0", name=op.f("ck_farm_payouts_points_positive")),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_farm_payouts_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["payout_exports.id"],
            name=op.f("fk_farm_payouts_export_id_payout_exports"),
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_farm_payouts_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_farm_payouts_requested_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_farm_payouts")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_farm_payouts_idempotency_key")),
    )
    with op.batch_alter_table("farm_payouts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_farm_payouts_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "practice_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("practice", sa.String(length=32), nullable=False),
        sa.Column("season_year", sa.Integer(), nullable=False),
        sa.Column("plot_ref", sa.String(length=64), nullable=False),
        sa.Column(
            "area_mu", sa.Numeric(12, 2).with_variant(sa.String(14), "sqlite"), nullable=False
        ),
        sa.Column(
            "inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "reduction_kg_co2e",
            sa.Numeric(14, 4).with_variant(sa.String(16), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "basis",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("evidence", sa.String(length=1000), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=False),
        sa.CheckConstraint(
            "practice IN ('intermittent_irrigation', 'straw_handling', 'nitrogen_rate')",
            name=op.f("ck_practice_records_practice_known"),
        ),
        sa.CheckConstraint(
            "status IN ('submitted', 'verified', 'rejected')",
            name=op.f("ck_practice_records_status_known"),
        ),
        sa.CheckConstraint("area_mu > 0", name=op.f("ck_practice_records_area_positive")),
        sa.CheckConstraint("points >= 0", name=op.f("ck_practice_records_points_non_negative")),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_practice_records_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_practice_records_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["point_rules.id"], name=op.f("fk_practice_records_rule_id_point_rules")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.id"], name=op.f("fk_practice_records_submitted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practice_records")),
        sa.UniqueConstraint(
            "organisation_id",
            "practice",
            "season_year",
            "plot_ref",
            name=op.f("uq_practice_records_organisation_id_practice_season_year_plot_ref"),
        ),
    )
    with op.batch_alter_table("practice_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_practice_records_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "redemption_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("owner_type", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("hold_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=True),
        sa.Column("allocation_id", sa.Integer(), nullable=True),
        sa.Column("certificate_number", sa.String(length=32), nullable=True),
        sa.Column("holder_name", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.CheckConstraint(
            "owner_type IN ('user', 'organisation')",
            name=op.f("ck_redemption_orders_owner_type_known"),
        ),
        sa.CheckConstraint(
            "status IN ('reserved', 'fulfilled', 'cancelled')",
            name=op.f("ck_redemption_orders_status_known"),
        ),
        sa.CheckConstraint("points > 0", name=op.f("ck_redemption_orders_points_positive")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_redemption_orders_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["credit_allocations.id"],
            name=op.f("fk_redemption_orders_allocation_id_credit_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_redemption_orders_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["catalogue_items.id"],
            name=op.f("fk_redemption_orders_item_id_catalogue_items"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"], ["users.id"], name=op.f("fk_redemption_orders_resolved_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption_orders")),
        sa.UniqueConstraint(
            "certificate_number", name=op.f("uq_redemption_orders_certificate_number")
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_redemption_orders_idempotency_key")),
    )
    with op.batch_alter_table("redemption_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_redemption_orders_item_id"), ["item_id"], unique=False)
        batch_op.create_index(
            "ix_redemption_orders_owner", ["owner_type", "owner_id", "item_id"], unique=False
        )

    op.create_table(
        "purchase_rewards",
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("points >= 0", name=op.f("ck_purchase_rewards_points_non_negative")),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["label_lots.id"], name=op.f("fk_purchase_rewards_lot_id_label_lots")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_purchase_rewards_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["point_rules.id"], name=op.f("fk_purchase_rewards_rule_id_point_rules")
        ),
        sa.PrimaryKeyConstraint("lot_id", name=op.f("pk_purchase_rewards")),
    )
    with op.batch_alter_table("unit_claims", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region_code", sa.String(length=6), nullable=True))
        batch_op.create_index("ix_unit_claims_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("unit_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_unit_claims_created_at")
        batch_op.drop_column("region_code")

    op.drop_table("purchase_rewards")
    with op.batch_alter_table("redemption_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_redemption_orders_owner")
        batch_op.drop_index(batch_op.f("ix_redemption_orders_item_id"))

    op.drop_table("redemption_orders")
    with op.batch_alter_table("practice_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_practice_records_organisation_id"))

    op.drop_table("practice_records")
    with op.batch_alter_table("farm_payouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_farm_payouts_organisation_id"))

    op.drop_table("farm_payouts")
    with op.batch_alter_table("point_flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_point_flags_user_id"))

    op.drop_table("point_flags")
    op.drop_table("payout_exports")
    op.drop_table("catalogue_items")
