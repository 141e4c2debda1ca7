"""Scan counts, worked through: each scan is an event row; the flusher folds events into
``unit_scans`` exactly once, in batches, however many flushers run; the total never changes."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.models import ScanEvent, UnitScan
from labels.scans import (
    FLUSH_BATCH_MAX,
    RedisScanCounter,
    scan_counter,
    scan_totals,
    scans_fold,
    scans_total,
)
from service.app import create_app
from service.db import create_engine
from service.store import Outage
from tests.labels.conftest import order

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def events(session, lot_id, index, count, *, province=None, user_id=None, start=T0):
    session.execute(
        sa.insert(ScanEvent),
        [
            {
                "lot_id": lot_id,
                "unit_index": index,
                "scanned_at": start + timedelta(minutes=i),
                "province": province,
                "user_id": user_id,
            }
            for i in range(count)
        ],
    )


@pytest.fixture()
def lot_id(client, staff, certified, retired_tonne):
    """An ordered lot (scans name lots; ``unit_scans`` checks that they exist)."""
    return order(client, staff[1], certified(), 100).get_json()["id"]


def demo_lot(server_config, database_url):
    """Seed the demo into a scratch database; returns its issued lot's id."""
    app = create_app({**server_config, "DATABASE_URL": database_url})
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    with app.extensions["tanhui.db"].engine.connect() as connection:
        found = connection.scalar(sa.text("SELECT id FROM label_lots WHERE status = 'issued'"))
    app.extensions["tanhui.db"].engine.dispose()
    app.extensions["tanhui.redis"].close()
    return found


def test_embedded_there_is_no_counter():
    assert scan_counter(None, "tanhui", Outage("redis")) is None


def test_with_redis_counts_go_under_the_prefix():
    counter = scan_counter(object(), "tanhui-test", Outage("redis"))
    assert isinstance(counter, RedisScanCounter)
    assert counter._key(4, 7) == "tanhui-test:scan:4:7"


def test_folding_counts_each_event_once_and_keeps_the_total(session, lot_id):
    # Unit 7 of lot 1 was scanned twice before (folded); three scans and one of unit 9 wait.
    session.add(
        UnitScan(
            lot_id=lot_id,
            unit_index=7,
            scan_count=2,
            first_scan_at=T0 - timedelta(days=1),
            last_scan_at=T0 - timedelta(days=1),
            provinces=["31"],
        )
    )
    events(session, lot_id, 7, 3, province="33", user_id=None)
    events(session, lot_id, 9, 1)
    session.flush()
    assert scans_total(session) == 6
    assert scan_totals(session, lot_id=lot_id, index=7) == {
        "count": 5,
        "first_scan_at": T0 - timedelta(days=1),
        "provinces": ["31", "33"],
    }
    assert scans_fold(session) == 4
    rows = {
        row.unit_index: (row.scan_count, row.provinces, row.last_scan_at)
        for row in session.scalars(sa.select(UnitScan))
    }
    assert rows == {7: (5, ["31", "33"], T0 + timedelta(minutes=2)), 9: (1, [], T0)}
    # Nothing is left to fold, and folding again changes nothing.
    assert scans_fold(session) == 0
    assert scans_total(session) == 6
    assert scan_totals(session, lot_id=lot_id, index=7)["count"] == 5


def test_a_batch_folds_at_most_the_limit_oldest_first(session, lot_id):
    events(session, lot_id, 0, 5)
    session.flush()
    assert scans_fold(session, limit=3) == 3
    assert session.scalar(sa.select(UnitScan.scan_count)) == 3
    assert session.scalar(sa.select(sa.func.min(ScanEvent.scanned_at))) == T0 + timedelta(minutes=3)
    assert FLUSH_BATCH_MAX == 1_000


@pytest.mark.postgresql_only
def test_flushers_running_at_once_count_every_event_exactly_once(
    server_config, scratch_database_url
):
    lot = demo_lot(server_config, scratch_database_url)
    engine = create_engine(scratch_database_url, pool_size=6)
    codes, per_code = 40, 50
    with Session(engine) as session:
        for index in range(codes):
            events(session, lot, index, per_code)
        session.commit()
    failures = []

    def flush():
        try:
            with Session(engine) as session:
                while scans_fold(session, limit=97):
                    session.commit()
                session.commit()
        except Exception as error:  # noqa: BLE001 - reported below
            failures.append(error)

    flushers = [threading.Thread(target=flush) for _ in range(4)]
    for flusher in flushers:
        flusher.start()
    for flusher in flushers:
        flusher.join()
    assert failures == []
    with Session(engine) as session:
        counts = session.scalars(sa.select(UnitScan.scan_count)).all()
        assert sorted(counts) == [per_code] * codes
        assert session.scalar(sa.select(sa.func.count()).select_from(ScanEvent)) == 0
    engine.dispose()
