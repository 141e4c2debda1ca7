"""The claimant rule: a retirement names its beneficiary organisation, an allocation its
claimant, and each allocation part both, held equal by two composite foreign keys.

Existing rows are backfilled, never rewritten: a retirement's beneficiary organisation is the one
organisation whose name its beneficiary text matches (``ledger.credits.beneficiary_matches``); an
allocation's claimant is its label lot's enterprise, or for a personal offset the personal-offset
programme (the organisation whose USCC ``PERSONAL_OFFSET_PROGRAMME_USCC`` gives, else the
platform organisation). A part whose claimant is not its retirement's beneficiary keeps a null
claimant (the foreign keys do not hold it) and is recorded in ``credit_allocation_findings`` for
an operator to resolve; the migration prints each. ``ledger verify`` reports recorded findings
and fails on any other violation.

Grams retired before this revision stay in the shared pool ``platform:credits:retired``;
allocations still draw on them by beneficiary.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

import os
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from service.migrations.triggers import make_immutable, make_mutable

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

RECORD_TABLES = ("credit_retirements", "credit_allocations", "credit_allocation_parts")
PROGRAMME_SETTING = "PERSONAL_OFFSET_PROGRAMME_USCC"


def _matches(beneficiary: str, organisation_name: str) -> bool:
    """As ``ledger.credits.beneficiary_matches`` at this revision (a migration keeps its own)."""
    written, name = " ".join(beneficiary.split()), " ".join(organisation_name.split())
    return bool(written) and written in (name, name.split(" ", 1)[0])


def upgrade() -> None:
    for table in RECORD_TABLES:
        make_mutable(table)
    with op.batch_alter_table("credit_retirements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("beneficiary_organisation_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("credit_allocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimant_organisation_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("credit_allocation_parts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimant_organisation_id", sa.Integer(), nullable=True))
    _findings_create()
    findings = _backfill(op.get_bind())
    _constraints_create()
    for table in RECORD_TABLES:
        make_immutable(table)
    for line in findings:
        print(f"0017 finding: {line}")  # noqa: T201 - the migration's report to the operator


def _findings_create() -> None:
    op.create_table(
        "credit_allocation_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("retirement_id", sa.Integer(), nullable=False),
        sa.Column("claimant_organisation_id", sa.Integer(), nullable=True),
        sa.Column("beneficiary_organisation_id", sa.Integer(), nullable=True),
        sa.Column("problem", sa.String(length=32), nullable=False),
        sa.Column("quantity_g", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "problem IN ('other_beneficiary', 'beneficiary_unknown', 'claimant_unknown')",
            name=op.f("ck_credit_allocation_findings_problem_known"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'resolved')",
            name=op.f("ck_credit_allocation_findings_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["credit_allocations.id"],
            name=op.f("fk_credit_allocation_findings_allocation_id_credit_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["retirement_id"],
            ["credit_retirements.id"],
            name=op.f("fk_credit_allocation_findings_retirement_id_credit_retirements"),
        ),
        sa.ForeignKeyConstraint(
            ["claimant_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_credit_allocation_findings_claimant_organisation_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["beneficiary_organisation_id"],
            ["organisations.id"],
            name=op.f("fk_credit_allocation_findings_beneficiary_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_allocation_findings")),
        sa.UniqueConstraint(
            "allocation_id",
            "retirement_id",
            name=op.f("uq_credit_allocation_findings_allocation_id_retirement_id"),
        ),
    )
    with op.batch_alter_table("credit_allocation_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_allocation_findings_allocation_id"),
            ["allocation_id"],
            unique=False,
        )


def _constraints_create() -> None:
    with op.batch_alter_table("credit_retirements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_retirements_beneficiary_organisation_id"),
            ["beneficiary_organisation_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_credit_retirements_beneficiary_organisation_id_organisations"),
            "organisations",
            ["beneficiary_organisation_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(
            "uq_credit_retirements_id_beneficiary", ["id", "beneficiary_organisation_id"]
        )
    with op.batch_alter_table("credit_allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_allocations_claimant_organisation_id"),
            ["claimant_organisation_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_credit_allocations_claimant_organisation_id_organisations"),
            "organisations",
            ["claimant_organisation_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(
            "uq_credit_allocations_id_claimant", ["id", "claimant_organisation_id"]
        )
    with op.batch_alter_table("credit_allocation_parts", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_credit_allocation_parts_claimant_is_beneficiary",
            "credit_retirements",
            ["retirement_id", "claimant_organisation_id"],
            ["id", "beneficiary_organisation_id"],
        )
        batch_op.create_foreign_key(
            "fk_credit_allocation_parts_claimant_of_allocation",
            "credit_allocations",
            ["allocation_id", "claimant_organisation_id"],
            ["id", "claimant_organisation_id"],
        )


def _backfill(bind: sa.Connection) -> list[str]:
    """Fill the new columns from what the rows say; record each part that breaks the rule."""
    organisations = bind.execute(sa.text("SELECT id, name, uscc, kind FROM organisations")).all()
    for retirement_id, beneficiary in bind.execute(
        sa.text("SELECT id, beneficiary FROM credit_retirements")
    ).all():
        matched = [o.id for o in organisations if _matches(beneficiary, o.name)]
        if len(matched) == 1:
            bind.execute(
                sa.text(
                    "UPDATE credit_retirements SET beneficiary_organisation_id = :o WHERE id = :i"
                ),
                {"o": matched[0], "i": retirement_id},
            )
    uscc = os.environ.get(PROGRAMME_SETTING, "").strip()
    programme = next(
        (o.id for o in organisations if (o.uscc == uscc if uscc else o.kind == "platform")), None
    )
    bind.execute(
        sa.text(
            "UPDATE credit_allocations SET claimant_organisation_id = (SELECT p.organisation_id "
            "FROM label_lots l JOIN products p ON p.id = l.product_id "
            "WHERE CAST(l.id AS VARCHAR(64)) = credit_allocations.target_id) "
            "WHERE target_type = 'label_lot'"
        )
    )
    if programme is not None:
        bind.execute(
            sa.text(
                "UPDATE credit_allocations SET claimant_organisation_id = :o "
                "WHERE target_type = 'personal_offset'"
            ),
            {"o": programme},
        )
    return _parts_backfill(bind)


def _parts_backfill(bind: sa.Connection) -> list[str]:
    parts = bind.execute(
        sa.text(
            "SELECT p.id, p.allocation_id, p.retirement_id, p.quantity_g, "
            "a.claimant_organisation_id AS claimant, r.beneficiary_organisation_id AS beneficiary "
            "FROM credit_allocation_parts p "
            "JOIN credit_allocations a ON a.id = p.allocation_id "
            "JOIN credit_retirements r ON r.id = p.retirement_id ORDER BY p.id"
        )
    ).all()
    broken: dict[tuple[int, int], list[object]] = defaultdict(lambda: [None, None, "", 0])
    for part in parts:
        if part.claimant is not None and part.claimant == part.beneficiary:
            bind.execute(
                sa.text(
                    "UPDATE credit_allocation_parts SET claimant_organisation_id = :o WHERE id = :i"
                ),
                {"o": part.claimant, "i": part.id},
            )
            continue
        problem = (
            "claimant_unknown"
            if part.claimant is None
            else "beneficiary_unknown"
            if part.beneficiary is None
            else "other_beneficiary"
        )
        record = broken[(part.allocation_id, part.retirement_id)]
        record[:3] = [part.claimant, part.beneficiary, problem]
        record[3] = int(record[3]) + int(part.quantity_g)  # type: ignore[call-overload]
    lines = []
    for (allocation_id, retirement_id), (claimant, beneficiary, problem, grams) in broken.items():
        bind.execute(
            sa.text(
                "INSERT INTO credit_allocation_findings (allocation_id, retirement_id, "
                "claimant_organisation_id, beneficiary_organisation_id, problem, quantity_g, "
                "status, created_at) VALUES (:a, :r, :c, :b, :p, :g, 'open', CURRENT_TIMESTAMP)"
            ),
            {"a": allocation_id, "r": retirement_id, "c": claimant, "b": beneficiary,
             "p": problem, "g": grams},
        )  # fmt: skip
        lines.append(
            f"allocation {allocation_id} (claimant {claimant}) draws {grams} g on retirement "
            f"{retirement_id} (beneficiary {beneficiary}): {problem}"
        )
    return lines


def downgrade() -> None:
    op.drop_table("credit_allocation_findings")
    for table in RECORD_TABLES:
        make_mutable(table)
    with op.batch_alter_table("credit_allocation_parts", schema=None) as batch_op:
        batch_op.drop_constraint("fk_credit_allocation_parts_claimant_of_allocation", "foreignkey")
        batch_op.drop_constraint("fk_credit_allocation_parts_claimant_is_beneficiary", "foreignkey")
        batch_op.drop_column("claimant_organisation_id")
    with op.batch_alter_table("credit_allocations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_credit_allocations_id_claimant", "unique")
        batch_op.drop_constraint(
            batch_op.f("fk_credit_allocations_claimant_organisation_id_organisations"), "foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_credit_allocations_claimant_organisation_id"))
        batch_op.drop_column("claimant_organisation_id")
    with op.batch_alter_table("credit_retirements", schema=None) as batch_op:
        batch_op.drop_constraint("uq_credit_retirements_id_beneficiary", "unique")
        batch_op.drop_constraint(
            batch_op.f("fk_credit_retirements_beneficiary_organisation_id_organisations"),
            "foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_credit_retirements_beneficiary_organisation_id"))
        batch_op.drop_column("beneficiary_organisation_id")
    for table in RECORD_TABLES:
        make_immutable(table)
