"""Which database refusals mean "run the transaction again": PostgreSQL's serialization failures
and deadlocks, and SQLite's busy answers, including a snapshot another writer made stale."""

import sqlite3

import pytest
import sqlalchemy as sa

from ledger.retry import retryable


def test_a_write_after_another_writer_committed_is_busy_snapshot_and_retryable(tmp_path):
    path = tmp_path / "busy.sqlite3"
    first = sqlite3.connect(path, timeout=0, isolation_level=None)
    first.execute("PRAGMA journal_mode=WAL")
    first.execute("CREATE TABLE t (n INTEGER)")
    second = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        second.execute("BEGIN")
        second.execute("SELECT count(*) FROM t").fetchall()  # its snapshot starts here
        first.execute("INSERT INTO t VALUES (1)")  # another writer commits
        with pytest.raises(sqlite3.OperationalError) as refused:
            second.execute("INSERT INTO t VALUES (2)")
        assert refused.value.sqlite_errorcode == 517  # SQLITE_BUSY_SNAPSHOT
        assert retryable(refused.value)
        assert retryable(sa.exc.OperationalError("INSERT", {}, refused.value))
    finally:
        second.close()
        first.close()


def test_a_write_while_another_holds_the_lock_is_busy_and_retryable(tmp_path):
    path = tmp_path / "busy.sqlite3"
    first = sqlite3.connect(path, timeout=0, isolation_level=None)
    first.execute("CREATE TABLE t (n INTEGER)")
    second = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        first.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as refused:
            second.execute("INSERT INTO t VALUES (2)")
        assert refused.value.sqlite_errorcode == 5  # SQLITE_BUSY
        assert retryable(refused.value)
    finally:
        first.execute("ROLLBACK")
        second.close()
        first.close()


def test_other_refusals_are_not_retried(tmp_path):
    connection = sqlite3.connect(tmp_path / "x.sqlite3")
    with pytest.raises(sqlite3.OperationalError) as refused:
        connection.execute("SELECT * FROM missing")
    connection.close()
    assert not retryable(refused.value)
    assert not retryable(ValueError("no"))
