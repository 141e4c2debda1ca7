"""The log's sequencer under a benchmark's load: started beside the web workers as production
runs it, and how long each committed entry waited before a signed checkpoint included it
(``bench.points`` reports it for the claims window).

A leaf's wait is the ``created_at`` of the first checkpoint whose size exceeds its position, less
its ``queued_at`` (the writer's time for its pending row). Computed in the database, so a million
leaves never cross the wire.
"""

from __future__ import annotations

import subprocess
import time
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from bench.common import BIN, ROOT

#: The goal for a committed entry's wait before a signed checkpoint includes it.
SEQUENCING_WAIT_MS_GOAL = 2_000
#: How long the sequencer may take to drain what the window queued before the run gives up.
DRAIN_WAIT_S_MAX = 120


def sequencer_start(env: dict, log: Path, interval_s: float) -> subprocess.Popen:
    """``tanhui log sequence --follow`` with the server's environment, in a process group of its
    own (so the ``finally`` stops it and nothing else). Its stdout, a line per round, is dropped;
    its stderr goes to ``log``, read back only if it died, since an unread pipe would fill and
    stall it."""
    with log.open("wb") as errors:
        return subprocess.Popen(
            [str(BIN / "tanhui"), "log", "sequence", "--follow", "--interval", str(interval_s)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True,
        )  # fmt: skip


def pending_drained(engine: sa.Engine) -> float | None:
    """Seconds until ``tlog_pending`` is empty on two polls in a row (a request still in
    flight when wrk stopped may commit a row after the first), or ``None`` after
    ``DRAIN_WAIT_S_MAX``: the waits would then leave out what never got sequenced."""
    started = time.monotonic()
    empty_polls = 0
    with engine.connect() as connection:
        while time.monotonic() - started < DRAIN_WAIT_S_MAX:
            pending = connection.scalar(sa.text("SELECT count(*) FROM tlog_pending"))
            connection.rollback()
            empty_polls = empty_polls + 1 if pending == 0 else 0
            if empty_polls == 2:
                return round(time.monotonic() - started, 2)
            time.sleep(0.2)
    return None


TREE_SIZE = sa.text("SELECT coalesce(max(size), 0) FROM tlog_state")
#: Per leaf queued in the window, the first checkpoint that covers it (a primary-key probe each).
#: ``queued_at`` is the writer's ``now``, taken before the rest of its request, so the wait also
#: holds the writer's own time to commit. The leaf was not in the round before its own, so it
#: committed after that round began: counted from there, the wait is at most the sequencer's part.
SEQUENCING_WAITS = sa.text("""
    WITH waits AS (
        SELECT extract(epoch FROM c.created_at - l.queued_at) * 1000 AS wait_ms,
               extract(epoch FROM c.created_at - greatest(l.queued_at, p.created_at)) * 1000
                   AS after_commit_ms
        FROM tlog_leaves l
        CROSS JOIN LATERAL (
            SELECT created_at FROM tlog_checkpoints
            WHERE size > l.position ORDER BY size LIMIT 1
        ) c
        LEFT JOIN LATERAL (
            SELECT created_at FROM tlog_checkpoints
            WHERE size <= l.position ORDER BY size DESC LIMIT 1
        ) p ON true
        WHERE l.position >= :size_before
          AND l.queued_at >= :window_start AND l.queued_at < :window_end
    )
    SELECT count(*) AS leaves,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY wait_ms) AS p50,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY wait_ms) AS p99,
           max(wait_ms) AS max,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY after_commit_ms) AS after_commit_p50,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY after_commit_ms) AS after_commit_p99
    FROM waits
""")
#: The rounds whose checkpoints were signed in the window: leaves each carried, and the time since
#: the round before (about one round's duration while rows are always pending).
CHECKPOINT_ROUNDS = sa.text("""
    WITH rounds AS (
        SELECT created_at,
               size - lag(size) OVER (ORDER BY size) AS leaves,
               extract(epoch FROM created_at - lag(created_at) OVER (ORDER BY size)) * 1000
                   AS gap_ms
        FROM tlog_checkpoints
        WHERE size >= :size_before
    )
    SELECT count(*) AS checkpoints,
           avg(leaves) AS leaves_mean, max(leaves) AS leaves_max,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY gap_ms) AS gap_p50,
           max(gap_ms) AS gap_max
    FROM rounds
    WHERE created_at >= :window_start AND created_at < :window_end
""")


def _ms(value) -> float | None:
    return None if value is None else round(float(value), 1)


def sequencing_waits(
    connection: sa.Connection, size_before: int, window_start: datetime, window_end: datetime
) -> dict:
    """Waits from queue to checkpoint of the leaves queued in the window, computed in the
    database (a million leaves never cross the wire), and what the window's rounds were like."""
    bounds = {"size_before": size_before, "window_start": window_start, "window_end": window_end}
    waits = connection.execute(SEQUENCING_WAITS, bounds).one()
    rounds = connection.execute(CHECKPOINT_ROUNDS, bounds).one()
    p99 = _ms(waits.p99)
    return {
        "leaves_sequenced_in_window": waits.leaves,
        "checkpoints_in_window": rounds.checkpoints,
        "sequencing_wait_ms_p50": _ms(waits.p50),
        "sequencing_wait_ms_p99": p99,
        "sequencing_wait_ms_max": _ms(waits.max),
        "sequencing_goal_met": p99 is not None and p99 < SEQUENCING_WAIT_MS_GOAL,
        "sequencer_wait_bound_ms_p50": _ms(waits.after_commit_p50),
        "sequencer_wait_bound_ms_p99": _ms(waits.after_commit_p99),
        "checkpoint_leaves_mean": _ms(rounds.leaves_mean),
        "checkpoint_leaves_max": rounds.leaves_max,
        "checkpoint_gap_ms_p50": _ms(rounds.gap_p50),
        "checkpoint_gap_ms_max": _ms(rounds.gap_max),
    }
