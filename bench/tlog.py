"""The log's mirror, verified: ``python -m bench.tlog [--leaves 1000000]``.

On this machine, in one run, on a scratch database beside ``TEST_DATABASE_URL`` (Redis at
``TEST_REDIS_URL``, a key prefix of its own):

1. **Generation.** ``--leaves`` pending rows of about 300 bytes of canonical JSON each (shaped
   like a points earning's ledger leaf) are bulk-loaded with COPY, then ``log_sequence`` appends
   them in rounds of its batch maximum, one commit a round, signing a checkpoint each time, as
   the sequencer would under a backlog: ``generate_s`` (``generate_copy_s`` plus
   ``generate_sequence_s``). The log's tables are then vacuumed and analysed (``vacuum_s``, not
   part of the rest), as autovacuum would have done long before anyone mirrors them.
2. **Mirror.** gunicorn serves the production profile (the log's rate limit lifted: a mirror of
   a million leaves asks for about 8,000 files); ``tools/tanhui-verify.py mirror`` fetches the
   checkpoint, every hash tile and every entry bundle into an empty directory, checking the
   signature, every entry against its leaf hash and the tiles against the checkpoint's root:
   ``mirror_s``. The run checks that it stored exactly what ``ledger.tlog.tiles`` says the log
   serves for that tree. The baseline is a plain fetch of exactly those URLs with the same
   concurrency and request headers (bundles come gzipped, so the server does the same work) and
   no verification, from threads each with a keep-alive connection as the mirror's are, after an
   untimed warm-up of the server on an eighth of them, once
   before the mirror and once after (the machine may be shared; a drifting load then weighs on
   both alike): ``baseline_fetch_s`` is their mean, and ``mirror_ratio_to_baseline`` is what
   verifying and writing cost above fetching. The server shares the client's cores, so the
   client's own CPU seconds are reported too (``mirror_cpu_s``, ``baseline_fetch_cpu_s``).
3. **Incremental re-mirror.** 1,000 more leaves are appended and sequenced; the same mirror
   command on the same directory fetches only what changed (``remirror_files_fetched``) but reads
   and checks again every file it already holds, so ``remirror_1000_s`` grows with the log, not
   with the 1,000. ``mirror_bytes`` is the mirror's size on disk afterwards (the sum of its files'
   sizes, its own record of verified checkpoints included).

``--demo`` instead seeds the demo (``tanhui demo seed``), mirrors its log and reports
``demo_leaves`` and ``demo_mirror_bytes``: a quick check that the mirror reads a real log.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import re
import resource
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

from bench.common import (
    BIN,
    ROOT,
    UNLIMITED,
    gunicorn_start,
    production_env,
    report,
    scratch_database,
)
from bench.resolver import _free_port, _wait_ready
from ledger.tlog import latest_checkpoint, log_sequence
from ledger.tlog.canonical import canonical_json
from ledger.tlog.tiles import Tile, tiles_for
from service.app import create_app
from service.db import get_session
from service.signing import log_signer

VERIFIER = ROOT / "tools" / "tanhui-verify.py"
#: The kind of the generated leaves: none of the ledger's, so nothing reads them as entries.
LEAF_KIND = "bench.entry"
#: Leaves appended before the incremental re-mirror.
REMIRROR_LEAVES = 1_000
#: Rows joined into one COPY write: few calls, and about 3 MB held at a time.
COPY_CHUNK_ROWS = 10_000
#: Concurrent requests of the mirror and of its baseline.
CONCURRENCY = 8
#: The mirror's own request headers: bundles come gzipped, so the server does the same work.
FETCH_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, identity"}
#: The warm-up fetches every this many of the paths: every worker thread serves some of each kind.
WARM_UP_EVERY = 8
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


def _vacuum(database_url: str) -> float:
    """VACUUM ANALYZE the log's tables, as autovacuum would have long before anyone mirrors
    them; seconds taken. Otherwise the first reader of a million fresh rows would pay for setting
    their hint bits, and stale statistics could plan a tile's range read as a scan of a table
    thought empty."""
    started = time.perf_counter()
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(
                sa.text("VACUUM ANALYZE tlog_pending, tlog_leaves, tlog_nodes, tlog_checkpoints")
            )
    finally:
        engine.dispose()
    return time.perf_counter() - started


@contextmanager
def _served(env: dict, port: int) -> Iterator[str]:
    """gunicorn with the production profile in a process group of its own; the base URL."""
    base = f"http://127.0.0.1:{port}"
    server = gunicorn_start(env, port, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(base)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _verifier_key(env: dict) -> str:
    with _app(env) as _:
        return log_signer().verifier_key


def _mirror(base: str, directory: Path, key: str, concurrency: int) -> tuple[float, int | None]:
    """Seconds the verifier takes to mirror ``base``'s log into ``directory``, and the files it
    says it fetched (a re-mirror fetches only what changed, but re-reads the rest); a mirror that
    fails verification fails the run (its time would measure nothing)."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(VERIFIER), "mirror", f"{base}/log", str(directory), "--key", key,
         "--jobs", str(concurrency)],
        cwd=ROOT, capture_output=True, text=True, timeout=MIRROR_TIMEOUT_S,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the mirror failed ({done.returncode}): {done.stderr[-2000:]}")
    fetched = re.search(r"fetched (\d+) files", done.stdout)
    return elapsed, int(fetched.group(1)) if fetched else None


def _children_cpu_s() -> float:
    """CPU seconds of the children waited for so far (the mirror runs as one)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _mirrored_paths(directory: Path) -> list[str]:
    """The log paths the mirror stored (``checkpoint``, ``tile/...``), from its files; not its
    own history of verified checkpoints (``checkpoints/<size>``), which it never fetched."""
    return sorted(
        relative
        for path in directory.rglob("*")
        if path.is_file()
        and not (relative := path.relative_to(directory).as_posix()).startswith("checkpoints/")
    )


def _served_paths(size: int) -> list[str]:
    """What the log serves for a tree of ``size`` by its own account (``ledger.tlog.tiles``):
    the checkpoint, every hash tile, and the entry bundle behind each level-0 tile."""
    tiles = list(tiles_for(size))
    bundles = [Tile(None, tile.index, tile.width) for tile in tiles if tile.level == 0]
    return sorted(["checkpoint", *(tile.path() for tile in tiles + bundles)])


def _bytes(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def _fetch_all(base: str, paths: list[str], concurrency: int) -> tuple[float, float]:
    """Seconds to GET every ``base/log/<path>`` from ``concurrency`` threads, each over one
    keep-alive connection, reading each body and nothing else: the baseline of the mirror. Also
    the client's CPU seconds, which the server's load on the same cores does not inflate."""
    split = urlsplit(base)
    prefix = split.path.rstrip("/") + "/log/"
    local = threading.local()
    failures: list[str] = []

    def fetch(path: str) -> int:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(split.netloc, timeout=60)
        connection.request("GET", prefix + path, headers=FETCH_HEADERS)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            failures.append(f"{path}: {response.status}")
        if response.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        return len(body)

    started, cpu_started = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        fetched_bytes = sum(pool.map(fetch, paths))
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    if failures:
        raise RuntimeError(f"the baseline fetch failed: {failures[:5]}")
    assert fetched_bytes > 0
    return elapsed, cpu_s


def _leaves_run(options: argparse.Namespace, database_url: str, env: dict, work: Path) -> dict:
    copy_s = _pending_copy(database_url, 0, options.leaves)
    sequence_s, rounds, size = _sequence_all(env)
    vacuum_s = _vacuum(database_url)
    key = _verifier_key(env)
    mirror = work / "mirror"
    paths = _served_paths(size)
    with _served(env, options.port) as base:
        # A fresh server answered its first few thousand tile requests about half again slower
        # (so did a restarted one, on the same warm database): warm it first, untimed.
        _fetch_all(base, paths[::WARM_UP_EVERY], options.concurrency)
        # The baseline brackets the mirror, so a load that drifts during the run (the machine is
        # shared) weighs on both alike.
        before_s, before_cpu_s = _fetch_all(base, paths, options.concurrency)
        cpu_started = _children_cpu_s()
        mirror_s, _ = _mirror(base, mirror, key, options.concurrency)
        mirror_cpu_s = _children_cpu_s() - cpu_started
        if _mirrored_paths(mirror) != paths:
            raise RuntimeError("the mirror did not store exactly what the log serves")
        after_s, after_cpu_s = _fetch_all(base, paths, options.concurrency)
        baseline_s, baseline_cpu_s = (before_s + after_s) / 2, (before_cpu_s + after_cpu_s) / 2
        _pending_copy(database_url, options.leaves, REMIRROR_LEAVES)
        _, _, grown = _sequence_all(env)
        remirror_s, refetched = _mirror(base, mirror, key, options.concurrency)
    return {
        "leaves": size,
        "generate_copy_s": round(copy_s, 2),
        "generate_sequence_s": round(sequence_s, 2),
        "generate_s": round(copy_s + sequence_s, 2),
        "sequence_rounds": rounds,
        "vacuum_s": round(vacuum_s, 2),
        "mirror_s": round(mirror_s, 2),
        "mirror_requests": len(paths),
        "baseline_fetch_s": round(baseline_s, 2),
        "baseline_fetch_before_s": round(before_s, 2),
        "baseline_fetch_after_s": round(after_s, 2),
        "mirror_ratio_to_baseline": round(mirror_s / baseline_s, 3),
        "mirror_cpu_s": round(mirror_cpu_s, 2),
        "baseline_fetch_cpu_s": round(baseline_cpu_s, 2),
        "leaves_after_remirror": grown,
        "remirror_1000_s": round(remirror_s, 2),
        "remirror_files_fetched": refetched,
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
        mirror_s, _ = _mirror(base, mirror, _verifier_key(env), options.concurrency)
    if _mirrored_paths(mirror) != _served_paths(leaves):
        raise RuntimeError("the mirror did not store exactly what the log serves")
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
            PUBLIC_BASE_URL=f"http://127.0.0.1:{options.port}", RATELIMIT_LOG=UNLIMITED,
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
