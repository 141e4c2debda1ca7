"""A redis-server of a test's own, which the test can stop and start again, empty.

Outage tests and soak runs need a Redis they may break without breaking anyone else's (the
shared one on 6379 stays up). ``RedisServer`` runs ``/usr/bin/redis-server`` on a free port in a
temporary directory with persistence off, so every restart comes back empty, as a production
Redis without persistence does::

    with RedisServer() as server:
        app = create_app({..., "REDIS_URL": server.url})
        server.stop()      # connections are refused from now on
        server.start()     # the same port, no keys

The ``redis_server`` fixture yields one per test and stops it at the end.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest
import redis

REDIS_SERVER = "/usr/bin/redis-server"
#: How long a start or stop may take before the helper gives up [s].
REDIS_SERVER_READY_S = 10.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """One redis-server on 127.0.0.1, no persistence; ``stop`` and ``start`` keep the port."""

    def __init__(self, port: int | None = None, directory: Path | None = None) -> None:
        self.port = port or free_port()
        self._own_directory = directory is None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="tanhui-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + REDIS_SERVER_READY_S
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or not self.running:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop the server (its keys are gone: nothing is saved)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(REDIS_SERVER_READY_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same port: an empty Redis."""
        self.stop()
        self.start()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()
        if self._own_directory:
            for path in self.directory.iterdir():
                path.unlink()
            self.directory.rmdir()


@pytest.fixture()
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running redis-server of this test's own; the test may stop and restart it."""
    if not Path(REDIS_SERVER).exists():
        pytest.skip(f"{REDIS_SERVER} is not installed")
    directory = tmp_path / "redis"
    directory.mkdir()
    with RedisServer(directory=directory) as server:
        yield server
