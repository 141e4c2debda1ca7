"""Sink credits: registries, projects, farms, batches, serial ranges, retirements, allocations.

Imports, batches, retirements and allocations are records: triggers refuse UPDATE and DELETE of
them, as of the journal. Serial ranges are state (an available range shrinks as tonnes retire);
``ledger verify`` checks that they tile their batches.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 05:49:44.832456
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.migrations.triggers import make_immutable, make_mutable

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


RECORD_TABLES = (
    "credit_imports",
    "credit_batches",
    "credit_batch_shares",
    "credit_retirements",
    "credit_allocations",
    "credit_allocation_parts",
)


def _create_triggers() -> None:
    for table in RECORD_TABLES:
        make_immutable(table)


def _drop_triggers() -> None:
    for table in RECORD_TABLES:
        make_mutable(table)


def upgrade() -> None:
    op.create_table(
        "credit_registries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_registries")),
        sa.UniqueConstraint("code", name=op.f("uq_credit_registries_code")),
    )
    op.create_table(
        "credit_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("batches_created", sa.Integer(), nullable=False),
        sa.Column("batches_unchanged", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "format IN ('csv', 'json')", name=op.f("ck_credit_imports_format_known")
        ),
        sa.ForeignKeyConstraint(
            ["imported_by"], ["users.id"], name=op.f("fk_credit_imports_imported_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_imports")),
        sa.UniqueConstraint("sha256", name=op.f("uq_credit_imports_sha256")),
    )
    op.create_table(
        "credit_projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("methodology", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["registry_id"],
            ["credit_registries.id"],
            name=op.f("fk_credit_projects_registry_id_credit_registries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_projects")),
        sa.UniqueConstraint(
            "registry_id", "external_id", name=op.f("uq_credit_projects_registry_id_external_id")
        ),
    )
    op.create_table(
        "credit_farms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_credit_farms_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["credit_projects.id"],
            name=op.f("fk_credit_farms_project_id_credit_projects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_farms")),
        sa.UniqueConstraint("project_id", "code", name=op.f("uq_credit_farms_project_id_code")),
    )
    op.create_table(
        "credit_allocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("quantity_g", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "target_type IN ('label_lot', 'personal_offset')",
            name=op.f("ck_credit_allocations_target_type_known"),
        ),
        sa.CheckConstraint("quantity_g > 0", name=op.f("ck_credit_allocations_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_credit_allocations_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_allocations")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_credit_allocations_idempotency_key")),
    )
    with op.batch_alter_table("credit_allocations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_allocations_target", ["target_type", "target_id"], unique=False
        )

    op.create_table(
        "credit_retirements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("registry_reference", sa.String(length=128), nullable=False),
        sa.Column("beneficiary", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        sa.Column("retired_on", sa.Date(), nullable=False),
        sa.Column("quantity_t", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("quantity_t > 0", name=op.f("ck_credit_retirements_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_credit_retirements_entry_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_credit_retirements_recorded_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["registry_id"],
            ["credit_registries.id"],
            name=op.f("fk_credit_retirements_registry_id_credit_registries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_retirements")),
        sa.UniqueConstraint(
            "registry_id",
            "registry_reference",
            name=op.f("uq_credit_retirements_registry_id_registry_reference"),
        ),
    )
    op.create_table(
        "credit_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("vintage", sa.Integer(), nullable=False),
        sa.Column("serial_start", sa.BigInteger(), nullable=False),
        sa.Column("serial_end", sa.BigInteger(), nullable=False),
        sa.Column("quantity_t", sa.BigInteger(), nullable=False),
        sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "quantity_t = serial_end - serial_start + 1",
            name=op.f("ck_credit_batches_one_serial_per_tonne"),
        ),
        sa.CheckConstraint("quantity_t > 0", name=op.f("ck_credit_batches_quantity_positive")),
        sa.CheckConstraint(
            "serial_start >= 0", name=op.f("ck_credit_batches_serial_start_non_negative")
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["credit_imports.id"],
            name=op.f("fk_credit_batches_import_id_credit_imports"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["ledger_lots.id"], name=op.f("fk_credit_batches_lot_id_ledger_lots")
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["credit_projects.id"],
            name=op.f("fk_credit_batches_project_id_credit_projects"),
        ),
        sa.ForeignKeyConstraint(
            ["registry_id"],
            ["credit_registries.id"],
            name=op.f("fk_credit_batches_registry_id_credit_registries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_batches")),
        sa.UniqueConstraint(
            "registry_id", "serial_start", name=op.f("uq_credit_batches_registry_id_serial_start")
        ),
    )
    with op.batch_alter_table("credit_batches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_batches_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "credit_batch_shares",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("farm_id", sa.Integer(), nullable=False),
        sa.Column("share_ppm", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "share_ppm > 0 AND share_ppm <= 1000000", name=op.f("ck_credit_batch_shares_share_ppm")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["credit_batches.id"],
            name=op.f("fk_credit_batch_shares_batch_id_credit_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["farm_id"],
            ["credit_farms.id"],
            name=op.f("fk_credit_batch_shares_farm_id_credit_farms"),
        ),
        sa.PrimaryKeyConstraint("batch_id", "farm_id", name=op.f("pk_credit_batch_shares")),
    )
    op.create_table(
        "credit_serial_ranges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("serial_start", sa.BigInteger(), nullable=False),
        sa.Column("serial_end", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("retirement_id", sa.Integer(), nullable=True),
        sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.CheckConstraint(
            "(status = 'retired') = (retirement_id IS NOT NULL AND lot_id IS NOT NULL)",
            name=op.f("ck_credit_serial_ranges_retired_has_retirement_and_lot"),
        ),
        sa.CheckConstraint(
            "status IN ('available', 'retired')", name=op.f("ck_credit_serial_ranges_status_known")
        ),
        sa.CheckConstraint(
            "serial_end >= serial_start", name=op.f("ck_credit_serial_ranges_not_empty")
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["credit_batches.id"],
            name=op.f("fk_credit_serial_ranges_batch_id_credit_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["ledger_lots.id"], name=op.f("fk_credit_serial_ranges_lot_id_ledger_lots")
        ),
        sa.ForeignKeyConstraint(
            ["retirement_id"],
            ["credit_retirements.id"],
            name=op.f("fk_credit_serial_ranges_retirement_id_credit_retirements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_serial_ranges")),
    )
    with op.batch_alter_table("credit_serial_ranges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_serial_ranges_batch_id"), ["batch_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_credit_serial_ranges_retirement_id"), ["retirement_id"], unique=False
        )

    op.create_table(
        "credit_allocation_parts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("range_id", sa.Integer(), nullable=False),
        sa.Column("retirement_id", sa.Integer(), nullable=False),
        sa.Column("quantity_g", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "quantity_g > 0", name=op.f("ck_credit_allocation_parts_quantity_positive")
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["credit_allocations.id"],
            name=op.f("fk_credit_allocation_parts_allocation_id_credit_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["range_id"],
            ["credit_serial_ranges.id"],
            name=op.f("fk_credit_allocation_parts_range_id_credit_serial_ranges"),
        ),
        sa.ForeignKeyConstraint(
            ["retirement_id"],
            ["credit_retirements.id"],
            name=op.f("fk_credit_allocation_parts_retirement_id_credit_retirements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_allocation_parts")),
    )
    with op.batch_alter_table("credit_allocation_parts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_allocation_parts_allocation_id"), ["allocation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_credit_allocation_parts_range_id"), ["range_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_credit_allocation_parts_retirement_id"), ["retirement_id"], unique=False
        )

    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("credit_allocation_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_allocation_parts_retirement_id"))
        batch_op.drop_index(batch_op.f("ix_credit_allocation_parts_range_id"))
        batch_op.drop_index(batch_op.f("ix_credit_allocation_parts_allocation_id"))

    op.drop_table("credit_allocation_parts")
    with op.batch_alter_table("credit_serial_ranges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_serial_ranges_retirement_id"))
        batch_op.drop_index(batch_op.f("ix_credit_serial_ranges_batch_id"))

    op.drop_table("credit_serial_ranges")
    op.drop_table("credit_batch_shares")
    with op.batch_alter_table("credit_batches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_batches_project_id"))

    op.drop_table("credit_batches")
    op.drop_table("credit_retirements")
    with op.batch_alter_table("credit_allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_allocations_target")

    op.drop_table("credit_allocations")
    op.drop_table("credit_farms")
    op.drop_table("credit_projects")
    op.drop_table("credit_imports")
    op.drop_table("credit_registries")
