"""Shared plumbing for benchmarks: a scratch PostgreSQL database, and timed parallel clients."""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ledger.tlog.note import generate_signer_key
from service.migrations import scratch_database as migrated_scratch_database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
#: Where PostgreSQL puts its Unix-domain socket on Debian, and by default elsewhere.
SOCKET_DIRECTORIES = ("/var/run/postgresql", "/run/postgresql", "/tmp")  # noqa: S108 - read only
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def unix_socket_url(url: str) -> str | None:
    """The same server and database through its Unix-domain socket, when the server runs on
    this machine and has one; ``None`` otherwise."""
    parsed = sa.make_url(url)
    if parsed.host not in LOCAL_HOSTS:
        return None
    port = parsed.port or 5432
    for directory in SOCKET_DIRECTORIES:
        if os.path.exists(os.path.join(directory, f".s.PGSQL.{port}")):
            local = sa.URL.create(
                parsed.drivername,
                username=parsed.username,
                password=parsed.password,
                database=parsed.database,
                query={**parsed.query, "host": directory, "port": str(port)},
            )
            return local.render_as_string(hide_password=False)
    return None


def database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        sys.exit("set TEST_DATABASE_URL (make test sets it; scripts/services.sh can start one)")
    return url


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A new database beside TEST_DATABASE_URL's, migrated to head, dropped afterwards."""
    with migrated_scratch_database(database_url(), prefix) as url:
        yield url


def _client(
    target: Callable[..., int], args: tuple, barrier: Any, duration_s: float, results: Any
) -> None:
    try:
        results.put(("ok", target(*args, barrier=barrier, duration_s=duration_s)))
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        results.put(("error", repr(error)))


def run_clients(
    target: Callable[..., int], clients: int, duration_s: float, args: Callable[[int], tuple]
) -> float:
    """Run ``target(*args(i), barrier=..., duration_s=...)`` in ``clients`` processes at once.

    Each returns how many operations it completed in the timed window; the result is their sum
    per second.
    """
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(clients + 1)
    results = context.Queue()
    processes = [
        context.Process(target=_client, args=(target, args(i), barrier, duration_s, results))
        for i in range(clients)
    ]
    for process in processes:
        process.start()
    barrier.wait()
    counts = []
    for _ in processes:
        status, value = results.get(timeout=duration_s * 10 + 120)
        if status != "ok":
            raise RuntimeError(f"a client failed: {value}")
        counts.append(value)
    for process in processes:
        process.join(timeout=60)
    return sum(counts) / duration_s


def timed_loop(barrier: Any, duration_s: float, step: Callable[[int], int]) -> int:
    """Wait for the others, then call ``step(i)`` until the window closes; return the count."""
    barrier.wait()
    deadline = time.perf_counter() + duration_s
    done = 0
    number = 0
    while time.perf_counter() < deadline:
        done += step(number)
        number += 1
    return done


def report(result: dict[str, Any]) -> None:
    print(json.dumps(result, sort_keys=True))


UNLIMITED = "100000000 per minute"


def production_env(database_url: str, work: str, workers: int, **overrides: str) -> dict[str, str]:
    """The environment of a production-profile server on a scratch database: fresh secrets and
    keys, Redis at ``TEST_REDIS_URL`` under key prefixes of its own, rate limits lifted."""
    return {
        **os.environ,
        "TANHUI_PROFILE": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "SECRET_KEY": secrets.token_urlsafe(48),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TLOG_ORIGIN": "bench.tanhui/log",
        "TLOG_SIGNING_KEY": generate_signer_key("bench.tanhui/log"),
        "UNIT_CODE_KEYS": "A:" + secrets.token_hex(32),
        "CACHE_KEY_PREFIX": f"bench-{secrets.token_hex(4)}",
        "RATELIMIT_KEY_PREFIX": f"bench-{secrets.token_hex(4)}",
        "RATELIMIT_DEFAULT": UNLIMITED,
        "TANHUI_INSTANCE_PATH": work,
        "WEB_CONCURRENCY": str(workers),
        "LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": os.path.join(work, "metrics"),
        **overrides,
    }


def gunicorn_start(env: dict[str, str], port: int, *, stderr: Any = subprocess.PIPE) -> Any:
    """gunicorn serving ``wsgi:app`` as production does, in a process group of its own (stop it
    with ``os.killpg(process.pid, signal.SIGTERM)``)."""
    return subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "python:service.gunicorn_config",
         "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True,
    )  # fmt: skip
