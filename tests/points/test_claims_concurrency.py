"""Fifty consumers claim the same unit at once on PostgreSQL, each in its own transaction on its
own connection: exactly one wins, the others are told it is taken, and the ledger verifies."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from labels.codes import serial_for
from labels.lots import lot_key_of
from labels.models import LabelLot, Product
from ledger.retry import in_transaction
from ledger.verify import ledger_verify
from points import accounts, claims, rules, selectors
from points.errors import PointsError
from service.app import create_app
from service.base.orm import create_engine
from service.base.parties.services import consumer_create
from service.db import database
from service.demo import DEMO_LOT
from tests.parallel import run_at_once

#: One request's fingerprint (``points.idempotency``): these tests send each key once.
SAME = "0" * 64

CLAIMERS = 50
UNITS = 20


@contextmanager
def seeded(server_config, url, clients) -> Iterator[tuple]:
    """The demo seeded on a scratch database, and sessions on a pool with a connection for each
    of ``clients`` parallel clients."""
    app = create_app({**server_config, "DATABASE_URL": url})
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    engine = create_engine(url, pool_size=clients + 2)
    try:
        yield app, sessionmaker(bind=engine, expire_on_commit=False)
    finally:
        engine.dispose()
        database(app).engine.dispose()


def claim_rule_publish(session, now, **caps):
    rules.rule_publish(
        session, event_type="unit_claim",
        values={"formula": {"kind": "fixed", "points": 10}, "validity_days": 365, **caps},
        user_id=None, now=now,
    )  # fmt: skip


def demo_lot(session, app):
    """The demo lot's GTIN, lot number and unit key."""
    lot = session.scalars(sa.select(LabelLot).where(LabelLot.lot_number == DEMO_LOT)).one()
    product = session.get(Product, lot.product_id)
    return (
        product.gtin,
        lot.lot_number,
        lot_key_of(lot, product, app.config["UNIT_CODE_MASTER_KEYS"]),
    )


def test_fifty_parallel_claims_of_one_unit_pay_once(server_config, scratch_database_url):
    now = datetime.now(UTC)
    with seeded(server_config, scratch_database_url, CLAIMERS) as (app, factory):

        def setup(session):
            claim_rule_publish(session, now)
            gtin, lot_number, key = demo_lot(session, app)
            users = [consumer_create(session).id for _ in range(CLAIMERS)]
            return gtin, lot_number, serial_for(key, 42), users

        gtin, lot_number, serial, users = in_transaction(factory, setup)
        outcomes = []
        guard = threading.Lock()

        def claimer(user_id):
            try:
                result = in_transaction(
                    factory,
                    lambda session: claims.claim_unit(
                        session,
                        user_id=user_id,
                        gtin=gtin,
                        lot_number=lot_number,
                        serial=serial,
                        key=f"user:{user_id}:scan",
                        request_sha256=SAME,
                        master_keys=app.config["UNIT_CODE_MASTER_KEYS"],
                        now=now,
                    ),
                )
                outcome = ("won", result.claim.points)
            except PointsError as error:
                outcome = ("refused", error.code)
            with guard:
                outcomes.append(outcome)

        failures = run_at_once(claimer, users)

        assert not failures, failures
        assert outcomes.count(("won", 10)) == 1
        assert outcomes.count(("refused", "unit_already_claimed")) == CLAIMERS - 1
        with factory() as session:
            assert session.scalar(sa.text("SELECT count(*) FROM unit_claims")) == 1
            issued = session.scalar(
                sa.text("SELECT count(*) FROM ledger_entries WHERE kind = 'points_unit_claim'")
            )
            assert issued == 1
            report = ledger_verify(session)
            assert report.ok, report.problems


def test_parallel_claims_of_one_consumer_stop_at_the_daily_cap(server_config, scratch_database_url):
    """Twenty units claimed at once by one consumer whose account is open: the account's lock
    makes the cap of 25 a day hold exactly (10 + 10 + 5), however the claims interleave."""
    now = datetime.now(UTC)
    with seeded(server_config, scratch_database_url, UNITS) as (app, factory):

        def setup(session):
            claim_rule_publish(session, now, cap_per_day=25)
            gtin, lot_number, key = demo_lot(session, app)
            user = consumer_create(session).id
            accounts.account_open(session, "user", user)
            serials = [serial_for(key, index) for index in range(UNITS)]
            return gtin, lot_number, serials, user

        gtin, lot_number, serials, user = in_transaction(factory, setup)
        paid = []
        guard = threading.Lock()

        def claimer(index):
            result = in_transaction(
                factory,
                lambda session: claims.claim_unit(
                    session,
                    user_id=user,
                    gtin=gtin,
                    lot_number=lot_number,
                    serial=serials[index],
                    key=f"scan-{index}",
                    request_sha256=SAME,
                    master_keys=app.config["UNIT_CODE_MASTER_KEYS"],
                    now=now,
                ),  # fmt: skip
            )
            with guard:
                paid.append(result.claim.points)

        failures = run_at_once(claimer, range(UNITS))

        assert not failures, failures
        assert sorted(paid) == [0] * (UNITS - 3) + [5, 10, 10]
        with factory() as session:
            assert selectors.summary(session, "user", user, datetime.now(UTC))["balance"] == 25
            assert ledger_verify(session).ok
