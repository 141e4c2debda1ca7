"""Footprints, category benchmarks, label applications and their transitions.

Footprints and transitions are records: triggers refuse UPDATE and DELETE of them. Exact decimals
are NUMERIC(14, 4) on PostgreSQL and text on SQLite (see service.base.orm.ExactDecimal).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 06:06:20.497026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from service.migrations.triggers import make_immutable, make_mutable

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


RECORD_TABLES = ("footprints", "label_transitions")


def _create_triggers() -> None:
    for table in RECORD_TABLES:
        make_immutable(table)


def _drop_triggers() -> None:
    for table in RECORD_TABLES:
        make_mutable(table)


def upgrade() -> None:
    op.create_table(
        "label_benchmarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column(
            "kg_per_kg", sa.Numeric(14, 4).with_variant(sa.String(16), "sqlite"), nullable=False
        ),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('milled_rice', 'brown_rice', 'glutinous_rice', 'rice_flour', 'other')",
            name=op.f("ck_label_benchmarks_category_known"),
        ),
        sa.CheckConstraint(
            "CAST(kg_per_kg AS REAL) > 0", name=op.f("ck_label_benchmarks_positive")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_label_benchmarks_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_benchmarks")),
        sa.UniqueConstraint(
            "category", "valid_from", name=op.f("uq_label_benchmarks_category_valid_from")
        ),
    )
    with op.batch_alter_table("label_benchmarks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_label_benchmarks_category"), ["category"], unique=False
        )

    op.create_table(
        "footprints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column(
            "kg_per_unit", sa.Numeric(14, 4).with_variant(sa.String(16), "sqlite"), nullable=False
        ),
        sa.Column(
            "kg_per_kg", sa.Numeric(14, 4).with_variant(sa.String(16), "sqlite"), nullable=False
        ),
        sa.Column(
            "low_kg_per_unit",
            sa.Numeric(14, 4).with_variant(sa.String(16), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "high_kg_per_unit",
            sa.Numeric(14, 4).with_variant(sa.String(16), "sqlite"),
            nullable=False,
        ),
        sa.Column("declared_unit", sa.String(length=8), nullable=False),
        sa.Column("boundary", sa.String(length=32), nullable=False),
        sa.Column("gwp_set", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column(
            "breakdown",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "data_quality",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("verifier", sa.String(length=200), nullable=False),
        sa.Column(
            "report",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "calculation",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "boundary IN ('cradle_to_gate', 'cradle_to_grave', 'farm_gate')",
            name=op.f("ck_footprints_boundary_known"),
        ),
        sa.CheckConstraint("gwp_set IN ('AR5', 'AR6')", name=op.f("ck_footprints_gwp_set_known")),
        sa.CheckConstraint(
            "method IN ('declared', 'computed')", name=op.f("ck_footprints_method_known")
        ),
        sa.CheckConstraint(
            "CAST(kg_per_unit AS REAL) > 0 AND CAST(kg_per_kg AS REAL) > 0",
            name=op.f("ck_footprints_positive"),
        ),
        sa.CheckConstraint(
            "CAST(low_kg_per_unit AS REAL) <= CAST(kg_per_unit AS REAL) AND CAST(kg_per_unit AS REAL) <= CAST(high_kg_per_unit AS REAL)",
            name=op.f("ck_footprints_in_range"),
        ),
        sa.CheckConstraint("period_start <= period_end", name=op.f("ck_footprints_period_ordered")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_footprints_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_footprints_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_footprints")),
    )
    with op.batch_alter_table("footprints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_footprints_product_id"), ["product_id"], unique=False)

    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("footprint_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("benchmark_id", sa.Integer(), nullable=True),
        sa.Column("certificate_number", sa.String(length=32), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("submitted_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scheme <> 'low_carbon' OR status IN ('submitted', 'under_review', 'rejected') OR benchmark_id IS NOT NULL",
            name=op.f("ck_labels_low_carbon_has_benchmark"),
        ),
        sa.CheckConstraint(
            "scheme IN ('footprint', 'low_carbon', 'carbon_neutral')",
            name=op.f("ck_labels_scheme_known"),
        ),
        sa.CheckConstraint(
            "status IN ('submitted', 'under_review', 'certified', 'rejected', 'suspended', 'revoked', 'expired')",
            name=op.f("ck_labels_status_known"),
        ),
        sa.CheckConstraint(
            "(certificate_number IS NULL) = (valid_from IS NULL) AND (valid_from IS NULL) = (valid_until IS NULL)",
            name=op.f("ck_labels_certificate_complete"),
        ),
        sa.CheckConstraint(
            "valid_from IS NULL OR valid_from < valid_until", name=op.f("ck_labels_valid_window")
        ),
        sa.ForeignKeyConstraint(
            ["benchmark_id"],
            ["label_benchmarks.id"],
            name=op.f("fk_labels_benchmark_id_label_benchmarks"),
        ),
        sa.ForeignKeyConstraint(
            ["footprint_id"], ["footprints.id"], name=op.f("fk_labels_footprint_id_footprints")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_labels_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by"], ["users.id"], name=op.f("fk_labels_submitted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_labels")),
        sa.UniqueConstraint("certificate_number", name=op.f("uq_labels_certificate_number")),
    )
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_labels_product_id"), ["product_id"], unique=False)

    op.create_table(
        "label_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_label_transitions_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["label_id"], ["labels.id"], name=op.f("fk_label_transitions_label_id_labels")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_label_transitions")),
    )
    with op.batch_alter_table("label_transitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_label_transitions_label_id"), ["label_id"], unique=False
        )
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("label_transitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_transitions_label_id"))

    op.drop_table("label_transitions")
    with op.batch_alter_table("labels", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_labels_product_id"))

    op.drop_table("labels")
    with op.batch_alter_table("footprints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_footprints_product_id"))

    op.drop_table("footprints")
    with op.batch_alter_table("label_benchmarks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_label_benchmarks_category"))

    op.drop_table("label_benchmarks")
