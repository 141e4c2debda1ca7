"""Stock is never oversold and per-party limits hold when orders race, on PostgreSQL with real
parallel clients: forty consumers order the last ten tea sets at once; one consumer fires ten
orders at an item limited to three per person."""

import threading
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from ledger.models import Account
from ledger.retry import in_transaction
from ledger.verify import ledger_verify
from points import accounts, earning, errors, redemption, rules
from points.models import CatalogueItem
from service.app import create_app
from service.base.orm import create_engine
from service.base.parties.services import consumer_create
from service.db import database
from tests.parallel import run_at_once

#: One request's fingerprint (``points.idempotency``): these tests send each key once.
SAME = "0" * 64

BUYERS = 40
STOCK = 10


def _race(factory, calls):
    """Run each call in its own thread and transaction at once; returns the outcomes."""
    outcomes = []
    guard = threading.Lock()

    def run(call):
        try:
            order = in_transaction(factory, call)
            outcome = ("placed", order.status)
        except errors.PointsError as error:
            outcome = ("refused", error.code)
        with guard:
            outcomes.append(outcome)

    failures = run_at_once(run, calls)
    assert not failures, failures
    return outcomes


def _order(party, item_id, key, now):
    def call(session):
        order, _ = redemption.order_place(
            session, party=party, item_id=item_id, quantity=1, key=key, request_sha256=SAME,
            user_id=party.owner_id,
            now=now,
        )  # fmt: skip
        return order

    return call


def test_racing_orders_never_oversell_or_pass_a_limit(server_config, scratch_database_url):
    app = create_app({**server_config, "DATABASE_URL": scratch_database_url})
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    engine = create_engine(scratch_database_url, pool_size=BUYERS + 2)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    now = datetime.now(UTC)
    try:

        def setup(session):
            rule = rules.rule_publish(
                session,
                event_type="operator_grant",
                values={"formula": {"kind": "fixed", "points": 1000}, "validity_days": 365},
                user_id=None,
                now=now,
            )
            users = [consumer_create(session).id for _ in range(BUYERS)]
            for user in users:
                account = accounts.account_open(session, "user", user)
                earning.earn(session, account=account, rule=rule, points=1000,
                            key=f"seed:{user}", now=now)  # fmt: skip
            scarce = redemption.item_create(
                session,
                values={"code": "TEA", "name_zh": "茶具", "name_en": "Tea set",
                        "audience": "consumer", "kind": "goods", "price_points": 300,
                        "stock": STOCK},
                now=now,
            )  # fmt: skip
            limited = redemption.item_create(
                session,
                values={"code": "MUG", "name_zh": "杯", "name_en": "Mug", "audience": "consumer",
                        "kind": "goods", "price_points": 10, "stock": 100, "per_party_limit": 3},
                now=now,
            )  # fmt: skip
            return users, scarce.id, limited.id

        users, scarce, limited = in_transaction(factory, setup)
        parties = [redemption.Party("user", user, "consumer") for user in users]

        outcomes = _race(factory, [_order(p, scarce, "tea", now) for p in parties])
        assert outcomes.count(("placed", "reserved")) == STOCK
        assert outcomes.count(("refused", "out_of_stock")) == BUYERS - STOCK

        greedy = parties[0]
        outcomes = _race(factory, [_order(greedy, limited, f"mug-{i}", now) for i in range(10)])
        assert outcomes.count(("placed", "reserved")) == 3
        assert outcomes.count(("refused", "redemption_limit_reached")) == 7

        with factory() as session:
            assert session.get(CatalogueItem, scarce).stock_available == 0
            assert session.get(CatalogueItem, limited).stock_available == 97
            held = session.scalar(
                sa.select(sa.func.sum(Account.reserved)).where(Account.code.like("user:%"))
            )
            assert held == STOCK * 300 + 3 * 10
            report = ledger_verify(session)
            assert report.ok, report.problems
    finally:
        engine.dispose()
        database(app).engine.dispose()
