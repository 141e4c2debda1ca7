"""The log's mirror, verified: ``python -m bench.tlog [--leaves 1000000]``.

On this machine, in one run, on a scratch database beside ``TEST_DATABASE_URL`` (Redis at
``TEST_REDIS_URL``, a key prefix of its own):

1. **Generation.** ``--leaves`` pending rows of about 300 bytes of canonical JSON each (shaped
   like a points earning's ledger leaf) are bulk-loaded with COPY, then ``log_sequence`` appends
   them in rounds of its batch maximum, one commit a round, signing a checkpoint each time, as
   the sequencer would under a backlog: ``generate_s`` (``generate_copy_s`` plus
   ``generate_sequence_s``). The planner's statistics are refreshed afterwards, untimed, as
   autovacuum keeps them on a database in service.
2. **Mirror.** gunicorn serves the production profile; ``tools/tanhui-verify.py mirror`` fetches
   the checkpoint, every hash tile and every entry bundle into an empty directory, checking the
   signature, every entry against its leaf hash and the tiles against the checkpoint's root:
   ``mirror_s``. The baseline is a plain fetch of exactly the URLs the mirror stored, with the same
   concurrency and no verification (threads, each with a keep-alive connection), measured after
   the mirror so both read a warm database: ``baseline_fetch_s`` and the ratio
   ``mirror_ratio_to_baseline``, what verifying (and writing) costs above fetching.
3. **Incremental re-mirror.** 1,000 more leaves are appended and sequenced; the same mirror
   command on the same directory fetches only what changed: ``remirror_1000_s``.
   ``mirror_bytes`` is the mirror's size on disk afterwards (the sum of its files' sizes).

``--demo`` instead seeds the demo (``tanhui demo seed``), mirrors its log and reports
``demo_leaves`` and ``demo_mirror_bytes``: a quick check that the mirror reads a real log.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from bench.common import production_env, report, scratch_database
from bench.resolver import BIN, ROOT, _free_port, _wait_ready
from ledger.tlog import latest_checkpoint, log_sequence
from ledger.tlog.canonical import canonical_json
from service.app import create_app
from service.db import get_session
from service.signing import log_signer

VERIFIER = ROOT / "tools" / "tanhui-verify.py"
#: The kind of the generated leaves: none of the ledger's, so nothing reads them as entries.
LEAF_KIND = "bench.entry"
#: Leaves appended before the incremental re-mirror.
REMIRROR_LEAVES = 1_000
#: Rows written to COPY per call: large enough that the Python loop is not what is measured.
COPY_CHUNK_ROWS = 10_000
#: Concurrent requests of the mirror and of its baseline.
CONCURRENCY = 8
#: How long one mirror may take before the run gives up on it.
MIRROR_TIMEOUT_S = 1_800


@contextmanager
def _app(env: dict) -> Iterator[tuple]:
    """An app built with ``env`` (the server's own settings) and its session, in its context."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        app = create_app()
        with app.app_context():
            yield get_session(), app
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _leaf_parts(now: datetime) -> tuple[str, str, str, str]:
    """A leaf of about 300 bytes as four pieces around its number, which appears three times
    (id, key, a consumer account): built once with ``canonical_json``, so every leaf is canonical
    without encoding a million documents (numbers and hex need no escaping)."""
    marker = "999999999999"
    text = canonical_json(
        {
            "type": LEAF_KIND,
            "id": int(marker),
            "key": f"points.claim:{marker}:9f86d081884c7d65",
            "kind": "points_earn",
            "lot": "01/06901234567892/10/BENCH1",
            "postings": [
                [f"points:consumer:{marker}:available", "POINT", 10],
                ["points:issuance:unit_claim", "POINT", -10],
            ],
            "rule_version": 3,
            "created_at": now.isoformat(),
        }
    )
    parts = text.split(marker)
    assert len(parts) == 4, "the marker appears once per varying field"
    # COPY's text format: nothing in the leaf may need escaping.
    assert not set(text) & set("\t\n\r\\"), "a leaf with characters COPY text would escape"
    return parts[0], parts[1], parts[2], parts[3]


def _pending_copy(database_url: str, first: int, count: int) -> float:
    """Queue ``count`` leaves numbered from ``first`` with one COPY, committed; seconds taken."""
    started = time.perf_counter()
    now = datetime.now(UTC)
    head, after_id, after_key, tail = _leaf_parts(now)
    stamp = now.isoformat()
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as connection:
            driver = connection.connection.driver_connection
            with (
                driver.cursor() as cursor,
                cursor.copy(
                    "COPY tlog_pending (kind, source_id, data, created_at) FROM STDIN"
                ) as copy,
            ):
                for start in range(first, first + count, COPY_CHUNK_ROWS):
                    end = min(start + COPY_CHUNK_ROWS, first + count)
                    copy.write(
                        "".join(
                            f"{LEAF_KIND}\t{n}\t{head}{n}{after_id}{n:012d}{after_key}{n:012d}"
                            f"{tail}\t{stamp}\n"
                            for n in range(start, end)
                        )
                    )
    finally:
        engine.dispose()
    return time.perf_counter() - started


def _sequence_all(env: dict) -> tuple[float, int, int]:
    """Sequence everything pending in rounds of the batch maximum, committing each round, as the
    sequencer drains a backlog. Returns (seconds, rounds, tree size)."""
    with _app(env) as (session, app):
        signer, origin = log_signer(), app.config["TLOG_ORIGIN"]
        started = time.perf_counter()
        rounds = 0
        while log_sequence(session, signer=signer, origin=origin, now=datetime.now(UTC)):
            session.commit()
            rounds += 1
        session.commit()
        elapsed = time.perf_counter() - started
        checkpoint = latest_checkpoint(session)
        return elapsed, rounds, checkpoint.size if checkpoint else 0


def _analyze(database_url: str) -> None:
    """Fresh planner statistics for tables that grew from empty in a minute (stale ones would
    plan a tile's range read as a scan of a table thought empty)."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("ANALYZE tlog_leaves, tlog_nodes, tlog_checkpoints"))
            connection.commit()
    finally:
        engine.dispose()


@contextmanager
def _served(env: dict, port: int) -> Iterator[str]:
    """gunicorn with the production profile in a process group of its own; the base URL."""
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "python:service.gunicorn_config",
         "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait_ready(base)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _verifier_key(env: dict) -> str:
    with _app(env) as _:
        return log_signer().verifier_key


def _mirror(base: str, directory: Path, key: str, concurrency: int) -> float:
    """Seconds the verifier takes to mirror ``base``'s log into ``directory``; a mirror that
    fails verification fails the run (its time would measure nothing)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(VERIFIER), "mirror", f"{base}/log", str(directory), "--key", key,
         "--concurrency", str(concurrency)],
        cwd=ROOT, capture_output=True, text=True, timeout=MIRROR_TIMEOUT_S,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the mirror failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed


def _mirrored_paths(directory: Path) -> list[str]:
    """The log paths the mirror stored (``checkpoint``, ``tile/...``), from its files."""
    return sorted(
        path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file()
    )


def _bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def _fetch_all(base: str, paths: list[str], concurrency: int) -> float:
    """Seconds to GET every ``base/log/<path>`` from ``concurrency`` threads, each over one
    keep-alive connection, reading each body and nothing else: the baseline of the mirror."""
    split = urlsplit(base)
    prefix = split.path.rstrip("/") + "/log/"
    local = threading.local()
    failures: list[str] = []

    def fetch(path: str) -> int:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(split.netloc, timeout=60)
        connection.request("GET", prefix + path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            failures.append(f"{path}: {response.status}")
        return len(body)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        fetched_bytes = sum(pool.map(fetch, paths))
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"the baseline fetch failed: {failures[:5]}")
    assert fetched_bytes > 0
    return elapsed


def _leaves_run(options: argparse.Namespace, database_url: str, env: dict, work: Path) -> dict:
    copy_s = _pending_copy(database_url, 0, options.leaves)
    sequence_s, rounds, size = _sequence_all(env)
    _analyze(database_url)
    key = _verifier_key(env)
    mirror = work / "mirror"
    with _served(env, options.port) as base:
        mirror_s = _mirror(base, mirror, key, options.concurrency)
        paths = _mirrored_paths(mirror)
        baseline_s = _fetch_all(base, paths, options.concurrency)
        _pending_copy(database_url, options.leaves, REMIRROR_LEAVES)
        _, _, grown = _sequence_all(env)
        remirror_s = _mirror(base, mirror, key, options.concurrency)
    return {
        "leaves": size,
        "generate_copy_s": round(copy_s, 2),
        "generate_sequence_s": round(sequence_s, 2),
        "generate_s": round(copy_s + sequence_s, 2),
        "sequence_rounds": rounds,
        "mirror_s": round(mirror_s, 2),
        "mirror_requests": len(paths),
        "baseline_fetch_s": round(baseline_s, 2),
        "mirror_ratio_to_baseline": round(mirror_s / baseline_s, 3),
        "leaves_after_remirror": grown,
        "remirror_1000_s": round(remirror_s, 2),
        "mirror_bytes": _bytes(mirror),
    }


def _demo_run(options: argparse.Namespace, env: dict, work: Path) -> dict:
    """The demo's own log (seeded and sequenced by ``tanhui demo seed``), mirrored."""
    seeded = subprocess.run(
        [str(BIN / "tanhui"), "demo", "seed"], env=env, capture_output=True, text=True
    )
    if seeded.returncode != 0:
        sys.exit(seeded.stderr)
    with _app(env) as (session, _):
        checkpoint = latest_checkpoint(session)
        leaves = checkpoint.size if checkpoint else 0
    mirror = work / "demo-mirror"
    with _served(env, options.port) as base:
        mirror_s = _mirror(base, mirror, _verifier_key(env), options.concurrency)
    return {
        "demo_leaves": leaves,
        "demo_mirror_s": round(mirror_s, 2),
        "demo_mirror_bytes": _bytes(mirror),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 2))
    parser.add_argument("--demo", action="store_true", help="mirror the demo's log instead")
    options = parser.parse_args()
    if not VERIFIER.exists():
        sys.exit(f"{VERIFIER} is needed")
    options.port = _free_port()
    with (
        scratch_database("tanhui_bench_tlog") as database_url,
        tempfile.TemporaryDirectory(prefix="tanhui-bench-") as work,
    ):
        env = production_env(
            database_url, work, options.workers,
            PUBLIC_BASE_URL=f"http://127.0.0.1:{options.port}",
        )  # fmt: skip
        result: dict = {"workers": options.workers, "concurrency": options.concurrency}
        if options.demo:
            result.update(_demo_run(options, env, Path(work)))
            print(f"demo: {result['demo_leaves']} leaves, {result['demo_mirror_bytes']} bytes")
        else:
            result.update(_leaves_run(options, database_url, env, Path(work)))
            print(
                f"{result['leaves']} leaves generated in {result['generate_s']} s; mirrored in "
                f"{result['mirror_s']} s ({result['mirror_ratio_to_baseline']}x a plain fetch), "
                f"re-mirrored after {REMIRROR_LEAVES} more in {result['remirror_1000_s']} s; "
                f"{result['mirror_bytes']} bytes"
            )
    report(result)


if __name__ == "__main__":
    main()
