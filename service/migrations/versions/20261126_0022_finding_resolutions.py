"""Resolving a claimant finding: an operator reverses the offending allocation and allocates the
same grams again from the claimant's own retirements.

``credit_allocation_parts.reversal_entry_id`` names the ledger entry that reversed a part's
allocation. It is the one change a part may ever take (null to an entry, once, nothing else with
it): the table's update trigger is replaced by one that allows exactly that. A reversed part stays
as history but holds no grams: the EXCLUDE constraint of revision 0018 is rebuilt to ignore it,
and ``ledger verify``'s gram checks skip it. A finding records who resolved it, when, and the
allocation that replaced the reversed one.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-26 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TABLE = "credit_allocation_parts"
EXCLUDE = "ex_credit_allocation_parts_no_shared_gram"
#: The part's columns that never change, not even when it is reversed.
FIXED_COLUMNS = ("id", "allocation_id", "range_id", "retirement_id", "claimant_organisation_id",
                 "quantity_g", "start_g", "end_g")  # fmt: skip


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _exclusion_exists() -> bool:
    return (
        op.get_bind()
        .execute(sa.text("SELECT 1 FROM pg_constraint WHERE conname = :n"), {"n": EXCLUDE})
        .first()
        is not None
    )


def _exclusion_create(where: str) -> None:
    op.execute(
        f"ALTER TABLE {TABLE} ADD CONSTRAINT {EXCLUDE} EXCLUDE USING gist "
        f"(range_id WITH =, int8range(start_g, end_g) WITH &&){where}"
    )


def _update_trigger_replace(*, reversal_allowed: bool) -> None:
    """The parts' UPDATE trigger: refuse every update, or every update but the reversal."""
    same = " AND ".join(
        f"OLD.{c} IS NOT DISTINCT FROM NEW.{c}" if _postgresql() else f"OLD.{c} IS NEW.{c}"
        for c in FIXED_COLUMNS
    )
    reversal = f"OLD.reversal_entry_id IS NULL AND NEW.reversal_entry_id IS NOT NULL AND {same}"
    when = f" WHEN (NOT ({reversal}))" if reversal_allowed else ""
    if _postgresql():
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_immutable ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_delete ON {TABLE}")
        if reversal_allowed:
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE} FOR EACH ROW{when} "
                "EXECUTE FUNCTION ledger_refuse_change()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {TABLE}_immutable BEFORE UPDATE OR DELETE ON {TABLE} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
            )
        return
    op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_update")
    op.execute(
        f"CREATE TRIGGER {TABLE}_no_update BEFORE UPDATE ON {TABLE}{when} "
        f"BEGIN SELECT RAISE(ABORT, 'records are immutable: UPDATE on {TABLE}'); END"
    )


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("reversal_entry_id", sa.BigInteger(), nullable=True))
    _update_trigger_replace(reversal_allowed=True)
    if _postgresql() and _exclusion_exists():
        op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {EXCLUDE}")
        _exclusion_create(" WHERE (reversal_entry_id IS NULL)")
    for name in ("resolved_by", "replacement_allocation_id"):
        op.add_column("credit_allocation_findings", sa.Column(name, sa.Integer(), nullable=True))
    op.add_column(
        "credit_allocation_findings",
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    for name in ("resolved_at", "replacement_allocation_id", "resolved_by"):
        op.drop_column("credit_allocation_findings", name)
    if _postgresql() and _exclusion_exists():
        op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {EXCLUDE}")
        _exclusion_create("")
    _update_trigger_replace(reversal_allowed=False)
    op.drop_column(TABLE, "reversal_entry_id")
