"""Ledger throughput on PostgreSQL: ``python -m bench.ledger [--clients 8] [--seconds 10]``.

Measured in one run, against a scratch database beside ``TEST_DATABASE_URL``:

* baseline: the same client processes each INSERT rows as wide as a posting into an unindexed
  table, one row per transaction;
* entries: single-transfer entries between random accounts, each its own atomic statement
  (autocommit), with the transparency-log sequencer running beside them. Each client resolves
  the accounts once before the window opens, as a long-running worker's session has them;
* the two alternate for ``--rounds`` windows and the medians are reported, since a shared
  machine drifts;
* the same pair again at other client counts (``--sweep``; the sequencer idle). The default,
  four clients per core, keeps the CPU busy while each commit waits for its WAL flush; one per
  core leaves it idle for those waits, and many more mostly measures the scheduler;
* clients reach the server through its Unix-domain socket when it runs on this machine, and
  the headline pair is measured once more over TCP (``tcp`` in the output; ``--tcp`` uses TCP
  throughout);
* batch: 1,000-entry batches (a distribution) in one transaction each, postings per second,
  by two clients (one per core; the headline) and by one;
* afterwards ``ledger verify`` over everything written.

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import statistics
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from bench.common import report, run_clients, scratch_database, timed_loop, unix_socket_url
from ledger import entries as ledger
from ledger.retry import in_transaction
from ledger.tlog import log_sequence
from ledger.tlog.note import generate_signer_key, parse_signer_key
from ledger.verify import ledger_verify
from service.base.orm import create_engine

ACCOUNTS = 1_000
FUNDING_PER_ACCOUNT = 10**12
BATCH_ENTRIES = 1_000
CLIENTS_PER_CORE = 4
#: As ``tanhui log sequence --follow --interval`` runs in production: a round every so often.
SEQUENCER_INTERVAL_S = 0.5


def _engine(url: str):
    return create_engine(url, pool_size=2, max_overflow=0)


def baseline_client(url: str, client: int, *, barrier, duration_s: float) -> int:
    engine = _engine(url)
    insert = sa.text(
        "INSERT INTO bench_baseline (entry_id, account_id, asset, amount) "
        "VALUES (:entry_id, :account_id, 'POINT', :amount)"
    )
    with engine.connect() as connection:

        def step(number: int) -> int:
            connection.execute(insert, {"entry_id": number, "account_id": client, "amount": 5})
            connection.commit()
            return 1

        return timed_loop(barrier, duration_s, step)


def entries_client(url: str, client: int, *, barrier, duration_s: float) -> int:
    engine = _engine(url)
    # One connection kept, in autocommit: a single entry is one atomic statement on PostgreSQL,
    # so no lock is held across a round trip.
    connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    session = Session(bind=connection, expire_on_commit=False)
    rng = random.Random(client)
    now = datetime.now(UTC)
    codes = [f"bench:{i}" for i in range(ACCOUNTS)]
    in_transaction(session, lambda s: ledger.accounts_resolve(s, codes))

    def transfer(number: int) -> int:
        source, destination = rng.sample(codes, 2)
        request = ledger.EntryRequest(
            key=f"c{client}-{number}",
            kind="transfer",
            postings=[ledger.PostingRequest(source, -3), ledger.PostingRequest(destination, 3)],
        )
        in_transaction(session, lambda s: ledger.entry_post(s, request, now=now))
        return 1

    return timed_loop(barrier, duration_s, transfer)


def sequencer(url: str, key: str, origin: str, stop) -> None:
    engine = _engine(url)
    signer = parse_signer_key(key)
    with sessionmaker(bind=engine)() as session:
        while not stop.is_set():
            log_sequence(session, signer=signer, origin=origin, now=datetime.now(UTC))
            session.commit()
            time.sleep(SEQUENCER_INTERVAL_S)


def setup(url: str) -> None:
    engine = _engine(url)
    with sessionmaker(bind=engine)() as session, session.begin():
        session.execute(
            sa.text(
                "CREATE TABLE bench_baseline (entry_id bigint, account_id bigint, "
                "asset varchar(16), amount bigint)"
            )
        )
        ledger.account_open(
            session, code="bench:issuer", asset="POINT", owner_type="platform", allow_negative=True
        )
        requests = []
        for number in range(ACCOUNTS):
            code = f"bench:{number}"
            ledger.account_open(session, code=code, asset="POINT", owner_type="user")
            requests.append(
                ledger.EntryRequest(
                    f"fund-{number}",
                    "fund",
                    [
                        ledger.PostingRequest("bench:issuer", -FUNDING_PER_ACCOUNT),
                        ledger.PostingRequest(code, FUNDING_PER_ACCOUNT),
                    ],
                )
            )
        ledger.entries_post(session, requests, now=datetime.now(UTC))
    with engine.connect() as connection:  # what autovacuum would do on a live database
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    engine.dispose()


def batch_client(url: str, client: int, *, barrier, duration_s: float) -> int:
    """Post 1,000-entry distributions, one transaction each; returns postings written."""
    engine = _engine(url)
    session = Session(bind=engine.connect(), expire_on_commit=False)
    rng = random.Random(client)
    codes = [f"bench:{i}" for i in range(ACCOUNTS)]

    def distribute(number: int) -> int:
        requests = [
            ledger.EntryRequest(
                f"batch-{client}-{number}-{i}",
                "distribution",
                [
                    ledger.PostingRequest("bench:issuer", -1),
                    ledger.PostingRequest(rng.choice(codes), 1),
                ],
            )
            for i in range(BATCH_ENTRIES)
        ]
        with session.begin():
            ledger.entries_post(session, requests, now=datetime.now(UTC))
        return 2 * BATCH_ENTRIES

    return timed_loop(barrier, duration_s, distribute)


def verify(url: str, key: str, origin: str) -> tuple[bool, int]:
    engine = _engine(url)
    signer = parse_signer_key(key)
    with sessionmaker(bind=engine)() as session:
        while log_sequence(session, signer=signer, origin=origin, now=datetime.now(UTC)):
            session.commit()
        session.commit()
        result = ledger_verify(session, verifier=signer.verifier(), origin=origin)
        entries = session.scalar(sa.text("SELECT count(*) FROM ledger_entries"))
    engine.dispose()
    return result.ok, entries


def _options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--clients",
        type=int,
        default=CLIENTS_PER_CORE * (os.cpu_count() or 2),
        help=f"parallel clients for the headline numbers (default: {CLIENTS_PER_CORE} per core)",
    )
    parser.add_argument(
        "--sweep",
        default="2,16",
        help="other client counts to measure, baseline and entries each",
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one window")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="baseline and entries windows alternate this many times; medians are reported",
    )
    parser.add_argument(
        "--tcp",
        action="store_true",
        help="connect through TEST_DATABASE_URL as given even when a local socket exists",
    )
    return parser.parse_args()


def _sweep(client_url: str, counts: str, seconds: float) -> dict[str, dict[str, float]]:
    """Baseline and entries at each other client count (the sequencer idle)."""
    sweep = {}
    for clients in [int(n) for n in counts.split(",") if n.strip()]:
        sweep_baseline = run_clients(baseline_client, clients, seconds, lambda i: (client_url, i))
        sweep_entries = run_clients(
            entries_client,
            clients,
            seconds,
            lambda i, c=clients: (client_url, 1000 * c + i),
        )
        sweep[str(clients)] = {
            "baseline_inserts_per_s": round(sweep_baseline, 1),
            "entries_per_s": round(sweep_entries, 1),
            "ratio": round(sweep_entries / sweep_baseline, 3),
        }
    return sweep


def main() -> None:
    options = _options()
    origin = "bench.tanhui/log"
    key = generate_signer_key(origin)
    with scratch_database("tanhui_bench_ledger") as url:
        setup(url)
        # Both kinds of client talk to the same server the same way: through its Unix-domain
        # socket when it runs on this machine (as an application beside its database would),
        # else through the URL as given. The headline pair is measured over TCP too.
        socket_url = None if options.tcp else unix_socket_url(url)
        client_url = socket_url or url

        def pair(target_url: str, number: int) -> tuple[float, float]:
            def arguments(i: int) -> tuple[str, int]:
                return (target_url, 100 * number + i)

            return (
                run_clients(baseline_client, options.clients, options.seconds, arguments),
                run_clients(entries_client, options.clients, options.seconds, arguments),
            )

        context = multiprocessing.get_context("spawn")
        stop = context.Event()
        sequencer_process = context.Process(target=sequencer, args=(url, key, origin, stop))
        sequencer_process.start()
        baselines, entries_rates = [], []
        try:
            for number in range(options.rounds):
                round_baseline, round_entries = pair(client_url, number)
                baselines.append(round_baseline)
                entries_rates.append(round_entries)
            tcp = pair(url, options.rounds) if socket_url else None
        finally:
            stop.set()
            sequencer_process.join(timeout=120)
        baseline, entries = statistics.median(baselines), statistics.median(entries_rates)
        sweep = _sweep(client_url, options.sweep, options.seconds)
        batch_one = run_clients(batch_client, 1, options.seconds, lambda i: (client_url, i))
        batch = run_clients(batch_client, 2, options.seconds, lambda i: (client_url, 10 + i))
        verified, entry_count = verify(url, key, origin)
    result = {
        "clients": options.clients,
        "seconds": options.seconds,
        "rounds": options.rounds,
        "transport": "unix" if socket_url else "tcp",
        "baseline_inserts_per_s": round(baseline, 1),
        "entries_per_s": round(entries, 1),
        "ratio": round(entries / baseline, 3),
        "baseline_rounds": [round(rate) for rate in baselines],
        "entries_rounds": [round(rate) for rate in entries_rates],
        "batch_postings_per_s": round(batch, 1),
        "batch_postings_per_s_one_client": round(batch_one, 1),
        "entries_written": entry_count,
        "by_clients": sweep,
        "verify_ok": verified,
    }
    if tcp is not None:
        result["tcp"] = {
            "baseline_inserts_per_s": round(tcp[0], 1),
            "entries_per_s": round(tcp[1], 1),
            "ratio": round(tcp[1] / tcp[0], 3),
        }
    print(
        f"baseline {baseline:.0f} inserts/s; ledger {entries:.0f} entries/s "
        f"(ratio {entries / baseline:.2f}); batch {batch:.0f} postings/s; verify {verified}"
    )
    report(result)


if __name__ == "__main__":
    main()
