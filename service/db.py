"""The one database session lifecycle.

``Base`` (in ``service.base.orm``) carries the constraint naming convention so migrations name
constraints the same on SQLite and PostgreSQL. Each request (or CLI command) gets one session from
:func:`get_session`; domain code receives it as its first argument, flushes when it needs ids, and
never commits. The request layer commits once, after a successful write request (or a read that
counts something and sets ``g.commit_read``, like a code scan), and rolls back otherwise.

When PostgreSQL answers that commit, or any statement before it, with "try again" (a
serialization failure or a deadlock), the request's transaction is run again from the view on,
with a fresh session, at most :data:`REQUEST_TRANSACTION_ATTEMPTS_MAX` times; only the last
attempt's answer goes out. Idempotency keys make the rerun of a write safe even if an earlier
attempt's effects reached another system.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, request
from sqlalchemy.orm import Session, sessionmaker

from ledger.retry import BACKOFF_BASE_S, retryable
from service.base.orm import (  # noqa: F401 - re-exported for the request layer
    NAMING_CONVENTION,
    WRITE_METHODS,
    Base,
    DatabaseState,
    UTCDateTime,
    create_engine,
    utcnow,
)

log = logging.getLogger("tanhui.db")

#: How many times a request's transaction runs when the database asks for a retry (SQLSTATE
#: 40001 or 40P01). A request that still fails answers ``service_unavailable`` (503, with
#: Retry-After), having written nothing. Low, as a request holds a worker while it retries; the
#: jobs and benchmarks that contend harder use ``ledger.retry`` with its own limit.
REQUEST_TRANSACTION_ATTEMPTS_MAX = 3

#: The ``g`` entries one attempt of a request's transaction leaves behind.
_ATTEMPT_STATE = ("db_session", "db_session_pending", "commit_read", "persist_on_error")


def init_app(app: Flask, on_commit_error: Callable[[Exception], Response]) -> None:
    """Bind the engine and sessionmaker to ``app`` and make each request one transaction.

    The view, its error handling and the commit run together (Flask's ``dispatch_request``,
    wrapped), so a transaction the database refuses can run again before any ``after_request``
    step sees a response.
    """
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    state = DatabaseState(
        engine=engine, sessionmaker=sessionmaker(bind=engine, expire_on_commit=False)
    )
    app.extensions["tanhui.db"] = state
    view = app.dispatch_request

    def dispatch_in_transaction() -> Response:
        return _transaction_run(app, view, on_commit_error)

    app.dispatch_request = dispatch_in_transaction  # type: ignore[method-assign]

    @app.after_request
    def _commit_write(response: Response) -> Response:
        """A session a ``before_request`` step opened when no view ran (it was refused)."""
        try:
            _transaction_finish(response)
        except Exception as error:  # noqa: BLE001 - mapped to the one error shape
            return on_commit_error(error)
        return response

    @app.teardown_appcontext
    def _close(_error: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()


def _transaction_run(
    app: Flask, view: Callable[[], Any], on_commit_error: Callable[[Exception], Response]
) -> Response:
    """Run the view and commit, again from the view while the database asks for a retry."""
    for attempt in range(1, REQUEST_TRANSACTION_ATTEMPTS_MAX + 1):
        last = attempt == REQUEST_TRANSACTION_ATTEMPTS_MAX
        try:
            answer = view()
        except Exception as error:
            if not last and retryable(error):
                _attempt_discard(error, attempt)
                continue
            answer = app.handle_user_exception(error)
        response = app.make_response(answer)
        try:
            _transaction_finish(response)
        except Exception as error:  # noqa: BLE001 - retried, or mapped to the one error shape
            if not last and retryable(error):
                _attempt_discard(error, attempt)
                continue
            return on_commit_error(error)
        return response
    raise AssertionError("unreachable: the last attempt always answers")


def _transaction_finish(response: Response) -> None:
    """Commit the request's session when the request succeeded and wrote (or counted), else roll
    it back. A failed commit is rolled back and raised."""
    session: Session | None = g.pop("db_session_pending", None)
    if session is None:
        return
    keep = response.status_code < 400 or g.get("persist_on_error", False)
    if (request.method in WRITE_METHODS or g.get("commit_read", False)) and keep:
        try:
            session.commit()
        except Exception:
            session.rollback()
            raise
    else:
        session.rollback()


def _attempt_discard(error: BaseException, attempt: int) -> None:
    """Forget a refused attempt: its session (rolled back and closed) and what its view set on
    ``g``, then wait a little, growing with each attempt, so the contenders drift apart."""
    cause = getattr(error, "orig", error)
    log.warning(
        "transaction refused; running the request again",
        extra={"sqlstate": getattr(cause, "sqlstate", None), "attempt": attempt},
    )
    session: Session | None = g.get("db_session")
    for name in _ATTEMPT_STATE:
        g.pop(name, None)
    if session is not None:
        session.close()
    time.sleep(BACKOFF_BASE_S * attempt * (1 + random.random()))  # noqa: S311 - jitter


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
