"""The Flask-free half of the database layer: the declarative ``Base`` with its constraint naming
convention, UTC timestamps, and engine creation. ``ledger`` and other Flask-free packages import
this; ``service.db`` adds the per-request session lifecycle on top.
"""

from __future__ import annotations

import select
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from service.base.config import normalise_database_url

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SQLITE_BUSY_TIMEOUT_MS = 5000


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware.

    SQLite has no timezone type, so values are normalised to UTC on the way in and tagged UTC on
    the way out; PostgreSQL stores ``timestamptz``.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """Decimals stored exactly: ``NUMERIC(precision, scale)`` on PostgreSQL, text on SQLite (which
    has no decimal type and would round through a float). Values are quantized to ``scale``."""

    impl = sa.Numeric
    cache_ok = True

    def __init__(self, precision: int = 14, scale: int = 4) -> None:
        super().__init__()
        self.precision, self.scale = precision, scale
        self.quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String(self.precision + 2))
        return dialect.type_descriptor(sa.Numeric(self.precision, self.scale))

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> Any:
        if value is None:
            return None
        exact = Decimal(value).quantize(self.quantum)
        return str(exact) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value).quantize(self.quantum)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class DatabaseState:
    engine: Engine
    sessionmaker: sessionmaker[Session]


def create_engine(url: str, **options: Any) -> Engine:
    """Create an engine with the per-dialect settings the service relies on."""
    url = normalise_database_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, **options)
        _configure_sqlite(engine)
        return engine
    options.setdefault("pool_size", 5)
    options.setdefault("max_overflow", 10)
    engine = sa.create_engine(url, **options)
    if not options.get("pool_pre_ping"):
        event.listen(engine, "checkout", _checkout_alive)
    return engine


def _checkout_alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Refuse a pooled PostgreSQL connection the server has closed, so the pool opens a fresh one
    instead of failing the request (a restart, ``pg_terminate_backend``, an idle timeout).

    An idle connection receives nothing unless the server is closing it (its last message, then
    the end of the stream), so a socket with anything to read is given up. That costs a look at
    the socket instead of ``pool_pre_ping``'s round trip, which every request would pay.
    """
    if dbapi_connection.closed:
        raise sa.exc.DisconnectionError("connection closed")
    try:
        readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    except (OSError, ValueError) as error:
        raise sa.exc.DisconnectionError("connection unusable") from error
    if readable:
        raise sa.exc.DisconnectionError("the server sent something to an idle connection")


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL for concurrent readers, and real transactions (so SAVEPOINT works).

    pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; SQLAlchemy documents
    taking over BEGIN as done here.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")
