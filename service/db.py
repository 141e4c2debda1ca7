"""The one database session lifecycle.

``Base`` carries the constraint naming convention so migrations name constraints the same on SQLite
and PostgreSQL. Each request (or CLI command) gets one session from :func:`get_session`; domain code
receives it as its first argument, flushes when it needs ids, and never commits. The request layer
commits once, after a successful write request (see :func:`init_app`), and rolls back otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from service.config import normalise_database_url

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
    options.setdefault("pool_pre_ping", True)
    options.setdefault("pool_size", 5)
    options.setdefault("max_overflow", 10)
    return sa.create_engine(url, **options)


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


def init_app(app: Flask, on_commit_error: Callable[[Exception], Response]) -> None:
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    state = DatabaseState(
        engine=engine, sessionmaker=sessionmaker(bind=engine, expire_on_commit=False)
    )
    app.extensions["tanhui.db"] = state

    @app.after_request
    def _commit_write(response: Response) -> Response:
        session: Session | None = g.pop("db_session_pending", None)
        if session is None:
            return response
        keep = response.status_code < 400 or g.get("persist_on_error", False)
        if request.method in WRITE_METHODS and keep:
            try:
                session.commit()
            except Exception as error:  # noqa: BLE001 - mapped to the one error shape
                session.rollback()
                return on_commit_error(error)
        else:
            session.rollback()
        return response

    @app.teardown_appcontext
    def _close(_error: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()


def database(app: Flask) -> DatabaseState:
    return app.extensions["tanhui.db"]


def get_session() -> Session:
    """The session of the current app context, created on first use."""
    session = g.get("db_session")
    if session is None:
        session = database(current_app).sessionmaker()
        g.db_session = session
        g.db_session_pending = session
    return session
