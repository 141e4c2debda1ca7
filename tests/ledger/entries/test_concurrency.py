"""Many clients at once on PostgreSQL: random transfers, holds and spends among 50 accounts, a few
of them hot, with real commits. Afterwards nothing is lost or doubled and the audit passes."""

import random
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import sessionmaker

from ledger import entries as ledger
from ledger.errors import LedgerError
from ledger.models import Hold
from ledger.retry import in_transaction
from ledger.verify import ledger_verify
from service.base.orm import create_engine
from tests.ledger.conftest import dict_sum

CLIENTS = 16
OPERATIONS = 20_000
ACCOUNTS = [f"user:{number}" for number in range(50)]
HOT = ACCOUNTS[:3]


def pick(rng):
    return rng.choice(HOT) if rng.random() < 0.4 else rng.choice(ACCOUNTS)


@pytest.fixture()
def engine(scratch_database_url):
    engine = create_engine(scratch_database_url, pool_size=CLIENTS + 2)
    yield engine
    engine.dispose()


def test_parallel_clients_lose_and_double_nothing(engine):
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    now = datetime.now(UTC)

    def setup(session):
        ledger.account_open(
            session, code="issuer", asset="POINT", owner_type="platform", allow_negative=True
        )
        for index, code in enumerate(ACCOUNTS):
            ledger.account_open(
                session, code=code, asset="POINT", owner_type="user", uses_lots=index % 2 == 0
            )
        ledger.account_open(session, code="shop", asset="POINT", owner_type="platform")

    in_transaction(factory, setup)
    applied: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    guard = threading.Lock()
    counter = iter(range(OPERATIONS))
    failures: list[BaseException] = []

    def client(seed):
        rng = random.Random(seed)
        my_holds: list[int] = []
        local_applied: Counter[str] = Counter()
        local_outcomes: Counter[str] = Counter()
        for number in counter:
            key = f"op-{number}"
            choice = rng.random()
            try:
                if choice < 0.15:
                    to, amount = pick(rng), rng.randint(50, 500)
                    postings = in_transaction(
                        factory,
                        lambda s, to=to, amount=amount, key=key: ledger.entry_post(
                            s,
                            ledger.EntryRequest(
                                key,
                                "issue",
                                [
                                    ledger.PostingRequest("issuer", -amount),
                                    ledger.PostingRequest(to, amount),
                                ],
                            ),
                            now=now,
                        ),
                    ).postings
                elif choice < 0.70:
                    source, destination = pick(rng), pick(rng)
                    while source == destination:
                        destination = pick(rng)
                    amount = rng.randint(1, 80)
                    postings = in_transaction(
                        factory,
                        lambda s, a=source, b=destination, n=amount, key=key: ledger.entry_post(
                            s,
                            ledger.EntryRequest(
                                key,
                                "transfer",
                                [ledger.PostingRequest(a, -n), ledger.PostingRequest(b, n)],
                            ),
                            now=now,
                        ),
                    ).postings
                elif choice < 0.82:
                    source, amount = pick(rng), rng.randint(1, 60)
                    held = in_transaction(
                        factory,
                        lambda s, a=source, n=amount, key=key: ledger.hold_create(
                            s,
                            key=key,
                            account=a,
                            destination="shop",
                            amount=n,
                            now=now,
                            expires_at=now + timedelta(hours=1),
                        ),
                    )
                    my_holds.append(held.hold_id)
                    postings = ()
                elif choice < 0.94 and my_holds:
                    hold_id = my_holds.pop(rng.randrange(len(my_holds)))
                    partial = rng.random() < 0.5

                    def post(s, hold_id=hold_id, partial=partial, key=key):
                        hold = s.get(Hold, hold_id)
                        amount = max(1, hold.amount // 2) if partial else None
                        return ledger.hold_post(s, hold_id=hold_id, key=key, amount=amount, now=now)

                    postings = in_transaction(factory, post).postings
                elif my_holds:
                    hold_id = my_holds.pop(rng.randrange(len(my_holds)))
                    in_transaction(
                        factory, lambda s, h=hold_id: ledger.hold_void(s, hold_id=h, now=now)
                    )
                    postings = ()
                else:
                    local_outcomes["nothing to resolve"] += 1
                    continue
                local_outcomes["ok"] += 1
                local_applied.update(dict_sum(postings))
            except LedgerError as error:
                local_outcomes[error.error_code.value] += 1
            except BaseException as error:  # noqa: BLE001 - reported below
                failures.append(error)
                return
        with guard:
            applied.update(local_applied)
            outcomes.update(local_outcomes)

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    elapsed_s = time.perf_counter() - started
    assert not failures, failures[:3]
    assert sum(outcomes.values()) == OPERATIONS
    assert outcomes["ok"] > OPERATIONS * 0.5
    assert outcomes["insufficient_funds"] > 0  # the hot accounts really ran dry now and then

    with factory() as session:
        for code in [*ACCOUNTS, "shop", "issuer"]:
            balance = ledger.balance_of(session, code)
            assert balance.balance == applied[code], code
            if code != "issuer":
                assert balance.balance >= 0 and balance.available >= 0, code
        report = ledger_verify(session)
        assert report.ok, report.problems
    print(f"{sum(outcomes.values())} operations in {elapsed_s:.1f} s: {dict(outcomes)}")


def test_a_deadlock_is_retried_until_the_work_succeeds(engine):
    """Two transactions lock two rows in opposite orders; PostgreSQL aborts one with 40P01 and
    ``in_transaction`` runs it again."""
    import sqlalchemy as sa

    factory = sessionmaker(bind=engine)
    in_transaction(
        factory, lambda s: ledger.account_open(s, code="x", asset="POINT", owner_type="user")
    )
    in_transaction(
        factory, lambda s: ledger.account_open(s, code="y", asset="POINT", owner_type="user")
    )
    barrier = threading.Barrier(2)
    attempts: Counter[str] = Counter()

    def work(first, second, name):
        def locked_in_order(session):
            attempts[name] += 1
            lock = sa.text("SELECT id FROM ledger_accounts WHERE code = :code FOR UPDATE")
            session.execute(lock, {"code": first})
            if attempts[name] == 1:
                barrier.wait(timeout=10)
            session.execute(lock, {"code": second})
            return name

        return in_transaction(factory, locked_in_order)

    results = []
    threads = [
        threading.Thread(target=lambda: results.append(work("x", "y", "a"))),
        threading.Thread(target=lambda: results.append(work("y", "x", "b"))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["a", "b"]
    assert sorted(attempts.values()) == [1, 2]  # exactly one of them was retried
