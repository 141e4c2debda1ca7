"""Redis goes down, and comes back empty: scans still answer, and not one answered scan is lost.

A carbon-neutral lot is issued and its codes scanned on a Redis of the test's own
(``tests/redis_server.py``), which the tests stop and restart without its data, as a production
Redis without persistence restarts.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from labels.codes import scene_for, serial_for
from labels.lots import lot_key_of
from labels.models import LabelLot, Product
from tests.conftest import TEST_LOG_KEY, TEST_LOG_ORIGIN, TEST_SECRET
from tests.labels.conftest import order
from tests.labels.test_scans import demo_lot

JSON = {"Accept": "application/json"}
TANHUI = str(Path(sys.executable).parent / "tanhui")
#: How long the flusher may take to catch up before the test gives up [s] (a bound, not a timing).
CATCH_UP_S = 60.0


@pytest.fixture()
def scanned(make_app, backend, redis_server, staff, certified, operator, session, retired_tonne):
    """The production profile on the test's own Redis, and an issued lot of 100 bags; returns
    (app, path of unit 7, the lot-level path, unit 7's scene)."""
    if backend.redis_url is None:
        pytest.skip("the embedded profile has no Redis to lose")
    app = make_app(REDIS_URL=redis_server.url)
    client = app.test_client()
    _, headers = staff
    lot = order(client, headers, certified(), 100).get_json()
    client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "ICBC-9", "amount_fen": lot["amount_fen"]},
    )
    row = session.get(LabelLot, lot["id"])
    key = lot_key_of(row, session.get(Product, row.product_id), app.config["UNIT_CODE_MASTER_KEYS"])
    lot_path = "/01/06901234567892/10/LT2026A"
    return (
        app,
        f"{lot_path}/21/{serial_for(key, 7)}",
        lot_path,
        scene_for(row.id, serial_for(key, 7)),
    )


def test_every_kind_of_scan_answers_while_redis_is_down(scanned, redis_server):
    app, path, lot_path, scene = scanned
    client = app.test_client()
    assert client.get(path, headers=JSON).get_json()["scans"]["count"] == 1  # cached now
    redis_server.stop()
    assert client.get(path).status_code == 200  # the page
    body = client.get(path, headers=JSON).get_json()
    assert body["outcome"] == "genuine" and body["scans"]["count"] == 3
    assert client.get(path, query_string={"linkType": "all"}).status_code == 200
    assert client.get(lot_path).status_code == 200
    assert client.get(lot_path, headers=JSON).status_code == 200
    scene_answer = client.get("/api/v1/scan", query_string={"scene": scene})
    assert scene_answer.status_code == 200
    assert scene_answer.get_json()["scans"]["count"] == 5
    assert client.get("/readyz").get_json()["status"] == "degraded"


def test_no_answered_scan_is_lost_across_an_empty_restart(scanned, redis_server, session):
    app, path, _, _ = scanned
    client = app.test_client()
    before, during, after = 4, 3, 2
    for _ in range(before):
        assert client.get(path, headers=JSON).status_code == 200
    redis_server.stop()
    for _ in range(during):
        assert client.get(path, headers=JSON).status_code == 200
    redis_server.start()  # empty: nothing was saved
    outage = app.extensions["tanhui.redis_outage"]
    retry_at = time.monotonic() + outage.retry_after_s  # REDIS_RETRY_AFTER_S later
    outage.clock = lambda: retry_at
    shown = [client.get(path, headers=JSON).get_json()["scans"]["count"] for _ in range(after)]
    # Redis was re-seeded from the database: the count on display went on from 7.
    assert shown == [8, 9]
    result = app.test_cli_runner().invoke(args=["scans", "flush"])
    assert result.exit_code == 0, result.output
    assert "9 scans flushed" in result.output
    count = session.scalar(sa.text("SELECT scan_count FROM unit_scans WHERE unit_index = 7"))
    assert count == before + during + after
    assert session.scalar(sa.text("SELECT count(*) FROM scan_events")) == 0


def flushed(database_url: str) -> int:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as connection:
            return connection.scalar(sa.text("SELECT coalesce(sum(scan_count), 0) FROM unit_scans"))
    finally:
        engine.dispose()


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + CATCH_UP_S
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.mark.postgresql_only
def test_the_flusher_survives_redis_and_database_outages_and_resumes(
    server_config, scratch_database_url, redis_server, tmp_path
):
    lot = demo_lot({**server_config, "REDIS_URL": redis_server.url}, scratch_database_url)
    database = sa.create_engine(
        scratch_database_url.replace("postgresql://", "postgresql+psycopg://")
    )

    def scan(count: int) -> None:
        with database.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO scan_events (lot_id, unit_index, scanned_at)"
                    " SELECT :lot, 3, now() FROM generate_series(1, :count)"
                ),
                {"lot": lot, "count": count},
            )

    environment = {
        **os.environ,
        "TANHUI_PROFILE": "production",
        "TANHUI_INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": scratch_database_url,
        "REDIS_URL": redis_server.url,
        "SECRET_KEY": TEST_SECRET,
        "JWT_SECRET_KEY": TEST_SECRET,
        "TLOG_SIGNING_KEY": TEST_LOG_KEY,
        "TLOG_ORIGIN": TEST_LOG_ORIGIN,
    }
    flusher = subprocess.Popen(
        [TANHUI, "scans", "flush", "--follow", "--interval", "0.2"],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        scan(5)
        wait_for(lambda: flushed(scratch_database_url) == 5, "the flusher did not start")
        redis_server.stop()
        scan(5)
        wait_for(lambda: flushed(scratch_database_url) == 10, "Redis down stopped the flusher")
        redis_server.start()
        # The database drops the flusher's connection, as a restart or failover does.
        with database.begin() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        scan(5)
        wait_for(lambda: flushed(scratch_database_url) == 15, "a lost connection stopped it")
        assert flusher.poll() is None
    finally:
        flusher.terminate()
        _, errors = flusher.communicate(timeout=30)
        database.dispose()
    assert "scans flush failed; retrying" in errors or "resumed" in errors or errors == ""
