"""The transparency log published as tiles and cosigned by witnesses.

* ``tlog_leaves.queued_at``: when the leaf's event was committed to the queue (its pending row's
  time), so the wait before sequencing can be measured. Null for leaves sequenced before this
  revision, whose queue times were not kept.
* ``ix_tlog_nodes_leaf_hash``: leaf hashes (level 0 nodes) by hash, for inclusion proofs asked
  by leaf hash.
* ``tlog_witness_states``: per configured witness, the size of the latest checkpoint it cosigned
  (the ``old`` of the next add-checkpoint) and its last refusal.
* ``tlog_cosignatures``: the cosignature lines witnesses returned, one per (checkpoint,
  witness). Like checkpoints, they are never changed or deleted.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

COSIGNATURES = "tlog_cosignatures"


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    # Plain ALTER TABLE on both (a batch copy of the table on SQLite would drop its triggers).
    op.add_column("tlog_leaves", sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_tlog_nodes_leaf_hash",
        "tlog_nodes",
        ["hash"],
        postgresql_where=sa.text("level = 0"),
        sqlite_where=sa.text("level = 0"),
    )
    op.create_table(
        "tlog_witness_states",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refusal", sa.String(length=500), nullable=True),
        sa.CheckConstraint("size >= 0", name=op.f("ck_tlog_witness_states_size_non_negative")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_tlog_witness_states")),
    )
    op.create_table(
        COSIGNATURES,
        sa.Column("size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("witness", sa.String(length=128), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["size"],
            ["tlog_checkpoints.size"],
            name=op.f("fk_tlog_cosignatures_size_tlog_checkpoints"),
        ),
        sa.PrimaryKeyConstraint("size", "witness", name=op.f("pk_tlog_cosignatures")),
    )
    if _postgresql():
        op.execute(
            f"CREATE TRIGGER {COSIGNATURES}_immutable BEFORE UPDATE OR DELETE ON {COSIGNATURES} "
            "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
        )
    else:
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {COSIGNATURES}_no_{operation.lower()} BEFORE {operation} ON "
                f"{COSIGNATURES} BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable: "
                f"{operation} on {COSIGNATURES}'); END"
            )


def downgrade() -> None:
    if _postgresql():
        op.execute(f"DROP TRIGGER IF EXISTS {COSIGNATURES}_immutable ON {COSIGNATURES}")
    else:
        for operation in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {COSIGNATURES}_no_{operation}")
    op.drop_table(COSIGNATURES)
    op.drop_table("tlog_witness_states")
    op.drop_index("ix_tlog_nodes_leaf_hash", table_name="tlog_nodes")
    op.execute("ALTER TABLE tlog_leaves DROP COLUMN queued_at")
