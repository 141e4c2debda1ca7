"""The one database session lifecycle.

``Base`` (in ``service.base.orm``) carries the constraint naming convention so migrations name
constraints the same on SQLite and PostgreSQL. Each request (or CLI command) gets one session from
:func:`get_session`; domain code receives it as its first argument, flushes when it needs ids, and
never commits. The request layer commits once, after a successful write request (or a read that
counts something and sets ``g.commit_read``, like a code scan; see
:func:`init_app`), and rolls back otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, Response, current_app, g, request
from sqlalchemy.orm import Session, sessionmaker

from service.base.orm import (  # noqa: F401 - re-exported for the request layer
    NAMING_CONVENTION,
    WRITE_METHODS,
    Base,
    DatabaseState,
    UTCDateTime,
    create_engine,
    utcnow,
)


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
        if (request.method in WRITE_METHODS or g.get("commit_read", False)) and keep:
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
