"""``tanhui credits retire-pending [--follow]``: one run retires every pending lot; an outage
ends the run with the lot waiting (exit status 1), and with --follow the job backs off,
RETIRE_RETRY_MIN_S doubling up to RETIRE_RETRY_MAX_S; an answer our record cannot take is noted
on the request for an operator, and the next run reads the retirement back instead of asking
again. Against the local registry and the fake registry over HTTP."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from labels import lots
from labels.models import LabelLot, LotRetirement
from service import credits_jobs
from tests.fakes.registry import ACCOUNT, Block, FakeRegistry
from tests.labels.conftest import order


@pytest.fixture()
def fake(staff):
    organisation, _ = staff
    registry = FakeRegistry(registry_code="YRDCI").start()
    registry.issue(ACCOUNT, Block("YRDCI-QP-2023-001", "YRDCI-QP-2024", 2024, 1000002, 1001850))
    registry.beneficiary_add(organisation.name.split(" ", 1)[0], organisation.uscc)
    yield registry
    registry.stop()


@pytest.fixture()
def app(make_app, fake):
    return make_app(**fake.config(), REGISTRY_READ_TIMEOUT_S=0.5)


@pytest.fixture()
def paid(client, staff, certified, retired_tonne, session):
    """161 bags (1,006,250 g) on the enterprise's retired tonne, paid: 1 t to retire."""
    _, headers = staff
    lot = session.get(LabelLot, order(client, headers, certified(), 161).get_json()["id"])
    lots.lot_payment_confirm(
        session, lot=lot, provider="offline", reference="T-1", amount_fen=lot.amount_fen,
        now=datetime.now(UTC),
    )  # fmt: skip
    session.commit()
    return lot


def retire_pending(app, *arguments):
    return app.test_cli_runner().invoke(args=["credits", "retire-pending", *arguments])


def request_of(session, lot):
    session.expire_all()
    return session.scalars(sa.select(LotRetirement).where(LotRetirement.lot_id == lot.id)).one()


def test_one_run_through_the_local_registry(app, session, paid):
    app.config["REGISTRY_URL"] = ""  # no registry API: the local record of REGISTRY_CODE
    result = retire_pending(app)
    assert (result.exit_code, result.output.strip()) == (0, "1 retired")
    assert request_of(session, paid).status == "retired"
    assert retire_pending(app).output.strip() == "nothing pending"


def test_an_outage_leaves_the_lot_waiting_and_the_next_run_retires_it(app, session, paid, fake):
    fake.fail_next()
    failed = retire_pending(app)
    assert failed.exit_code == 1 and "1 waiting" in failed.output
    assert (request_of(session, paid).status, request_of(session, paid).attempts) == ("pending", 1)
    assert retire_pending(app).output.strip() == "1 retired"
    assert len(fake.retirements) == 1


def test_an_answer_our_record_cannot_take_is_noted_and_never_asked_again(app, session, paid, fake):
    """The registry retires serials our record does not hold (its holdings and our import have
    drifted): the lot waits, the request says why, and the next run reads the retirement back
    by its reference rather than retiring again."""
    fake.holdings[ACCOUNT] = []
    fake.issued.clear()
    fake.issue(ACCOUNT, Block("YRDCI-XX", "YRDCI-XX-2024", 2024, 9000001, 9000010))
    failed = retire_pending(app)
    assert failed.exit_code == 1 and "1 failed" in failed.output
    request = request_of(session, paid)
    assert request.status == "pending"
    assert request.last_error.startswith("credit_batch_not_found: serial_start: 9000001")
    assert retire_pending(app).exit_code == 1
    assert fake.retirement_requests() == 1 and len(fake.retirements) == 1


def test_following_backs_off_doubling_up_to_the_most_while_the_registry_is_down(
    app, paid, fake, monkeypatch
):
    outages = 11  # 1, 2, 4, ..., 256 s, then the most, 300 s, twice
    for _ in range(outages):
        fake.fail_next()
    waits = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) > outages:
            raise KeyboardInterrupt  # the operator stops the job

    monkeypatch.setattr(credits_jobs.time, "sleep", sleep)
    retire_pending(app, "--follow", "--interval", "7")
    doubling = [credits_jobs.RETIRE_RETRY_MIN_S * 2**n for n in range(9)]
    assert waits == [*doubling, credits_jobs.RETIRE_RETRY_MAX_S, credits_jobs.RETIRE_RETRY_MAX_S, 7]
    assert len(fake.retirements) == 1  # retired once, after the outages
