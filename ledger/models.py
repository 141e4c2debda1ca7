"""Ledger tables: accounts, immutable entries and postings, holds, lots, and the transparency log.

Sign convention: a posting's positive amount increases its account's balance, a negative one
decreases it. Every entry's postings sum to zero per asset.

Only accounts without ``allow_negative`` keep a stored ``balance`` (and ``reserved``); issuer and
external accounts, which may go negative, keep none, so issuing never locks one hot row. Their
balance is the sum of their postings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from service.base.orm import Base, utcnow

#: A statement, its result and its rows, of any columns (for the helpers that take any query).
AnySelect: TypeAlias = "sa.Select[*tuple[Any, ...]]"
AnyResult: TypeAlias = "sa.Result[*tuple[Any, ...]]"
AnyRow: TypeAlias = "sa.Row[*tuple[Any, ...]]"

ASSETS = ("CREDIT_G", "POINT", "FEN")
HOLD_STATUSES = ("pending", "posted", "voided", "expired")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def table(model: type[Base]) -> sa.Table:
    """The table of a mapped class, for Core statements (SQLAlchemy types ``__table__`` as any
    selectable)."""
    return cast(sa.Table, model.__table__)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Account(Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(128), unique=True)
    asset: Mapped[str] = mapped_column(sa.String(16))
    owner_type: Mapped[str] = mapped_column(sa.String(32))
    owner_id: Mapped[int | None]
    allow_negative: Mapped[bool] = mapped_column(default=False)
    uses_lots: Mapped[bool] = mapped_column(default=False)
    balance: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint(_in("asset", ASSETS), name="asset_known"),
        sa.CheckConstraint("reserved >= 0", name="reserved_non_negative"),
        sa.CheckConstraint(
            "allow_negative OR balance - reserved >= 0", name="available_non_negative"
        ),
        sa.CheckConstraint(
            "NOT allow_negative OR (balance = 0 AND reserved = 0 AND NOT uses_lots)",
            name="issuers_keep_no_balance",
        ),
        sa.Index("ix_ledger_accounts_owner", "owner_type", "owner_id"),
    )


class Entry(Base):
    """An immutable journal transaction. ``request`` is the canonical request, kept so a retry
    with the same idempotency key can be compared field by field."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(128), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    reverses_entry_id: Mapped[int | None] = mapped_column(
        BIGINT, sa.ForeignKey("ledger_entries.id"), unique=True
    )
    hold_id: Mapped[int | None] = mapped_column(BIGINT, sa.ForeignKey("ledger_holds.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.CheckConstraint("reverses_entry_id <> id", name="not_self_reversal"),)


class Posting(Base):
    __tablename__ = "ledger_postings"

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    entry_id: Mapped[int] = mapped_column(BIGINT, sa.ForeignKey("ledger_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(BIGINT, sa.ForeignKey("ledger_accounts.id"))
    asset: Mapped[str] = mapped_column(sa.String(16))
    amount: Mapped[int] = mapped_column(sa.BigInteger)

    __table_args__ = (
        sa.CheckConstraint("amount <> 0", name="amount_non_zero"),
        sa.CheckConstraint(_in("asset", ASSETS), name="asset_known"),
        sa.Index("ix_ledger_postings_account_id_id", "account_id", "id"),
    )


class Hold(Base):
    """A two-phase reservation: ``amount`` of ``account`` set aside for ``destination``."""

    __tablename__ = "ledger_holds"

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(128), unique=True)
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    account_id: Mapped[int] = mapped_column(BIGINT, sa.ForeignKey("ledger_accounts.id"))
    destination_account_id: Mapped[int] = mapped_column(BIGINT, sa.ForeignKey("ledger_accounts.id"))
    asset: Mapped[str] = mapped_column(sa.String(16))
    amount: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    posted_amount: Mapped[int | None] = mapped_column(sa.BigInteger)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]

    __table_args__ = (
        sa.CheckConstraint("amount > 0", name="amount_positive"),
        sa.CheckConstraint(_in("status", HOLD_STATUSES), name="status_known"),
        sa.CheckConstraint("(status = 'pending') = (resolved_at IS NULL)", name="resolution_dated"),
        sa.CheckConstraint(
            "(status = 'posted') = (posted_amount IS NOT NULL)", name="posted_amount_when_posted"
        ),
        sa.CheckConstraint(
            "posted_amount IS NULL OR (posted_amount > 0 AND posted_amount <= amount)",
            name="posted_within_amount",
        ),
        sa.Index("ix_ledger_holds_account_status", "account_id", "status"),
        sa.Index("ix_ledger_holds_status_expires_at", "status", "expires_at"),
    )


class Lot(Base):
    """A FIFO sub-balance of an account: what one credit brought, where from, until when."""

    __tablename__ = "ledger_lots"

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    account_id: Mapped[int] = mapped_column(BIGINT, sa.ForeignKey("ledger_accounts.id"))
    entry_id: Mapped[int] = mapped_column(BIGINT, sa.ForeignKey("ledger_entries.id"))
    asset: Mapped[str] = mapped_column(sa.String(16))
    amount_initial: Mapped[int] = mapped_column(sa.BigInteger)
    remaining: Mapped[int] = mapped_column(sa.BigInteger)
    expires_at: Mapped[datetime | None]
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("amount_initial > 0", name="amount_initial_positive"),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= amount_initial", name="remaining_within_initial"
        ),
        sa.Index("ix_ledger_lots_account_open", "account_id", "remaining", "expires_at", "id"),
        sa.Index("ix_ledger_lots_expires_at", "expires_at"),
    )


class LotMovement(Base):
    """Which lot a posting filled (+) or drew on (-), and by how much. Immutable."""

    __tablename__ = "ledger_lot_movements"

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    posting_id: Mapped[int] = mapped_column(BIGINT, sa.ForeignKey("ledger_postings.id"), index=True)
    lot_id: Mapped[int] = mapped_column(BIGINT, sa.ForeignKey("ledger_lots.id"), index=True)
    amount: Mapped[int] = mapped_column(sa.BigInteger)

    __table_args__ = (sa.CheckConstraint("amount <> 0", name="amount_non_zero"),)


# -- transparency log ---------------------------------------------------------------------------
class LogPending(Base):
    """Events committed but not yet sequenced. Writers only insert here; the sequencer drains it."""

    __tablename__ = "tlog_pending"

    id: Mapped[int] = mapped_column(BIGINT, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    source_id: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogLeaf(Base):
    __tablename__ = "tlog_leaves"

    position: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(sa.String(32))
    source_id: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[str] = mapped_column(sa.Text)
    sequenced_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the event was queued (its pending row's time); null for leaves older than 0023.
    queued_at: Mapped[datetime | None]

    __table_args__ = (
        sa.UniqueConstraint("kind", "source_id"),
        sa.CheckConstraint("position >= 0", name="position_non_negative"),
    )


class LogNode(Base):
    """The hash of a complete subtree: leaves [position·2^level, (position+1)·2^level)."""

    __tablename__ = "tlog_nodes"

    level: Mapped[int] = mapped_column(sa.SmallInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))

    __table_args__ = (
        sa.Index(
            "ix_tlog_nodes_leaf_hash",
            "hash",
            postgresql_where=sa.text("level = 0"),
            sqlite_where=sa.text("level = 0"),
        ),
    )


class LogCheckpoint(Base):
    __tablename__ = "tlog_checkpoints"

    size: Mapped[int] = mapped_column(BIGINT, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(sa.LargeBinary(32))
    note: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogWitnessState(Base):
    """Per configured witness: the size of the latest checkpoint it cosigned, which the next
    add-checkpoint names as its ``old`` size, and the last refusal it answered."""

    __tablename__ = "tlog_witness_states"

    name: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    refused_at: Mapped[datetime | None]
    refusal: Mapped[str | None] = mapped_column(sa.String(500))

    __table_args__ = (sa.CheckConstraint("size >= 0", name="size_non_negative"),)


class LogCosignature(Base):
    """A witness's cosignature line (C2SP tlog-cosignature) on one checkpoint. Immutable."""

    __tablename__ = "tlog_cosignatures"

    size: Mapped[int] = mapped_column(
        BIGINT, sa.ForeignKey("tlog_checkpoints.size"), primary_key=True, autoincrement=False
    )
    witness: Mapped[str] = mapped_column(sa.String(128), primary_key=True)
    timestamp: Mapped[int] = mapped_column(sa.BigInteger)
    line: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogState(Base):
    """One row, locked only by the sequencer: the tree size it has reached."""

    __tablename__ = "tlog_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(sa.BigInteger, default=0)

    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)
