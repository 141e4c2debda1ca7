"""Exact serials: each allocation part keeps ``[start_g, end_g)``, its grams' offsets into its
retired range's gram line, so it names the serials it took rather than its range's whole.

Existing parts are re-expressed exactly: per retired range, in allocation order (then part
order), each part takes the next grams after the one before it, which is what the old code's
oldest-first draw did. This writes only the two new columns of a record table (its immutability
triggers are lifted for the step and put back); no quantity changes.

The database then refuses what it can: CHECK ``0 <= start_g < end_g`` and ``quantity_g = end_g -
start_g`` everywhere, and on PostgreSQL an EXCLUDE constraint over ``int8range(start_g, end_g)``
per range, so no two parts share a gram. It needs the btree_gist extension (shipped with
PostgreSQL's contrib, trusted since PostgreSQL 13); where it is not available the constraint is
skipped with a warning, and ``tanhui ledger verify`` still checks the same.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-26 12:00:00
"""

from __future__ import annotations

import warnings
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from service.migrations.triggers import make_immutable, make_mutable

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

TABLE = "credit_allocation_parts"
EXCLUDE = "ex_credit_allocation_parts_no_shared_gram"
#: Parts updated per statement while re-expressing.
UPDATE_CHUNK_ROWS = 1_000


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _offsets() -> list[dict[str, int]]:
    """Consecutive offsets per range, in allocation order."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT part.id, part.range_id, part.quantity_g FROM credit_allocation_parts part "
            "JOIN credit_allocations allocation ON allocation.id = part.allocation_id "
            "ORDER BY part.range_id, allocation.id, part.id"
        )
    )
    cursor: dict[int, int] = defaultdict(int)
    offsets = []
    for part_id, range_id, quantity_g in rows:
        start_g = cursor[range_id]
        cursor[range_id] = start_g + quantity_g
        offsets.append({"part_id": part_id, "start_g": start_g, "end_g": start_g + quantity_g})
    return offsets


def _exclusion_available() -> bool:
    bind = op.get_bind()
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'btree_gist'")
    ).first()
    if available is None:
        warnings.warn(
            "btree_gist is not available: allocation parts are not kept apart by an EXCLUDE "
            "constraint; `tanhui ledger verify` still checks that no gram is allocated twice",
            stacklevel=1,
        )
        return False
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    return True


def upgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("start_g", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("end_g", sa.BigInteger(), nullable=True))
    make_mutable(TABLE)
    offsets = _offsets()
    update = sa.text(
        "UPDATE credit_allocation_parts SET start_g = :start_g, end_g = :end_g WHERE id = :part_id"
    )
    for first in range(0, len(offsets), UPDATE_CHUNK_ROWS):
        op.get_bind().execute(update, offsets[first : first + UPDATE_CHUNK_ROWS])
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column("start_g", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("end_g", existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_check_constraint(
            op.f("ck_credit_allocation_parts_offsets_ordered"),
            sa.text("start_g >= 0 AND start_g < end_g"),
        )
        batch_op.create_check_constraint(
            op.f("ck_credit_allocation_parts_quantity_is_offsets"),
            sa.text("quantity_g = end_g - start_g"),
        )
    make_immutable(TABLE)
    if _postgresql() and _exclusion_available():
        op.execute(
            f"ALTER TABLE {TABLE} ADD CONSTRAINT {EXCLUDE} EXCLUDE USING gist "
            "(range_id WITH =, int8range(start_g, end_g) WITH &&)"
        )


def downgrade() -> None:
    if _postgresql():
        op.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {EXCLUDE}")
    make_mutable(TABLE)
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_credit_allocation_parts_quantity_is_offsets"), "check")
        batch_op.drop_constraint(op.f("ck_credit_allocation_parts_offsets_ordered"), "check")
        batch_op.drop_column("end_g")
        batch_op.drop_column("start_g")
    make_immutable(TABLE)
