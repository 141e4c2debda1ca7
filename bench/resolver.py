"""Resolver throughput under gunicorn, production profile: ``python -m bench.resolver``.

On this machine, in one run:

* a scratch PostgreSQL database beside ``TEST_DATABASE_URL`` and Redis at ``TEST_REDIS_URL`` (a key
  prefix of its own), seeded with the demo (an issued carbon-neutral lot of 1,000 bags, its log
  sequenced so every answer carries a proof);
* gunicorn with the production profile (``--workers``, default 2 per core, 4 threads each);
* wrk (Debian's package) requesting random valid unit paths for ``--seconds`` each: as JSON (a
  mini-program), as HTML (a phone), and the empty ``/healthz`` as the baseline measured the same
  way. Scans are counted (in Redis) and rate limits are lifted for the run.

The last line is one JSON object: requests per second and p50/p99 latency in ms for each.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import sqlalchemy as sa

from bench.common import (
    BIN,
    UNLIMITED,
    gunicorn_start,
    production_env,
    report,
    scratch_database,
)
from labels.codes import serial_for
from labels.lots import lot_key_of
from labels.models import LabelLot, Product
from service.app import create_app
from service.db import get_session

WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("TANHUI_PATHS")) do paths[#paths + 1] = line end
local accept = os.getenv("TANHUI_ACCEPT")
math.randomseed(os.time())
request = function()
  return wrk.format("GET", paths[math.random(#paths)], {["Accept"] = accept})
end
"""
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"wrk printed a latency this cannot read: {text!r}")
    number, unit = match.groups()
    return float(number) * _UNITS[unit]


def wrk(url: str, *, seconds: float, connections: int, threads: int, env: dict) -> dict:
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{int(seconds)}s",
            "--latency",
            "-s",
            env["TANHUI_WRK_SCRIPT"],
            url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)\s*$", output, re.MULTILINE).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)\s*$", output, re.MULTILINE).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_s": round(rate, 1),
        "latency_ms_p50": round(p50, 2),
        "latency_ms_p99": round(p99, 2),
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 2))
    options = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        scratch_database("tanhui_bench_resolver") as database_url,
        tempfile.TemporaryDirectory(prefix="tanhui-bench-") as work,
    ):
        env = production_env(
            database_url, work, options.workers,
            RATELIMIT_RESOLVER=UNLIMITED, PUBLIC_BASE_URL=base,
        )  # fmt: skip
        seeded = subprocess.run(
            [str(BIN / "tanhui"), "demo", "seed"], env=env, capture_output=True, text=True
        )
        if seeded.returncode != 0:
            sys.exit(seeded.stderr)
        paths = _unit_paths(env)
        paths_file = Path(work) / "paths.txt"
        paths_file.write_text("\n".join(paths) + "\n")
        script = Path(work) / "random.lua"
        script.write_text(WRK_SCRIPT)
        server = gunicorn_start(env, port)
        try:
            _wait_ready(base)
            run_env = {**env, "TANHUI_PATHS": str(paths_file), "TANHUI_WRK_SCRIPT": str(script)}
            json_run, html_run, baseline = _runs(base, Path(work), run_env, options)
            checked = requests.get(
                base + paths[0], headers={"Accept": "application/json"}, timeout=5
            )
            proof_ok = checked.json()["backing"]["proof"] is not None
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    result = {
        "workers": options.workers,
        "connections": options.connections,
        "seconds": options.seconds,
        "units": len(paths),
        "json": json_run,
        "html": html_run,
        "baseline_healthz": baseline,
        "json_requests_per_s": json_run["requests_per_s"],
        "html_requests_per_s": html_run["requests_per_s"],
        "json_ratio_to_baseline": round(json_run["requests_per_s"] / baseline["requests_per_s"], 3),
        "html_ratio_to_baseline": round(html_run["requests_per_s"] / baseline["requests_per_s"], 3),
        "proof_in_answers": proof_ok,
    }
    print(
        f"JSON {json_run['requests_per_s']:.0f}/s (p50 {json_run['latency_ms_p50']} ms, "
        f"p99 {json_run['latency_ms_p99']} ms); HTML {html_run['requests_per_s']:.0f}/s "
        f"(p50 {html_run['latency_ms_p50']} ms, p99 {html_run['latency_ms_p99']} ms); "
        f"/healthz {baseline['requests_per_s']:.0f}/s"
    )
    report(result)


def _runs(
    base: str, work: Path, run_env: dict, options: argparse.Namespace
) -> tuple[dict, dict, dict]:
    """wrk over random unit paths as JSON and as HTML, then over ``/healthz`` as the baseline,
    each measured the same way after a warm-up of every worker's caches and connections."""
    settings = {"seconds": options.seconds, "connections": options.connections, "threads": 2}
    wrk(base, **{**settings, "seconds": 2}, env={**run_env, "TANHUI_ACCEPT": "application/json"})
    json_run = wrk(base, **settings, env={**run_env, "TANHUI_ACCEPT": "application/json"})
    html_run = wrk(base, **settings, env={**run_env, "TANHUI_ACCEPT": "text/html"})
    health_file = work / "health.txt"
    health_file.write_text("/healthz\n")
    baseline = wrk(
        base, **settings,
        env={**run_env, "TANHUI_PATHS": str(health_file), "TANHUI_ACCEPT": "*/*"},
    )  # fmt: skip
    return json_run, html_run, baseline


def _unit_paths(env: dict) -> list[str]:
    """Every unit path of the demo lot, from the app's own keys (in-process, same settings)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        app = create_app()
        with app.app_context():
            session = get_session()
            lot = session.scalars(sa.select(LabelLot)).one()
            product = session.get(Product, lot.product_id)
            key = lot_key_of(lot, product, app.config["UNIT_CODE_MASTER_KEYS"])
            return [
                f"/01/{product.gtin}/10/{lot.lot_number}/21/{serial_for(key, index)}"
                for index in range(lot.units)
            ]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _wait_ready(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not start")


if __name__ == "__main__":
    main()
