"""The log's sequencer as it runs in production: ``tanhui log sequence --follow`` processes beside
the writers, several at once, one killed while it writes a batch. Every event becomes exactly one
leaf and the log verifies. The leader also has the configured witness cosign what it signs.

These run real processes against a database of their own (a SQLite file, or a scratch
PostgreSQL database), since a sequencer commits for real.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.models import LogCosignature, LogPending
from ledger.tlog import log_verify
from ledger.tlog.canonical import canonical_json
from ledger.tlog.note import parse_signer_key
from service.db import create_engine
from service.migrations import alembic_command, scratch_database
from service.sequencer import LEADER_LOCK_KEY
from tests.conftest import TEST_LOG_KEY, TEST_LOG_ORIGIN, TEST_SECRET, require_servers
from tests.fakes.witness import witness_process

ROOT = Path(__file__).resolve().parents[2]
TANHUI = Path(sys.executable).with_name("tanhui")
WAIT_S = 120
SIGNER = parse_signer_key(TEST_LOG_KEY)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sequencer.sqlite3'}"
        alembic_command(url, "upgrade", "head")
        yield url
        return
    database, _ = require_servers()
    with scratch_database(database, "tanhui_sequencer") as url:
        yield url


def environment(database_url, tmp_path, **extra):
    postgresql = database_url.startswith("postgresql")
    database, redis = require_servers() if postgresql else (None, None)
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "TANHUI_PROFILE": "production" if postgresql else "embedded",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis or "",
        "SECRET_KEY": TEST_SECRET,
        "JWT_SECRET_KEY": TEST_SECRET,
        "TLOG_SIGNING_KEY": TEST_LOG_KEY,
        "TLOG_ORIGIN": TEST_LOG_ORIGIN,
        "TANHUI_INSTANCE_PATH": str(tmp_path / "instance"),
        **extra,
    }


class Sequencer:
    """A ``tanhui log sequence --follow`` process whose output a thread collects."""

    def __init__(self, env):
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [str(TANHUI), "log", "sequence", "--follow", "--interval", "0.05"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def said(self, text):
        return any(text in line for line in self.lines)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.reader.join(5)
        self.process.stdout.close()


def wait_until(condition, what, timeout_s=WAIT_S):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def append_events(engine, start, count, per_commit=500):
    """Commit ``count`` events, ``per_commit`` a transaction, as writers queue them."""
    with Session(engine) as session:
        for first in range(start, start + count, per_commit):
            now = datetime.now(UTC)
            rows = [
                {"kind": "test.event", "source_id": str(number), "created_at": now,
                 "data": canonical_json({"type": "test.event", "n": number})}
                for number in range(first, min(first + per_commit, start + count))
            ]  # fmt: skip
            session.execute(sa.insert(LogPending), rows)
            session.commit()


def pending(engine):
    with engine.connect() as connection:
        return connection.scalar(sa.select(sa.func.count()).select_from(LogPending))


def tree(engine):
    with engine.connect() as connection:
        size = connection.scalar(sa.text("SELECT coalesce(max(size), 0) FROM tlog_checkpoints"))
        sources = connection.execute(
            sa.text("SELECT source_id FROM tlog_leaves ORDER BY position")
        ).scalars()
        return size, [int(source) for source in sources]


def assert_whole(engine, total):
    """Every event is exactly one leaf, in a tree the checkpoints sign, and the log verifies."""
    wait_until(lambda: pending(engine) == 0 and tree(engine)[0] == total, "the last checkpoint")
    size, sources = tree(engine)
    assert size == len(sources) == total
    assert sorted(sources) == list(range(total))  # none lost, none doubled
    with Session(engine) as session:
        assert log_verify(session, verifier=SIGNER.verifier(), origin=TEST_LOG_ORIGIN) == []


def test_two_sequencers_take_turns_and_every_event_is_one_leaf(database_url, tmp_path):
    engine = create_engine(database_url)
    env = environment(database_url, tmp_path)
    first, second = Sequencer(env), Sequencer(env)
    try:
        writer = threading.Thread(target=append_events, args=(engine, 0, 6_000, 300))
        writer.start()
        writer.join()
        assert_whole(engine, 6_000)
        if database_url.startswith("postgresql"):
            # One leads; the other waits for the lead instead of sequencing.
            wait_until(
                lambda: first.said("leads the log") or second.said("leads the log"), "a leader"
            )
            leader, follower = (first, second) if first.said("leads the log") else (second, first)
            wait_until(lambda: follower.said("waits:"), "the follower to wait")
            assert not follower.said("tree size")
    finally:
        first.stop()
        second.stop()
        engine.dispose()


def _leader_backend(engine):
    with engine.connect() as connection:
        return connection.scalar(
            sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND ((classid::bigint << 32) | objid::bigint) = :key"
            ),
            {"key": LEADER_LOCK_KEY},
        )


def _writing(engine):
    """Whether a connection to the database, other than ours, is inside a transaction that has
    written (it holds a transaction id): with no writer running, the leader mid-batch."""
    with engine.connect() as connection:
        return connection.scalar(
            sa.text(
                "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
            )
        )


@pytest.mark.postgresql_only
def test_the_leader_killed_mid_batch_is_replaced_and_no_leaf_is_lost_or_doubled(tmp_path):
    database, _ = require_servers()
    with scratch_database(database, "tanhui_sequencer_kill") as url:
        engine = create_engine(url)
        env = environment(url, tmp_path)
        append_events(engine, 0, 40_000, per_commit=10_000)  # four full batches waiting
        leader = Sequencer(env)
        wait_until(lambda: leader.said("leads the log"), "the first sequencer to lead")
        follower = Sequencer(env)
        try:
            wait_until(lambda: follower.said("waits:"), "the second to wait")
            backend = _leader_backend(engine)
            assert backend is not None
            wait_until(lambda: _writing(engine), "the leader to be writing a batch")
            leader.process.send_signal(signal.SIGKILL)
            leader.process.wait(10)
            killed_at_size, _ = tree(engine)
            assert killed_at_size < 40_000  # it died with rows still pending
            # PostgreSQL notices the closed connection, rolls the batch back and frees the lock.
            wait_until(lambda: follower.said("leads the log"), "the second to take over")
            append_events(engine, 40_000, 2_000)
            assert_whole(engine, 42_000)
        finally:
            leader.stop()
            follower.stop()
            engine.dispose()


def test_the_sequencer_has_the_configured_witness_cosign_what_it_signs(database_url, tmp_path):
    engine = create_engine(database_url)
    with witness_process(
        tmp_path, name="witness.test/w1", logs={TEST_LOG_ORIGIN: SIGNER.verifier_key}
    ) as witness:
        env = environment(database_url, tmp_path, TLOG_WITNESSES=f"{witness.vkey} {witness.url}")
        sequencer = Sequencer(env)
        try:
            for start, count in ((0, 50), (50, 50), (100, 30)):
                append_events(engine, start, count)
                total = start + count
                assert_whole(engine, total)
                wait_until(lambda total=total: _cosigned(engine, total), "the cosignature")
        except AssertionError as error:
            raise AssertionError("\n".join(sequencer.lines)) from error
        finally:
            sequencer.stop()
            engine.dispose()


def _cosigned(engine, size):
    with Session(engine) as session:
        return session.get(LogCosignature, (size, "witness.test/w1")) is not None


@pytest.mark.postgresql_only
def test_a_run_gives_the_lead_back_and_a_one_shot_run_does_not_wait_for_it(tmp_path):
    from sqlalchemy.orm import sessionmaker

    from service.sequencer import Sequencer as InProcess

    database, _ = require_servers()
    with scratch_database(database, "tanhui_sequencer_lead") as url:
        engine = create_engine(url)
        said = []
        sequencer = InProcess(
            engine, sessionmaker(bind=engine), signer=SIGNER, origin=TEST_LOG_ORIGIN,
            witnesses=[], interval_s=0.05, witness_timeout_s=1, echo=said.append,
        )  # fmt: skip
        try:
            append_events(engine, 0, 10)
            sequencer.run(follow=False)
            # The pooled connection that led holds no lock afterwards: the next run leads too.
            append_events(engine, 10, 5)
            sequencer.run(follow=False)
            assert (
                tree(engine)[0] == 15 and said.count(f"sequencer {os.getpid()} leads the log") == 2
            )
            with engine.connect() as other:
                other.scalar(sa.select(sa.func.pg_advisory_lock(LEADER_LOCK_KEY)))
                other.commit()
                append_events(engine, 15, 5)
                sequencer.run(follow=False)  # another leads: returns at once, sequencing nothing
                assert tree(engine)[0] == 15 and "waits" in said[-1]
        finally:
            engine.dispose()
