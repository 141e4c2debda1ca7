"""The ledger (accounts, immutable entries and postings, holds, lots) and the transparency log.

The database enforces what it can: CHECK constraints on every table, triggers that refuse UPDATE
and DELETE of journal rows (entries, postings, lot movements, log leaves, nodes, checkpoints), and
on PostgreSQL a deferred constraint trigger that refuses to commit an entry whose postings do not
sum to zero per asset.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 03:40:44.813815
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


IMMUTABLE_TABLES = (
    "ledger_entries",
    "ledger_postings",
    "ledger_lot_movements",
    "tlog_leaves",
    "tlog_nodes",
    "tlog_checkpoints",
)


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Balances are updated in place all day: leave room on each page so updates stay HOT
        # (no index maintenance, shorter buffer locks on the busiest pages).
        op.execute("ALTER TABLE ledger_accounts SET (fillfactor = 50)")
        op.execute(
            """
            CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'ledger rows are immutable: % on %', TG_OP, TG_TABLE_NAME
                    USING ERRCODE = 'integrity_constraint_violation';
            END $$
            """
        )
        for table in IMMUTABLE_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()"
            )
        op.execute(
            """
            CREATE FUNCTION ledger_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (
                    SELECT 1 FROM ledger_postings WHERE entry_id = NEW.entry_id
                    GROUP BY asset HAVING sum(amount) <> 0
                ) THEN
                    RAISE EXCEPTION 'entry % does not balance', NEW.entry_id
                        USING ERRCODE = 'check_violation';
                END IF;
                RETURN NULL;
            END $$
            """
        )
        op.execute(
            """
            CREATE FUNCTION ledger_insufficient(account_ids bigint[]) RETURNS void
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'ledger: insufficient funds on accounts %', account_ids
                    USING ERRCODE = 'check_violation';
            END $$
            """
        )
        op.execute(
            "CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_balanced()"
        )
    else:
        for table in IMMUTABLE_TABLES:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'ledger rows are immutable: {operation} on {table}'); END"
                )


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_postings_balanced ON ledger_postings")
        op.execute("DROP FUNCTION IF EXISTS ledger_entry_balanced()")
        op.execute("DROP FUNCTION IF EXISTS ledger_insufficient(bigint[])")
        for table in IMMUTABLE_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ledger_refuse_change()")
    else:
        for table in IMMUTABLE_TABLES:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("owner_type", sa.String(length=32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.Column("uses_lots", sa.Boolean(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "asset IN ('CREDIT_G', 'POINT', 'FEN')", name=op.f("ck_ledger_accounts_asset_known")
        ),
        sa.CheckConstraint(
            "NOT allow_negative OR (balance = 0 AND reserved = 0 AND NOT uses_lots)",
            name=op.f("ck_ledger_accounts_issuers_keep_no_balance"),
        ),
        sa.CheckConstraint(
            "allow_negative OR balance - reserved >= 0",
            name=op.f("ck_ledger_accounts_available_non_negative"),
        ),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_ledger_accounts_reserved_non_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("code", name=op.f("uq_ledger_accounts_code")),
    )
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_accounts_owner", ["owner_type", "owner_id"], unique=False)

    op.create_table(
        "tlog_checkpoints",
        sa.Column(
            "size",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_tlog_checkpoints")),
    )
    op.create_table(
        "tlog_leaves",
        sa.Column(
            "position",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("sequenced_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("position >= 0", name=op.f("ck_tlog_leaves_position_non_negative")),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_tlog_leaves")),
        sa.UniqueConstraint("kind", "source_id", name=op.f("uq_tlog_leaves_kind_source_id")),
    )
    op.create_table(
        "tlog_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name=op.f("pk_tlog_nodes")),
    )
    op.create_table(
        "tlog_pending",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tlog_pending")),
    )
    op.create_table(
        "tlog_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_tlog_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tlog_state")),
    )
    op.create_table(
        "ledger_holds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column(
            "request",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "destination_account_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("posted_amount", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'pending') = (resolved_at IS NULL)",
            name=op.f("ck_ledger_holds_resolution_dated"),
        ),
        sa.CheckConstraint(
            "(status = 'posted') = (posted_amount IS NOT NULL)",
            name=op.f("ck_ledger_holds_posted_amount_when_posted"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'posted', 'voided', 'expired')",
            name=op.f("ck_ledger_holds_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_holds_amount_positive")),
        sa.CheckConstraint(
            "posted_amount IS NULL OR (posted_amount > 0 AND posted_amount <= amount)",
            name=op.f("ck_ledger_holds_posted_within_amount"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_holds_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["destination_account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_holds_destination_account_id_ledger_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_holds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_holds_idempotency_key")),
    )
    with op.batch_alter_table("ledger_holds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_holds_account_status", ["account_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_ledger_holds_status_expires_at", ["status", "expires_at"], unique=False
        )

    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "request",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "reverses_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("hold_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reverses_entry_id <> id", name=op.f("ck_ledger_entries_not_self_reversal")
        ),
        sa.ForeignKeyConstraint(
            ["hold_id"], ["ledger_holds.id"], name=op.f("fk_ledger_entries_hold_id_ledger_holds")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_entries_reverses_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_ledger_entries_idempotency_key")),
        sa.UniqueConstraint("reverses_entry_id", name=op.f("uq_ledger_entries_reverses_entry_id")),
    )
    op.create_table(
        "ledger_lots",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount_initial", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "provenance",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "amount_initial > 0", name=op.f("ck_ledger_lots_amount_initial_positive")
        ),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= amount_initial",
            name=op.f("ck_ledger_lots_remaining_within_initial"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_lots_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["ledger_entries.id"], name=op.f("fk_ledger_lots_entry_id_ledger_entries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_lots")),
    )
    with op.batch_alter_table("ledger_lots", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_lots_account_open",
            ["account_id", "remaining", "expires_at", "id"],
            unique=False,
        )
        batch_op.create_index("ix_ledger_lots_expires_at", ["expires_at"], unique=False)

    op.create_table(
        "ledger_postings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "asset IN ('CREDIT_G', 'POINT', 'FEN')", name=op.f("ck_ledger_postings_asset_known")
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_postings_amount_non_zero")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["ledger_accounts.id"],
            name=op.f("fk_ledger_postings_account_id_ledger_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_ledger_postings_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
    )
    with op.batch_alter_table("ledger_postings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_postings_account_id_id", ["account_id", "id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ledger_postings_entry_id"), ["entry_id"], unique=False)

    op.create_table(
        "ledger_lot_movements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "posting_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("lot_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_lot_movements_amount_non_zero")),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["ledger_lots.id"], name=op.f("fk_ledger_lot_movements_lot_id_ledger_lots")
        ),
        sa.ForeignKeyConstraint(
            ["posting_id"],
            ["ledger_postings.id"],
            name=op.f("fk_ledger_lot_movements_posting_id_ledger_postings"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_lot_movements")),
    )
    with op.batch_alter_table("ledger_lot_movements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_lot_movements_lot_id"), ["lot_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_lot_movements_posting_id"), ["posting_id"], unique=False
        )

    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    with op.batch_alter_table("ledger_lot_movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_lot_movements_posting_id"))
        batch_op.drop_index(batch_op.f("ix_ledger_lot_movements_lot_id"))

    op.drop_table("ledger_lot_movements")
    with op.batch_alter_table("ledger_postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_postings_entry_id"))
        batch_op.drop_index("ix_ledger_postings_account_id_id")

    op.drop_table("ledger_postings")
    with op.batch_alter_table("ledger_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_lots_expires_at")
        batch_op.drop_index("ix_ledger_lots_account_open")

    op.drop_table("ledger_lots")
    op.drop_table("ledger_entries")
    with op.batch_alter_table("ledger_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_holds_status_expires_at")
        batch_op.drop_index("ix_ledger_holds_account_status")

    op.drop_table("ledger_holds")
    op.drop_table("tlog_state")
    op.drop_table("tlog_pending")
    op.drop_table("tlog_nodes")
    op.drop_table("tlog_leaves")
    op.drop_table("tlog_checkpoints")
    with op.batch_alter_table("ledger_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_accounts_owner")

    op.drop_table("ledger_accounts")
