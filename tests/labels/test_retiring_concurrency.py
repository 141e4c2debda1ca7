"""Retire on payment on PostgreSQL, committed for real, against one fake registry over HTTP:
the registry is never asked for two retirements for one lot, whatever arrives at once or dies.

- ten identical WeChat Pay notifications at once: one request row, one retirement;
- parallel payments for lots of two enterprises, then two jobs at once: one retirement asked per
  lot, no gram of any serial allocated twice (``ledger verify``);
- the job killed between the registry's answer and its commit: the next run finds the
  retirement by the lot's reference and asks nothing again.
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from labels import payments
from labels.gtin import check_digit
from labels.lots import lot_payment_confirm
from labels.models import LabelLot, LotRetirement
from ledger import credits
from ledger.retry import in_transaction
from ledger.verify import ledger_verify
from service.app import create_app
from service.auth.passwords import password_hash
from service.base.orm import create_engine
from service.base.parties import services as parties
from service.base.parties.models import Organisation
from service.credits_jobs import retire_pending
from service.db import database
from tests.conftest import valid_uscc
from tests.fakes.registry import ACCOUNT, Block, FakeRegistry
from tests.parallel import run_at_once

pytestmark = pytest.mark.postgresql_only

EXAMPLES = Path(__file__).parents[2] / "examples" / "credits"
TANHUI = str(Path(sys.executable).parent / "tanhui")
PASSWORD = "correct horse battery staple"
UNITS = 161  # 1,006,250 g: with nothing retired in its name, the registry retires 2 t
NOTIFICATIONS = 10
LOTS_PER_ENTERPRISE = 3
#: How long the test waits for a subprocess to reach a point, at most (it asserts no timing).
WAIT_MAX_S = 60.0


@pytest.fixture()
def fake():
    registry = FakeRegistry(registry_code="YRDCI").start()
    registry.issue(ACCOUNT, Block("YRDCI-QP-2023-001", "YRDCI-QP-2024", 2024, 1000001, 1001850))
    yield registry
    registry.stop()


@contextmanager
def world(server_config, url, fake, clients) -> Iterator[tuple]:
    """An app on a scratch database talking to the fake registry, the Qingpu file imported into
    our record, and sessions on a pool with a connection for each of ``clients``."""
    settings = {**server_config, **fake.config(), "DATABASE_URL": url}
    app = create_app({**settings, "REGISTRY_READ_TIMEOUT_S": 5.0})
    engine = create_engine(url, pool_size=clients + 2)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    in_transaction(
        factory,
        lambda session: credits.import_file(
            session,
            content=(EXAMPLES / "qingpu.json").read_bytes(),
            file_format="json",
            now=datetime.now(UTC),
        ),
    )
    try:
        yield app, factory, settings
    finally:
        engine.dispose()
        database(app).engine.dispose()


def staff_make(session, username, role, organisation=None):
    parties.staff_create(
        session,
        username=username,
        password_hash=password_hash(PASSWORD, "cheapest"),
        role=role,
        organisation=organisation,
    )


def headers_of(client, username):
    answer = client.post("/api/v1/auth/password", json={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.get_json()
    return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}


def enterprises(app, factory, fake, count):
    """``count`` enterprises with nothing retired in their name, each with a certified
    carbon-neutral label of a 6.25 kg bag; the fake registry knows each as a beneficiary.
    Answers (organisation id, staff headers, label id) of each."""

    def setup(session):
        staff_make(session, "certifier_r", "certifier")
        made = []
        for number in range(count):
            organisation = Organisation(
                kind="enterprise",
                name=f"嘉善{number}号米业有限公司 Rice Co. {number}",
                uscc=valid_uscc(700 + number),
                region_code="330421",
                status="approved",
            )
            session.add(organisation)
            session.flush()
            staff_make(session, f"staff_r{number}", "enterprise_staff", organisation)
            made.append((organisation.id, organisation.name, organisation.uscc))
        return made

    client = app.test_client()
    made = in_transaction(factory, setup)
    certifier = headers_of(client, "certifier_r")
    answers = []
    for number, (organisation_id, name, uscc) in enumerate(made):
        fake.beneficiary_add(name.split(" ", 1)[0], uscc)
        headers = headers_of(client, f"staff_r{number}")
        label_id = label_certified(client, headers, certifier, organisation_id, number)
        answers.append((organisation_id, headers, label_id))
    return answers


def label_certified(client, headers, certifier, organisation_id, number):
    digits = f"690123456{number:04d}"
    product = client.post(
        "/api/v1/products",
        headers=headers,
        json={
            "organisation_id": organisation_id,
            "gtin": digits + check_digit(digits),
            "name": f"嘉善香粳米 5kg {number}",
            "category": "milled_rice",
            "declared_unit": "unit",
            "net_content_g": 5000,
        },
    ).get_json()
    footprint = client.post(
        f"/api/v1/products/{product['id']}/footprints",
        headers=headers,
        json={
            "method": "declared", "kg_per_unit": "6.2500", "boundary": "cradle_to_gate",
            "gwp_set": "AR5", "period_start": "2025-05-01", "period_end": "2025-10-31",
            "breakdown": {"paddy": "1.0", "mill": "0.25"},
            "data_quality": {"primary_data_percent": 80}, "verifier": "上海某认证有限公司",
            "report": {"title": "核查报告", "number": "R-1", "issued_on": "2025-12-01"},
        },
    ).get_json()  # fmt: skip
    label = client.post(
        "/api/v1/labels",
        headers=headers,
        json={
            "product_id": product["id"],
            "footprint_id": footprint["id"],
            "scheme": "carbon_neutral",
            "markets": ["CN"],
        },
    ).get_json()
    for status in ("under_review", "certified"):
        answer = client.post(
            f"/api/v1/labels/{label['id']}/transitions",
            headers=certifier,
            json={"to_status": status},
        )
        assert answer.status_code == 200, answer.get_json()
    return label["id"]


def lot_ordered(app, headers, label_id, lot_number):
    answer = app.test_client().post(
        "/api/v1/lots",
        headers=headers,
        json={"label_id": label_id, "lot_number": lot_number, "units": UNITS},
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["tonnes_to_retire"] == 2
    return answer.get_json()


def pay(factory, lot_id, reference):
    def work(session):
        lot = session.get(LabelLot, lot_id)
        lot_payment_confirm(
            session,
            lot=lot,
            provider="offline",
            reference=reference,
            amount_fen=lot.amount_fen,
            now=datetime.now(UTC),
        )

    in_transaction(factory, work)


def statuses(factory):
    def read(session):
        lots = session.execute(sa.select(LabelLot.id, LabelLot.status)).all()
        requests = session.execute(sa.select(LotRetirement.lot_id, LotRetirement.status)).all()
        return dict(lots), dict(requests)

    return in_transaction(factory, read)


def verified(factory):
    report = in_transaction(factory, ledger_verify)
    assert report.ok, report.problems


def test_ten_identical_notifications_at_once_ask_the_registry_once(
    server_config, scratch_database_url, fake
):
    with world(server_config, scratch_database_url, fake, NOTIFICATIONS) as (app, factory, _):
        ((_, headers, label_id),) = enterprises(app, factory, fake, 1)
        lot = lot_ordered(app, headers, label_id, "JS2026A")
        transaction = {
            "out_trade_no": payments.out_trade_no_for(lot["id"]),
            "transaction_id": "4200000042",
            "trade_state": "SUCCESS",
            "amount": {"total": lot["amount_fen"], "currency": "CNY"},
        }

        def notified(_):
            in_transaction(
                factory,
                lambda session: payments.wechatpay_notified(
                    session, transaction=transaction, now=datetime.now(UTC)
                ),
            )

        assert run_at_once(notified, range(NOTIFICATIONS)) == []
        assert statuses(factory) == ({lot["id"]: "retiring"}, {lot["id"]: "pending"})

        with factory() as session:
            assert retire_pending(app, session)["retired"] == 1
        assert statuses(factory) == ({lot["id"]: "issued"}, {lot["id"]: "retired"})
        assert fake.retirement_requests() == 1 and len(fake.retirements) == 1
        verified(factory)


def test_parallel_payments_of_two_enterprises_and_two_jobs_retire_once_per_lot(
    server_config, scratch_database_url, fake
):
    lots_count = 2 * LOTS_PER_ENTERPRISE
    with world(server_config, scratch_database_url, fake, lots_count) as (app, factory, settings):
        lots = [
            lot_ordered(app, headers, label_id, f"JS2026-{number}")["id"]
            for _, headers, label_id in enterprises(app, factory, fake, 2)
            for number in range(LOTS_PER_ENTERPRISE)
        ]
        failures = run_at_once(lambda lot_id: pay(factory, lot_id, f"T-{lot_id}"), lots)
        assert failures == []
        assert set(statuses(factory)[0].values()) == {"retiring"}

        # Two jobs at once, each its own app (its own registry client) and connection.
        jobs = [create_app({**settings, "REGISTRY_READ_TIMEOUT_S": 5.0}) for _ in range(2)]

        def job(job_app):
            with factory() as session:
                retire_pending(job_app, session)

        assert run_at_once(job, jobs) == []
        for job_app in jobs:
            database(job_app).engine.dispose()

        lot_statuses, request_statuses = statuses(factory)
        assert set(lot_statuses.values()) == {"issued"}
        assert set(request_statuses.values()) == {"retired"}
        assert fake.retirement_requests() == lots_count  # one per lot, never twice
        references = sorted(record["reference"] for record in fake.retirements.values())
        assert references == sorted(f"tanhui-lot-{lot_id}" for lot_id in lots)
        verified(factory)  # among others: no gram of any serial allocated twice


def blocked_on_a_lock(factory):
    """The pid of a backend of another session waiting for a row lock, or None."""
    return in_transaction(
        factory,
        lambda session: session.scalar(
            sa.text(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
        ),
    )


def wait_for(condition):
    deadline = time.monotonic() + WAIT_MAX_S
    while not (found := condition()):
        assert time.monotonic() < deadline, "the job never reached the point"
        time.sleep(0.05)
    return found


def test_a_job_killed_between_the_registrys_answer_and_its_commit_is_found_by_reference(
    server_config, scratch_database_url, fake, tmp_path
):
    with world(server_config, scratch_database_url, fake, 4) as (app, factory, settings):
        ((_, headers, label_id),) = enterprises(app, factory, fake, 1)
        lot = lot_ordered(app, headers, label_id, "JS2026K")
        pay(factory, lot["id"], "T-KILL")
        environment = {
            **os.environ,
            **{name: str(value) for name, value in settings.items() if name.isupper()},
            "TANHUI_INSTANCE_PATH": str(tmp_path),
        }
        environment.pop("TESTING", None)
        # Our record's registry row is held locked: the job gets the registry's answer, then
        # waits to record it, and is killed there.
        holder = factory()
        holder.execute(sa.text("SELECT id FROM credit_registries FOR UPDATE"))
        job = subprocess.Popen(  # noqa: S603 - our own script
            [TANHUI, "credits", "retire-pending"],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            backend = wait_for(lambda: fake.retirements and blocked_on_a_lock(factory))
            job.send_signal(signal.SIGKILL)
            job.wait(timeout=WAIT_MAX_S)
            in_transaction(
                factory,
                lambda session: session.execute(
                    sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": backend}
                ),
            )
        finally:
            holder.rollback()
            holder.close()
            if job.poll() is None:
                job.kill()
        assert len(fake.retirements) == 1  # the registry retired...
        assert statuses(factory) == (
            {lot["id"]: "retiring"},
            {lot["id"]: "pending"},
        )  # ...we did not

        with factory() as session:
            assert retire_pending(app, session)["retired"] == 1
        assert fake.retirement_requests() == 1  # found by its reference, never asked again
        assert statuses(factory) == ({lot["id"]: "issued"}, {lot["id"]: "retired"})
        verified(factory)
