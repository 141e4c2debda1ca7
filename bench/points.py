"""Points throughput on PostgreSQL: ``python -m bench.points``.

On this machine, in one run, on a scratch database beside ``TEST_DATABASE_URL`` (Redis at
``TEST_REDIS_URL``, a key prefix of its own):

1. **Claims over HTTP.** The demo, plus a certified footprint label on the demo rice with an
   issued lot of ``--units`` bags, a ``unit_claim`` rule (10 points, capped at 10,000 a day) and
   ``--consumers`` signed-in consumers. gunicorn serves the production profile; wrk (Debian's
   package) posts claims for ``--seconds``, each of a different genuine unit, round-robin over the
   consumers, each with its own Idempotency-Key: the whole path (token, rate limits in Redis, code
   check, the once-only row, the capped earning through the ledger with its FIFO lot). Rate
   limits are lifted for the run. After a warm-up the database's statistics are refreshed (as
   autovacuum keeps them in service). The baseline is the empty ``/healthz`` measured the same
   way.
   ``claims_per_s`` counts claims the database holds afterwards, per second of the window.
   **Sequencing latency.** ``tanhui log sequence --follow --interval S`` (``--sequencer-interval``;
   the command sleeps only when nothing was pending) runs from before the warm-up to the end, as
   production runs it beside the web workers, so it competes with them for the same cores. After
   the window, once ``tlog_pending`` is empty (a bounded wait), every leaf queued inside the
   window has waited from its ``queued_at`` (the writer's time) to the ``created_at`` of the
   first checkpoint whose size exceeds its position: ``sequencing_wait_ms_p50``, ``_p99`` and
   ``_max``, with the goal ``sequencing_goal_met`` (p99 under 2 s). A checkpoint's ``created_at``
   is the time its round started, not its commit, so the waits readers see are longer by up to one
   round: ``checkpoint_gap_ms_*`` (between consecutive checkpoints of the window, about one round
   while the sequencer is busy) and ``checkpoint_leaves_*`` (leaves per round) say how long one
   was and how much it carried. ``queued_at`` is the writer's ``now``, taken early in its
   request, so the wait holds the rest of the writer's transaction too;
   ``sequencer_wait_bound_ms_*`` counts from the start of the round before the leaf's own
   (the leaf committed after it), which bounds the sequencer's own part.
2. **A farm distribution over 100,000 farm shares.** Ten projects of 10,000 farms each are imported
   (ten files in the registry format), every farm linked to a registered farm organisation,
   1 t retired from each project's batch, and one label-lot allocation drawing on all ten. The
   timed part is ``points.farms.distribute``: split, account opening, caps, and 100,000 earnings
   through ``ledger.entries_post`` in batches, with the cycle collector paused (as
   ``tanhui points distribute`` runs it); committed.
3. ``ledger_verify`` after the log is sequenced: ``verify_ok``.

The last line is one JSON object with ``claims_per_s``, ``sequencing_wait_ms_p99``,
``sequencing_goal_met``, ``distribution_100k_s`` and ``verify_ok``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.common import BIN, UNLIMITED, gunicorn_start, production_env, report, scratch_database
from bench.resolver import _free_port, _wait_ready, wrk
from bench.sequencing import TREE_SIZE, pending_drained, sequencer_start, sequencing_waits
from labels import certification, lots
from labels.codes import serial_for
from labels.models import Footprint, Label, Product
from ledger import credits
from ledger.credits import selectors as credit_selectors
from ledger.tlog import log_sequence
from ledger.verify import ledger_verify
from points import rules
from points.farms import distribute
from service.app import create_app
from service.auth.authz import token_settings
from service.auth.services import _session_open
from service.base.parties.models import Organisation, User
from service.base.parties.services import consumer_create, principal_for
from service.commands import SEQUENCE_INTERVAL_S
from service.db import get_session
from service.gcpause import collector_paused
from service.signing import log_signer

PROJECTS = 10
FARMS_PER_PROJECT = 10_000
CLAIM_SCRIPT = """
local n = 0
function setup(thread)
  thread:set("id", n)
  n = n + 1
end
function init(args)
  lines = {}
  for line in io.lines(os.getenv("TANHUI_CLAIMS")) do lines[#lines + 1] = line end
  step = tonumber(os.getenv("TANHUI_THREADS"))
  i = tonumber(os.getenv("TANHUI_OFFSET")) + id
end
request = function()
  local line = lines[(i % #lines) + 1]
  i = i + step
  local token, path = line:match("(%S+) (%S+)")
  return wrk.format("POST", "/api/v1/points/claims", {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = "bench-" .. i,
  }, '{"code": "' .. path .. '"}')
end
"""
HEALTH_SCRIPT = """
request = function() return wrk.format("GET", "/healthz") end
"""


def _in_app(env: dict, work):
    """Run ``work(session, app)`` in an app built with ``env``, committing at the end."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        app = create_app()
        with app.app_context():
            session = get_session()
            result = work(session, app)
            session.commit()
            return result
    finally:
        os.environ.clear()
        os.environ.update(saved)


def signed_in_consumers(session, count: int, now: datetime) -> list[tuple[int, str]]:
    """``count`` new consumers, each signed in: (user id, access token) pairs."""
    settings = token_settings()
    signed_in = []
    for _ in range(count):
        user = consumer_create(session)
        signed = _session_open(
            session, user=user, method="wechat", settings=settings, now=now, created=True
        )
        signed_in.append((user.id, signed.access_token))
    return signed_in


def _claims_setup(
    session, app, *, units: int, consumers: int, signed: list[tuple[int, str]] | None = None
) -> list[str]:
    """A footprint label and a lot of ``units`` on the demo rice, the claim rule, and signed-in
    consumers (``signed`` when given, else ``consumers`` new ones); returns ``token path`` lines,
    one per unit."""
    now = datetime.now(UTC)
    staff = session.scalars(sa.select(User).where(User.username == "lianta")).one()
    certifier = session.scalars(sa.select(User).where(User.username == "certifier")).one()
    product = session.scalars(sa.select(Product)).first()
    footprint = session.scalars(
        sa.select(Footprint).where(Footprint.product_id == product.id)
    ).first()
    label = certification.label_apply(
        session, principal=principal_for(staff), product=product, footprint_id=footprint.id,
        scheme="footprint", markets=["CN"], now=now,
    )  # fmt: skip
    for status in ("under_review", "certified"):
        certification.label_transition(
            session, label=label, to_status=status, actor=principal_for(certifier), now=now
        )
    config = app.config
    lot = lots.lot_order(
        session, principal=principal_for(staff), label=session.get(Label, label.id),
        lot_number="BENCH1", units=units, key_id=config["UNIT_CODE_KEY_ID"], now=now,
        pricing=lots.Pricing(config["LABEL_PRICE_PER_TONNE_FEN"], config["LABEL_SERVICE_FEE_FEN"]),
    )  # fmt: skip
    lots.lot_payment_confirm(
        session, lot=lot, provider="offline", reference="BENCH", amount_fen=lot.amount_fen, now=now
    )
    rules.rule_publish(
        session,
        event_type="unit_claim",
        values={"formula": {"kind": "fixed", "points": 10}, "cap_per_day": 10_000,
                "validity_days": 365},
        user_id=None,
        now=now - timedelta(minutes=1),
    )  # fmt: skip
    tokens = [token for _, token in signed or signed_in_consumers(session, consumers, now)]
    consumers = len(tokens)
    key = lots.lot_key_of(lot, product, config["UNIT_CODE_MASTER_KEYS"])
    return [
        f"{tokens[index % consumers]} /01/{product.gtin}/10/{lot.lot_number}/21/"
        f"{serial_for(key, index)}"
        for index in range(units)
    ]


def _claims_run(options, env: dict, work: str) -> dict:
    lines = _in_app(
        env,
        lambda session, app: _claims_setup(
            session, app, units=options.units, consumers=options.consumers
        ),
    )
    claims_file = Path(work) / "claims.txt"
    claims_file.write_text("\n".join(lines) + "\n")
    script, health = Path(work) / "claims.lua", Path(work) / "health.lua"
    script.write_text(CLAIM_SCRIPT)
    health.write_text(HEALTH_SCRIPT)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = gunicorn_start(env, port)
    threads = 2
    settings = {"connections": options.connections, "threads": threads}
    run_env = {**env, "TANHUI_CLAIMS": str(claims_file), "TANHUI_THREADS": str(threads),
               "TANHUI_WRK_SCRIPT": str(script)}  # fmt: skip
    count = sa.text("SELECT count(*) FROM unit_claims")
    engine = sa.create_engine(env["DATABASE_URL"])
    sequencer: subprocess.Popen | None = None
    sequencer_log = Path(work) / "sequencer.log"
    try:
        sequencer = sequencer_start(env, sequencer_log, options.sequencer_interval)
        _wait_ready(base)
        # Warm every worker on units of the lot's second half; the window uses the first half.
        wrk(base, seconds=2, **settings, env={**run_env, "TANHUI_OFFSET": str(options.units // 2)})
        with engine.connect() as connection:
            # The tables grew from empty in seconds: refresh the planner's statistics, as
            # autovacuum keeps them on a database in service (stale ones plan scans of tables
            # the planner still thinks are empty).
            connection.execute(sa.text("ANALYZE"))
            connection.commit()
            before = connection.scalar(count)
            # Read before the window opens: every leaf below this size was committed, so
            # queued, before it; the window's leaves lie above, which bounds the scan of them.
            size_before = connection.scalar(TREE_SIZE)
        window_start = datetime.now(UTC)
        claims = wrk(base, seconds=options.seconds, **settings,
                     env={**run_env, "TANHUI_OFFSET": "0"})  # fmt: skip
        window_end = datetime.now(UTC)
        with engine.connect() as connection:
            made = connection.scalar(count) - before
        drained_s = pending_drained(engine)
        with engine.connect() as connection:
            sequencing = sequencing_waits(connection, size_before, window_start, window_end)
        sequencing["sequencer_drained_s"] = drained_s
        sequencing["sequencer_running_at_end"] = sequencer.poll() is None
        baseline = wrk(base, seconds=options.seconds, **settings,
                       env={**run_env, "TANHUI_WRK_SCRIPT": str(health)})  # fmt: skip
    finally:
        for process in (sequencer, server):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
        engine.dispose()
    if not sequencing["sequencer_running_at_end"]:
        sequencing["sequencer_stderr_tail"] = sequencer_log.read_text()[-2000:]
    return {
        "claims_http": claims,
        "baseline_healthz": baseline,
        "claims_made": made,
        "claims_per_s": round(made / options.seconds, 1),
        "claims_ratio_to_baseline": round(claims["requests_per_s"] / baseline["requests_per_s"], 3),
        "sequencer_interval_s": options.sequencer_interval,
        **sequencing,
    }


def _credit_file(project: int) -> bytes:
    farms = [{"code": f"B{project:02d}-{n:05d}", "name": f"农场 {project}-{n}"}
             for n in range(FARMS_PER_PROJECT)]  # fmt: skip
    share = f"{100 / FARMS_PER_PROJECT:.4f}"
    document = {
        "format": "tanhui.credits/1",
        "registry": {"code": "BENCH", "name": "Benchmark registry"},
        "projects": [
            {
                "id": f"BENCH-{project:02d}",
                "name": f"Benchmark project {project}",
                "methodology": "IPCC 2019 Vol 4 Ch 5 §5.5",
                "region_code": "310118",
                "farms": farms,
                "batches": [
                    {
                        "vintage": 2024,
                        "serial_start": 10_000_001 + project * 1_000,
                        "serial_end": 10_000_010 + project * 1_000,
                        "quantity_t": 10,
                        "shares": {farm["code"]: share for farm in farms},
                    }
                ],
            }
        ],
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def _distribution_setup(session, app) -> int:
    """Ten projects of 10,000 farms, each linked to a farm organisation; 1 t retired from each;
    one allocation of 10 t drawing on all ten batches. Returns the allocation id."""
    now = datetime.now(UTC)
    for project in range(PROJECTS):
        credits.import_file(session, content=_credit_file(project), file_format="json", now=now)
    farms = credit_selectors.farms_coded(session, pattern="B%-%")
    session.execute(
        sa.insert(Organisation),
        [{"kind": "farm", "name": f"农场 {code}", "region_code": "310118", "status": "approved",
          "created_at": now, "updated_at": now} for _, code in farms],
    )  # fmt: skip
    session.execute(
        sa.text(
            "UPDATE credit_farms SET organisation_id = o.id FROM organisations o "
            "WHERE o.name = '农场 ' || credit_farms.code AND o.kind = 'farm'"
        )
    )
    batches = credit_selectors.batch_ids_starting_above(session, serial_start=10_000_000)
    bench = Organisation(kind="enterprise", name="Benchmark", uscc="91310000BENCH0000X",
                         status="approved", created_at=now, updated_at=now)  # fmt: skip
    session.add(bench)
    session.flush()
    retired = credits.retire(
        session, registry_code="BENCH", registry_reference="BENCH-R", beneficiary="Benchmark",
        beneficiary_organisation_id=bench.id, purpose="Benchmark", retired_on=date(2026, 11, 1),
        lines=[credits.RetirementLine(batch, 1) for batch in batches], now=now,
    )  # fmt: skip
    retirement = retired.retirement.id
    allocation = credits.allocate(
        session, key="bench-distribution", target_type="label_lot", target_id="bench",
        claimant_organisation_id=bench.id, quantity_g=PROJECTS * 1_000_000,
        retirement_ids=[retirement], now=now,
    )  # fmt: skip
    rules.rule_publish(
        session,
        event_type="farm_share",
        values={"formula": {"kind": "per_kg_co2e", "points_per_kg": "50"},
                "cap_per_month": 1_000_000, "validity_days": 730},
        user_id=None,
        now=now - timedelta(minutes=1),
    )  # fmt: skip
    return allocation.allocation_id


def _distribution_run(env: dict) -> dict:
    allocation_id = _in_app(env, _distribution_setup)

    def timed(session, app):
        started = time.perf_counter()
        # The process pauses the cycle collector around a distribution, as the command does.
        with collector_paused():
            paid = distribute(session, allocation_id=allocation_id, now=datetime.now(UTC))
        session.commit()
        elapsed = time.perf_counter() - started
        shares = session.scalar(
            sa.text("SELECT count(*) FROM ledger_entries WHERE kind = 'points_farm_share'")
        )
        return {"distribution_100k_s": round(elapsed, 2), "farm_shares_paid": shares,
                "points_paid": paid}  # fmt: skip

    return _in_app(env, timed)


def _verify(env: dict) -> dict:
    def work(session, app):
        signer = log_signer()
        origin = app.config["TLOG_ORIGIN"]
        while log_sequence(session, signer=signer, origin=origin, now=datetime.now(UTC)):
            session.commit()
        report = ledger_verify(session)
        return {"verify_ok": report.ok, "verify_problems": list(report.problems)[:5]}

    return _in_app(env, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--units", type=int, default=40_000)
    parser.add_argument("--consumers", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 2))
    # The command's own default (0.2 s): a tenth of the goal, for five one-row transactions a
    # second while idle. At this load a round drains the queue and the next one sleeps, so the
    # interval is most of the wait: at 1 s the p99 was about 1 s.
    parser.add_argument(
        "--sequencer-interval",
        type=float,
        default=SEQUENCE_INTERVAL_S,
        help="seconds the sequencer sleeps when nothing was pending",
    )
    parser.add_argument("--skip-claims", action="store_true")
    parser.add_argument("--skip-distribution", action="store_true")
    options = parser.parse_args()
    if shutil.which("wrk") is None and not options.skip_claims:
        sys.exit("wrk is needed: apt-get install wrk")
    with (
        scratch_database("tanhui_bench_points") as database_url,
        tempfile.TemporaryDirectory(prefix="tanhui-bench-") as work,
    ):
        env = production_env(
            database_url, work, options.workers,
            RATELIMIT_CLAIMS=UNLIMITED, RATELIMIT_CLAIMS_PER_USER=UNLIMITED,
            RATELIMIT_CLAIMS_PER_DEVICE=UNLIMITED,
        )  # fmt: skip
        seeded = subprocess.run(
            [str(BIN / "tanhui"), "demo", "seed"], env=env, capture_output=True, text=True
        )
        if seeded.returncode != 0:
            sys.exit(seeded.stderr)
        result: dict = {"workers": options.workers, "connections": options.connections,
                        "seconds": options.seconds}  # fmt: skip
        if not options.skip_claims:
            result.update(_claims_run(options, env, work))
        if not options.skip_distribution:
            result.update(_distribution_run(env))
        result.update(_verify(env))
    print(
        f"claims {result.get('claims_per_s')}/s over HTTP; sequencing wait p50 "
        f"{result.get('sequencing_wait_ms_p50')} ms, "
        f"p99 {result.get('sequencing_wait_ms_p99')} ms; "
        f"100,000 farm shares distributed in {result.get('distribution_100k_s')} s; "
        f"verify_ok {result['verify_ok']}"
    )
    report(result)


if __name__ == "__main__":
    main()
