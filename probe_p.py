import cProfile
import pstats
import random
import time
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from bench import ledger as b
from bench.common import scratch_database
from ledger import services as ledger
from ledger.retry import in_transaction

if __name__ == "__main__":
    with scratch_database("tanhui_probe") as url:
        b.setup(url)
        engine = b._engine(url)
        session = Session(
            bind=engine.connect().execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
        )
        rng = random.Random(1)
        now = datetime.now(UTC)
        codes = [f"bench:{i}" for i in range(1000)]

        def run(n, off):
            for i in range(n):
                s, d = rng.sample(codes, 2)
                req = ledger.EntryRequest(
                    f"p{off + i}",
                    "transfer",
                    [ledger.PostingRequest(s, -3), ledger.PostingRequest(d, 3)],
                )
                in_transaction(session, lambda x: ledger.entry_post(x, req, now=now))

        run(300, 0)
        t0 = time.process_time()
        w0 = time.perf_counter()
        run(2000, 1000)
        print(
            "cpu ms/entry",
            (time.process_time() - t0) / 2,
            "wall ms/entry",
            (time.perf_counter() - w0) / 2,
        )
        cProfile.run("run(2000, 10000)", "/tmp/p2.out")
        pstats.Stats("/tmp/p2.out").sort_stats("tottime").print_stats(25)
