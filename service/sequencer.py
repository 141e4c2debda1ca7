"""The transparency log's sequencer: one process beside the web workers (``tanhui log sequence
--follow``), wherever the service runs.

Several hosts may each start one. On PostgreSQL exactly one leads: it holds a session-level
advisory lock (:data:`LEADER_LOCK_KEY`) on the very connection it sequences on, and the others
wait, trying for the lock every interval. When the leader dies its connection closes, PostgreSQL
releases the lock with it and rolls back the batch it was writing (pending rows are deleted in
the same transaction that appends their leaves), so the next to take the lock appends exactly
those rows again: no leaf lost, none doubled. The ``tlog_state`` row lock in
``ledger.tlog.log_sequence`` still orders any two writers, whatever leads. On SQLite (one host)
every round takes the database's write lock first, so sequencers simply take turns.

The leader also asks the configured witnesses to cosign each new checkpoint, from a thread of its
own, so a slow or absent witness never delays sequencing.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.retry import retryable
from ledger.tlog import log_pending_exists, log_sequence
from ledger.tlog.note import Signer
from ledger.tlog.witnessing import Witness, witness_submit
from service.base.orm import utcnow
from service.witness_http import WitnessHttp

log = logging.getLogger("tanhui.sequencer")

#: The advisory lock a leading sequencer holds ("tanhui" and the log's number, 1).
LEADER_LOCK_KEY = 0x74616E6875690001
#: Waiting after a lost connection before trying again, doubling up to the most.
RECONNECT_MIN_S = 0.5
RECONNECT_MAX_S = 30.0
#: A witness that refused or did not answer is asked again at most this often.
WITNESS_RETRY_S = 5.0


class Sequencer:
    """Sequence pending events into the log, leading on PostgreSQL; ``stop`` ends ``run``.

    ``engine`` holds the leader's lock (a connection of its own, kept for as long as the process
    leads); ``sessions`` makes the sessions the rounds and the witnesses' submissions run in.
    """

    def __init__(
        self,
        engine: sa.Engine,
        sessions: Callable[[], Session],
        *,
        signer: Signer,
        origin: str,
        witnesses: list[Witness],
        interval_s: float,
        witness_timeout_s: float,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.engine, self.sessions, self.signer, self.origin = engine, sessions, signer, origin
        self.witnesses, self.interval_s, self.echo = witnesses, interval_s, echo
        self.witness_timeout_s = witness_timeout_s
        self.stopping = threading.Event()
        self.signed = threading.Event()
        self.witness_thread: threading.Thread | None = None

    def stop(self) -> None:
        self.stopping.set()
        self.signed.set()

    def run(self, *, follow: bool) -> None:
        """Sequence until nothing is pending (or, with ``follow``, until stopped), reconnecting
        and taking the lead again after a lost connection."""
        retry_s = RECONNECT_MIN_S
        while not self.stopping.is_set():
            try:
                with self._leadership(follow=follow) as (leading, lock):
                    if not leading:
                        return
                    retry_s = RECONNECT_MIN_S
                    self._rounds(follow=follow, lock=lock)
                return
            except sa.exc.OperationalError as error:
                if not follow:
                    raise
                log.error("sequencer lost the database; retrying in %.1f s: %s", retry_s, error)
                self.stopping.wait(retry_s)
                retry_s = min(retry_s * 2, RECONNECT_MAX_S)

    @contextmanager
    def _leadership(self, *, follow: bool) -> Iterator[tuple[bool, sa.Connection | None]]:
        """Lead: on PostgreSQL, hold the leader's lock on a connection of its own, waiting while
        another holds it (``False`` when stopped first, or at once without ``follow``: the
        leader sequences); elsewhere there is nothing to hold. The lock is given back on the way
        out, so the pooled connection does not keep it."""
        if self.engine.dialect.name != "postgresql":
            yield True, None
            return
        with self.engine.connect() as connection:
            waiting = False
            while not self.stopping.is_set():
                held = connection.scalar(sa.select(sa.func.pg_try_advisory_lock(LEADER_LOCK_KEY)))
                connection.commit()
                if held:
                    self.echo(f"sequencer {os.getpid()} leads the log")
                    try:
                        yield True, connection
                    finally:
                        _unlock(connection)
                    return
                if not waiting:
                    self.echo(f"sequencer {os.getpid()} waits: another sequencer leads")
                    waiting = True
                if not follow:
                    break
                self.stopping.wait(self.interval_s)
            yield False, None

    def _rounds(self, *, follow: bool, lock: sa.Connection | None) -> None:
        session = self.sessions()
        if follow:
            self._witness_thread_start()
        try:
            while not self.stopping.is_set():
                if lock is not None:
                    # Still leading: the lock lives as long as its connection does.
                    lock.exec_driver_sql("SELECT 1")
                    lock.commit()
                try:
                    # Look before locking: an idle round writes nothing (on SQLite a write, even
                    # of nothing, would make every concurrent writer's snapshot stale).
                    waiting = log_pending_exists(session)
                    session.rollback()
                    checkpoint = None
                    if waiting:
                        checkpoint = log_sequence(
                            session, signer=self.signer, origin=self.origin, now=utcnow()
                        )
                        session.commit()
                except sa.exc.DBAPIError as error:
                    session.rollback()
                    if not retryable(error):
                        raise
                    log.warning("sequencing round refused; running it again: %s", error)
                    continue
                if checkpoint is not None:
                    self.echo(f"tree size {checkpoint.size}")
                    self.signed.set()
                    continue
                if not follow:
                    break
                self.stopping.wait(self.interval_s)
        finally:
            session.close()
        if not follow:
            self.witnesses_ask_once()
        self._witness_thread_stop()

    # -- witnesses --------------------------------------------------------------------------------
    def _witness_thread_start(self) -> None:
        if self.witnesses and self.witness_thread is None:
            self.signed.set()
            self.witness_thread = threading.Thread(
                target=self._witness_loop, name="tlog-witnesses", daemon=True
            )
            self.witness_thread.start()

    def _witness_thread_stop(self) -> None:
        if self.witness_thread is not None:
            self.stop()
            self.witness_thread.join(timeout=self.witness_timeout_s * 2 + 1)
            self.witness_thread = None

    def _witness_loop(self) -> None:
        client = WitnessHttp(timeout_s=self.witness_timeout_s)
        try:
            while not self.stopping.is_set():
                self.signed.wait(WITNESS_RETRY_S)
                self.signed.clear()
                if not self.stopping.is_set():
                    self.witnesses_ask(client)
        finally:
            client.close()

    def witnesses_ask_once(self) -> None:
        if self.witnesses:
            with WitnessHttp(timeout_s=self.witness_timeout_s) as client:
                self.witnesses_ask(client)

    def witnesses_ask(self, client: Any) -> None:
        """Ask each witness once for the newest checkpoint, one transaction per witness."""
        for witness in self.witnesses:
            with self.sessions() as session:
                try:
                    result = witness_submit(session, witness=witness, client=client, now=utcnow())
                    session.commit()
                except sa.exc.DBAPIError as error:
                    log.error("witness %s: the database failed: %s", witness.name, error)
                    continue
            if result.outcome == "cosigned":
                log.info("witness %s cosigned tree size %d", witness.name, result.size)
            elif result.outcome != "current":
                log.error("witness %s %s: %s", witness.name, result.outcome, result.detail)


def _unlock(connection: sa.Connection) -> None:
    """Give the leader's lock back; a connection already lost holds nothing to give."""
    try:
        connection.rollback()
        connection.scalar(sa.select(sa.func.pg_advisory_unlock(LEADER_LOCK_KEY)))
        connection.commit()
    except sa.exc.DBAPIError:
        connection.invalidate()


def sequencer_from_config(
    engine: sa.Engine,
    sessions: Callable[[], Session],
    config: dict[str, Any],
    *,
    signer: Signer,
    interval_s: float,
    echo: Callable[[str], None] = print,
) -> Sequencer:
    return Sequencer(
        engine,
        sessions,
        signer=signer,
        origin=config["TLOG_ORIGIN"],
        witnesses=list(config["TLOG_WITNESS_LIST"]),
        interval_s=interval_s,
        witness_timeout_s=float(config["TLOG_WITNESS_TIMEOUT_S"]),
        echo=echo,
    )
