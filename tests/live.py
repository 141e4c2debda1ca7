"""The README's demo, served for real: ``scripts/demo.sh`` on a fresh instance folder and a free
port, as a person would start it (shared by the demo and browser tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DemoFailed(RuntimeError):
    pass


@contextmanager
def demo_server(instance: Path, settings: dict[str, str] | None = None) -> Iterator[str]:
    """Serve the demo from ``instance`` (with extra ``settings`` in its environment); yields its
    base URL, stops it afterwards."""
    port = free_port()
    environment = {
        **os.environ,
        **(settings or {}),
        "TANHUI_INSTANCE_PATH": str(instance),
        "TANHUI_PORT": str(port),
    }
    for name in ("DATABASE_URL", "REDIS_URL", "TANHUI_PROFILE", "PROMETHEUS_MULTIPROC_DIR"):
        environment.pop(name, None)
    log = (instance / "demo.log").open("w")
    process = subprocess.Popen(
        ["bash", "scripts/demo.sh"], cwd=ROOT, env=environment, stdout=log,
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:  # not listening yet, or a worker still booting
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise DemoFailed("demo did not start:\n" + (instance / "demo.log").read_text())
            time.sleep(0.3)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
