"""A request whose transaction PostgreSQL refuses with "try again" runs again, with a fresh
session, at most ``REQUEST_TRANSACTION_ATTEMPTS_MAX`` times, and answers once.

The failures are real: a second connection makes them, in the middle of the request's own
transaction, on a scratch database with real commits.
"""

import threading
import time

import pytest
import sqlalchemy as sa
from flask import g

from service.app import create_app
from service.db import REQUEST_TRANSACTION_ATTEMPTS_MAX, database, get_session

#: Long enough for the request's statement to be waiting before the other connection's is.
SECOND_WAITER_DELAY_S = 0.4


@pytest.fixture()
def committed_app(server_config, scratch_database_url):
    """An app on its own PostgreSQL database with two probe rows and a log of writes."""
    app = create_app({**server_config, "DATABASE_URL": scratch_database_url})
    with database(app).engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE probe (id integer PRIMARY KEY, n integer)"))
        connection.execute(sa.text("INSERT INTO probe VALUES (1, 0), (2, 0)"))
        connection.execute(sa.text("CREATE TABLE probe_log (attempt integer, kind text)"))
    yield app
    database(app).engine.dispose()
    app.extensions["tanhui.redis"].close()


def probe_route(app, path, work):
    """A write endpoint whose view calls ``work(session, attempt)``; it counts its attempts."""
    attempts = []

    def view():
        attempts.append(len(attempts) + 1)
        assert "commit_read" not in g and "persist_on_error" not in g  # nothing left over
        work(get_session(), len(attempts))
        return {"attempt": len(attempts)}

    app.add_url_rule(path, endpoint=path, view_func=view, methods=["POST"])
    return attempts


def other_connection(app, isolation_level="READ COMMITTED"):
    return database(app).engine.connect().execution_options(isolation_level=isolation_level)


def refusals(caplog):
    """The SQLSTATEs of the refusals the request layer ran a request again for."""
    return [record.sqlstate for record in caplog.records if record.name == "tanhui.db"]


def rows(app, query):
    with database(app).engine.connect() as connection:
        return connection.execute(sa.text(query)).all()


def test_a_serialization_failure_at_commit_runs_the_request_again(committed_app, caplog):
    """Write skew under SERIALIZABLE: each transaction reads what the other writes; the other
    commits first, so the request's commit is refused (40001) and the request runs again."""

    def work(session, attempt):
        session.connection(execution_options={"isolation_level": "SERIALIZABLE"})
        session.execute(sa.text("SELECT count(*) FROM probe_log WHERE kind = 'other'")).scalar()
        session.execute(sa.text("INSERT INTO probe_log VALUES (:a, 'request')"), {"a": attempt})
        if attempt == 1:
            with other_connection(committed_app, "SERIALIZABLE") as other, other.begin():
                other.execute(sa.text("SELECT count(*) FROM probe_log WHERE kind = 'request'"))
                other.execute(sa.text("INSERT INTO probe_log VALUES (0, 'other')"))

    attempts = probe_route(committed_app, "/probe/serializable", work)
    response = committed_app.test_client().post("/probe/serializable")

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"attempt": 2}
    assert attempts == [1, 2]
    assert refusals(caplog) == ["40001"]
    assert rows(committed_app, "SELECT attempt, kind FROM probe_log ORDER BY kind") == [
        (0, "other"),
        (2, "request"),
    ]


def test_a_deadlock_runs_the_request_again(committed_app, caplog):
    """The request locks row 1 then row 2; another connection locks row 2 then row 1. PostgreSQL
    breaks the deadlock by refusing the request's statement (40P01); the request runs again."""
    other_done = threading.Event()
    other_errors = []

    def other_locks_in_opposite_order(row_2_locked):
        try:
            with other_connection(committed_app) as other, other.begin():
                other.execute(sa.text("UPDATE probe SET n = n + 10 WHERE id = 2"))
                row_2_locked.set()
                time.sleep(SECOND_WAITER_DELAY_S)  # the request waits for row 2 first
                other.execute(sa.text("UPDATE probe SET n = n + 10 WHERE id = 1"))
        except Exception as error:  # noqa: BLE001 - reported to the test
            other_errors.append(error)
        finally:
            other_done.set()

    def work(session, attempt):
        session.execute(sa.text("UPDATE probe SET n = n + 1 WHERE id = 1"))
        if attempt == 1:
            row_2_locked = threading.Event()
            threading.Thread(target=other_locks_in_opposite_order, args=(row_2_locked,)).start()
            assert row_2_locked.wait(timeout=10)
        session.execute(sa.text("UPDATE probe SET n = n + 1 WHERE id = 2"))

    attempts = probe_route(committed_app, "/probe/deadlock", work)
    response = committed_app.test_client().post("/probe/deadlock")
    assert other_done.wait(timeout=10)

    assert other_errors == []
    assert response.status_code == 200, response.get_json()
    assert attempts == [1, 2]
    assert refusals(caplog) == ["40P01"]
    # The other connection's writes and the request's, each once.
    assert rows(committed_app, "SELECT id, n FROM probe ORDER BY id") == [(1, 11), (2, 11)]


def test_a_request_refused_every_time_answers_the_one_error_shape_and_writes_nothing(
    committed_app, caplog
):
    """Under REPEATABLE READ, another connection changes the row between the request's read and
    its update, on every attempt: the limit is reached, and the client gets a 503 to retry."""

    def work(session, attempt):
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        session.execute(sa.text("INSERT INTO probe_log VALUES (:a, 'request')"), {"a": attempt})
        session.execute(sa.text("SELECT n FROM probe WHERE id = 1")).scalar()
        with other_connection(committed_app) as other, other.begin():
            other.execute(sa.text("UPDATE probe SET n = n + 10 WHERE id = 1"))
        session.execute(sa.text("UPDATE probe SET n = n + 1 WHERE id = 1"))  # 40001

    attempts = probe_route(committed_app, "/probe/refused", work)
    response = committed_app.test_client().post("/probe/refused")

    assert attempts == list(range(1, REQUEST_TRANSACTION_ATTEMPTS_MAX + 1))
    assert refusals(caplog) == ["40001"] * (REQUEST_TRANSACTION_ATTEMPTS_MAX - 1)
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == "service_unavailable" and body["status"] == 503
    assert set(body) == {"code", "status", "message", "request_id"}
    assert response.headers["Retry-After"]
    assert rows(committed_app, "SELECT * FROM probe_log") == []
    other_writes = 10 * REQUEST_TRANSACTION_ATTEMPTS_MAX
    assert rows(committed_app, "SELECT n FROM probe WHERE id = 1") == [(other_writes,)]


def test_the_attempt_limit_is_small_and_more_than_one():
    assert 1 < REQUEST_TRANSACTION_ATTEMPTS_MAX <= 5
