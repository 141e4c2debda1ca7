"""A soak of the production profile through a Redis outage: ``python -m bench.soak``.

On this machine, in one run:

* a scratch PostgreSQL database beside ``TEST_DATABASE_URL``, seeded with the demo, plus a
  certified footprint label with an issued lot of ``--units`` bags, the claim rule, and
  ``--consumers`` signed-in consumers, each granted points to order personal offsets with;
* a redis-server of the run's own (a free port, no persistence, so a restart comes back
  **empty**), never the shared one;
* gunicorn with the production profile, ``tanhui scans flush --follow`` and
  ``tanhui log sequence --follow`` beside it, as the README runs them;
* ``--clients`` threads sending mixed traffic for ``--seconds``: scans of random units (JSON and
  HTML), claims of units (each unit once, by its consumer, with an Idempotency-Key) and orders of
  a 1 kg personal offset. At ``--outage-at`` seconds Redis is stopped; ``--outage-s`` later it is
  started again, empty.

Afterwards the flusher drains, the log is sequenced and ``ledger verify`` runs. Nothing may be
lost: every scan answered 200 is in ``unit_scans``, every claim answered 201 is a row, every order
answered 201 is a row. The baseline is the empty ``/healthz`` measured by the same clients before
the soak.

The last line is one JSON object: requests by kind and status, ``server_errors`` (5xx and
connection failures), ``lost_scan_counts``, ``lost_claims``, ``lost_orders``, ``verify_ok``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import requests
import sqlalchemy as sa

from bench.common import BIN, ROOT, UNLIMITED, production_env, report, scratch_database
from bench.points import _claims_setup, _in_app, _verify, signed_in_consumers
from bench.resolver import _free_port, _wait_ready
from points import grants, idempotency
from points.models import CatalogueItem
from service.base.parties.models import User
from tests.redis_server import RedisServer

#: Points granted to each soak consumer: enough for every order it can place.
POINTS_PER_CONSUMER = 10_000
#: Shares of the traffic, in percent: scans, claims, the rest orders.
SCAN_SHARE_PCT, CLAIM_SHARE_PCT = 70, 20
REQUEST_TIMEOUT_S = 30


@dataclass
class Tally:
    """What the clients sent and what the service acknowledged."""

    statuses: Counter = field(default_factory=Counter)
    scans_acked: Counter = field(default_factory=Counter)
    claims_acked: set = field(default_factory=set)
    orders_acked: set = field(default_factory=set)
    during_outage: Counter = field(default_factory=Counter)
    guard: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Plan:
    base: str
    units: list[tuple[str, str]]  # (token, unit path)
    tokens: list[str]
    item_id: int
    next_claim: int = 0
    guard: threading.Lock = field(default_factory=threading.Lock)

    def claim_next(self) -> tuple[str, str] | None:
        with self.guard:
            if self.next_claim >= len(self.units):
                return None
            self.next_claim += 1
            return self.units[self.next_claim - 1]


def _setup(session, app, *, units: int, consumers: int) -> tuple[list[tuple[str, str]], int]:
    """The lot, the rule and the consumers (each granted ``POINTS_PER_CONSUMER``); returns
    (token, unit path) pairs and the personal offset's catalogue id."""
    now = datetime.now(UTC)
    signed = signed_in_consumers(session, consumers, now)
    operator = session.scalars(sa.select(User).where(User.username == "operator")).one()
    for user_id, _ in signed:
        body = {"owner_type": "user", "owner_id": user_id, "points": POINTS_PER_CONSUMER,
                "reason": "soak"}  # fmt: skip
        fingerprint = idempotency.request_sha256(
            method="POST", path="/api/v1/points/grants", query={}, body=body
        )
        grants.grant(session, **body, key=f"soak-{user_id}", request_sha256=fingerprint,
                     user_id=operator.id, now=now)  # fmt: skip
    lines = _claims_setup(session, app, units=units, consumers=consumers, signed=signed)
    pairs = [(token, path) for token, path in (line.split(" ", 1) for line in lines)]
    item_id = session.scalar(sa.select(CatalogueItem.id).where(CatalogueItem.code == "OFFSET-1KG"))
    return pairs, item_id


def _request(plan: Plan, draw: int) -> tuple[str, str | None, dict]:
    """The kind, the unit path scanned (scans only) and the arguments of one request."""
    if draw < SCAN_SHARE_PCT:
        _, path = random.choice(plan.units)
        accept = "application/json" if draw % 2 else "text/html"
        return "scan", path, {"method": "GET", "url": plan.base + path,
                              "headers": {"Accept": accept}}  # fmt: skip
    pair = plan.claim_next() if draw < SCAN_SHARE_PCT + CLAIM_SHARE_PCT else None
    if pair is not None:
        token, body = pair[0], {"code": pair[1]}
        url = plan.base + "/api/v1/points/claims"
        kind = "claim"
    else:
        token, body = random.choice(plan.tokens), {"item_id": plan.item_id, "holder_name": "Soak"}
        url = plan.base + "/api/v1/points/orders"
        kind = "order"
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    return kind, None, {"method": "POST", "url": url, "json": body, "headers": headers}


def _send(plan: Plan, tally: Tally, http: requests.Session, draw: int, outage: threading.Event):
    """One request of the mix; tallies its status and what it acknowledged."""
    kind, path, arguments = _request(plan, draw)
    try:
        response = http.request(**arguments, timeout=REQUEST_TIMEOUT_S)
        status = response.status_code
    except requests.RequestException:
        status = 0
    with tally.guard:
        tally.statuses[(kind, status)] += 1
        if outage.is_set():
            tally.during_outage[(kind, status)] += 1
        if kind == "scan" and status == 200:
            tally.scans_acked[path] += 1
        elif kind == "claim" and status == 201:
            tally.claims_acked.add(response.json()["id"])
        elif kind == "order" and status == 201:
            tally.orders_acked.add(response.json()["id"])


def _load(plan: Plan, tally: Tally, seconds: float, clients: int, outage: threading.Event) -> None:
    deadline = time.monotonic() + seconds

    def client(seed: int) -> None:
        draws = random.Random(seed)
        with requests.Session() as http:
            while time.monotonic() < deadline:
                _send(plan, tally, http, draws.randrange(100), outage)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _baseline(base: str, seconds: float, clients: int) -> float:
    """Requests per second of ``/healthz`` from the same kind of clients."""
    done = Counter()
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        with requests.Session() as http:
            while time.monotonic() < deadline:
                http.get(base + "/healthz", timeout=REQUEST_TIMEOUT_S)
                done[number] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done.values()) / seconds


def _outage(redis: RedisServer, at_s: float, length_s: float, outage: threading.Event) -> None:
    time.sleep(at_s)
    redis.stop()
    outage.set()
    time.sleep(length_s)
    redis.start()
    outage.clear()


def _counted(database_url: str, tally: Tally) -> dict:
    """What the database holds against what the service acknowledged."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT l.lot_number, s.unit_index, s.scan_count FROM unit_scans s "
                    "JOIN label_lots l ON l.id = s.lot_id"
                )
            ).all()
            claims = set(connection.scalars(sa.text("SELECT id FROM unit_claims")))
            orders = set(connection.scalars(sa.text("SELECT id FROM redemption_orders")))
    finally:
        engine.dispose()
    return {"scan_rows": rows, "claims": claims, "orders": orders}


def _server(env: dict, port: int) -> list[subprocess.Popen]:
    """gunicorn, the scan flusher and the log sequencer, as the production profile runs them."""
    spawn = dict(cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                 start_new_session=True)  # fmt: skip
    return [
        subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--config",
                "python:service.gunicorn_config",
                "--bind",
                f"127.0.0.1:{port}",
                "wsgi:app",
            ],
            **spawn,
        ),  # fmt: skip
        subprocess.Popen(
            [str(BIN / "tanhui"), "scans", "flush", "--follow", "--interval", "1"], **spawn
        ),
        subprocess.Popen(
            [str(BIN / "tanhui"), "log", "sequence", "--follow", "--interval", "1"], **spawn
        ),
    ]


def _stop(processes: list[subprocess.Popen]) -> dict[str, int | None]:
    """Stop each process; whether the flusher and sequencer were still running says whether
    they survived the outage (``None`` for running)."""
    codes = {}
    for name, process in zip(("gunicorn", "flusher", "sequencer"), processes, strict=True):
        codes[name] = process.poll()
        if codes[name] is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    return codes


def _lost(plan: Plan, tally: Tally, held: dict) -> dict:
    index_of = {path: index for index, (_, path) in enumerate(plan.units)}
    stored = {index: count for lot, index, count in held["scan_rows"] if lot == "BENCH1"}
    lost = extra = 0
    for path, acked in tally.scans_acked.items():
        counted = stored.get(index_of[path], 0)
        lost += max(0, acked - counted)
        extra += max(0, counted - acked)
    return {
        "scans_acknowledged": sum(tally.scans_acked.values()),
        "scans_counted": sum(stored.values()),
        "lost_scan_counts": lost,
        "scans_counted_not_acknowledged": extra,
        "lost_claims": len(tally.claims_acked - held["claims"]),
        "lost_orders": len(tally.orders_acked - held["orders"]),
    }


def _named(statuses: Counter) -> dict[str, int]:
    return {f"{kind} {status}": n for (kind, status), n in sorted(statuses.items())}


def _rates(tally: Tally, elapsed_s: float, baseline_per_s: float) -> dict:
    """Requests by kind and status; a status 0 is a connection failure, a server error too."""
    total = sum(tally.statuses.values())
    return {
        "requests": total,
        "requests_per_s": round(total / elapsed_s, 1),
        "baseline_healthz_per_s": round(baseline_per_s, 1),
        "ratio_to_baseline": round(total / elapsed_s / baseline_per_s, 3),
        "by_kind_status": _named(tally.statuses),
        "during_outage": _named(tally.during_outage),
        "server_errors": sum(
            n for (_, code), n in tally.statuses.items() if code >= 500 or not code
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=75)
    parser.add_argument("--outage-at", type=float, default=20)
    parser.add_argument("--outage-s", type=float, default=20)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--consumers", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 2))
    options = parser.parse_args()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        scratch_database("tanhui_bench_soak") as database_url,
        tempfile.TemporaryDirectory(prefix="tanhui-soak-") as work,
        RedisServer() as redis,
    ):
        env = production_env(
            database_url, work, options.workers, REDIS_URL=redis.url, PUBLIC_BASE_URL=base,
            RATELIMIT_RESOLVER=UNLIMITED, RATELIMIT_CLAIMS=UNLIMITED,
            RATELIMIT_CLAIMS_PER_USER=UNLIMITED, RATELIMIT_CLAIMS_PER_DEVICE=UNLIMITED,
        )  # fmt: skip
        seeded = subprocess.run(
            [str(BIN / "tanhui"), "demo", "seed"], env=env, capture_output=True, text=True
        )
        if seeded.returncode != 0:
            raise SystemExit(seeded.stderr)
        pairs, item_id = _in_app(
            env,
            lambda session, app: _setup(
                session, app, units=options.units, consumers=options.consumers
            ),
        )
        plan = Plan(base, pairs, sorted({token for token, _ in pairs}), item_id)
        tally, outage = Tally(), threading.Event()
        processes = _server(env, port)
        try:
            _wait_ready(base)
            baseline_per_s = _baseline(base, 5, options.clients)
            breaker = threading.Thread(
                target=_outage, args=(redis, options.outage_at, options.outage_s, outage)
            )
            breaker.start()
            started = time.monotonic()
            _load(plan, tally, options.seconds, options.clients, outage)
            elapsed_s = time.monotonic() - started
            breaker.join()
            time.sleep(3)  # the flusher's and sequencer's last rounds
        finally:
            exits = _stop(processes)
        drained = subprocess.run(
            [str(BIN / "tanhui"), "scans", "flush"], env=env, capture_output=True, text=True
        )
        held = _counted(database_url, tally)
        verified = _verify(env)
    result = {
        "seconds": options.seconds,
        "outage": {"at_s": options.outage_at, "length_s": options.outage_s},
        "clients": options.clients,
        "workers": options.workers,
        **_rates(tally, elapsed_s, baseline_per_s),
        "flusher_running_at_end": exits["flusher"] is None,
        "sequencer_running_at_end": exits["sequencer"] is None,
        "drain": drained.stdout.strip() or drained.stderr.strip()[-300:],
        **_lost(plan, tally, held),
        **verified,
    }
    print(
        f"{result['requests']} requests, {result['server_errors']} server errors, "
        f"{result['lost_scan_counts']} scan counts lost, verify_ok {result['verify_ok']}"
    )
    report(result)


if __name__ == "__main__":
    main()
