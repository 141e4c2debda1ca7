"""The engine on PostgreSQL: pooled connections the server has closed are replaced, not failed."""

import time

import sqlalchemy as sa

from service.app import create_app
from service.db import database

TERMINATION_WAIT_S = 10


def backends_terminate(url: str) -> None:
    """End every other backend on the database, as a restart or an administrator would, and wait
    until they are gone."""
    # Autocommit: pg_stat_activity is read afresh by each statement, not once per transaction.
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT")
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f"SELECT pg_terminate_backend(pid) {others}"))
            deadline = time.monotonic() + TERMINATION_WAIT_S
            while connection.scalar(sa.text(f"SELECT count(*) {others}")):
                assert time.monotonic() < deadline, "backends still running"
                time.sleep(0.05)
    finally:
        engine.dispose()


def test_a_request_after_the_server_closed_its_pooled_connection_gets_a_fresh_one(
    server_config, scratch_database_url
):
    app = create_app({**server_config, "DATABASE_URL": scratch_database_url})
    client = app.test_client()
    try:
        assert client.get("/readyz").get_json()["checks"]["database"] == "ok"
        assert database(app).engine.pool.checkedin() == 1  # the connection waits in the pool
        backends_terminate(scratch_database_url)
        assert client.get("/readyz").get_json()["checks"]["database"] == "ok"
        assert client.get("/api/v1/points/catalogue").status_code != 500  # through a session too
    finally:
        database(app).engine.dispose()
