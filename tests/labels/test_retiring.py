"""Retire on payment, as worked examples: the enterprise has 1 t retired in its name (serial
1000001 of the Qingpu 2024 batch) and orders 161 bags of 6,250 g, 1,006,250 g. The order holds
the tonne; paid, the lot waits ``retiring`` while the registry retires the 1 t still needed (serial
1000002) in the enterprise's name; then it is allocated and issued, and the 993,750 g left over
from the whole tonne stay in the enterprise's pool for its next lots.

Against the local registry (the platform's imported batches, SQLite and PostgreSQL) and the
registry's API (a local fake registry over HTTP, ``tests/fakes/registry.py``), which fails,
refuses and times out after retiring.
"""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from labels import lots, payments, retiring
from labels.models import LabelLot, LotRetirement
from labels.retiring import Retired
from ledger.credits import selectors as credit_selectors
from ledger.credits.registry import Beneficiary, RefusalReason, RegistryRefused, RetireRequest
from ledger.credits.registry_local import LocalRegistry
from ledger.verify import ledger_verify
from service.registry_http import RegistryHttpClient, registry_http_config
from tests.fakes.registry import ACCOUNT, Block, FakeRegistry
from tests.labels.conftest import order

REGISTRY = "YRD-CI"
PROJECT = "YRDCI-QP-2023-001"
UNITS = 161  # 161 × 6,250 g = 1,006,250 g: the retired tonne and 6,250 g more
#: Short enough that a stalled answer times out quickly; the tests assert no timing.
READ_TIMEOUT_S = 0.5


@pytest.fixture()
def paid(client, staff, certified, retired_tonne, session):
    """The lot of 161 bags, ordered (holding the enterprise's tonne) and paid by transfer."""
    _, headers = staff
    ordered = order(client, headers, certified(), UNITS).get_json()
    assert (ordered["held_g"], ordered["tonnes_to_retire"]) == (1_000_000, 1)
    lot = session.get(LabelLot, ordered["id"])
    lots.lot_payment_confirm(
        session,
        lot=lot,
        provider="offline",
        reference="ICBC-20261126-001",
        amount_fen=lot.amount_fen,
        now=datetime.now(UTC),
    )
    return lot


def request_of(session, lot):
    return session.scalars(sa.select(LotRetirement).where(LotRetirement.lot_id == lot.id)).one()


def run(session, registry):
    (request_id,) = retiring.lot_retirements_pending(session)
    return retiring.lot_retirement_run(
        session,
        request_id=request_id,
        registry=registry,
        registry_code=REGISTRY,
        now=datetime.now(UTC),
    )


def pool_available_g(session, lot, staff):
    organisation, _ = staff
    return credit_selectors.claimant_credits(session, organisation_id=organisation.id).available_g


def assert_issued_on_one_retirement(session, lot, staff):
    organisation, _ = staff
    request = request_of(session, lot)
    assert (lot.status, request.status) == ("issued", "retired")
    retirement = credit_selectors.retirement(session, retirement_id=request.retirement_id)
    assert (retirement.quantity_t, retirement.beneficiary_organisation_id) == (1, organisation.id)
    serials = session.execute(
        sa.text(
            "SELECT serial_start, serial_end FROM credit_serial_ranges WHERE retirement_id = :r"
        ),
        {"r": retirement.id},
    ).all()
    assert [tuple(row) for row in serials] == [(1000002, 1000002)]
    assert pool_available_g(session, lot, staff) == 2_000_000 - 1_006_250  # 993,750 g left
    report = ledger_verify(session)
    assert report.ok, report.problems


def test_a_paid_lot_its_grams_do_not_cover_waits_retiring_with_one_request(
    client, staff, session, paid
):
    _, headers = staff
    shown = client.get(f"/api/v1/lots/{paid.id}", headers=headers).get_json()
    assert (shown["status"], shown["allocation_id"]) == ("retiring", None)
    assert shown["retirement"] == {
        "reference": f"tanhui-lot-{paid.id}",
        "quantity_t": 1,
        "status": "pending",
        "attempts": 0,
    }
    request = request_of(session, paid)
    assert paid.status == "retiring"
    assert (request.reference, request.quantity_t, request.status) == (
        f"tanhui-lot-{paid.id}",
        1,
        "pending",
    )
    assert paid.allocation_id is None


def test_the_same_payment_again_asks_for_no_second_retirement(session, paid):
    now = datetime.now(UTC)
    again = lots.lot_payment_confirm(
        session,
        lot=paid,
        provider="offline",
        reference="ICBC-20261126-001",
        amount_fen=paid.amount_fen,
        now=now,
    )
    assert again.status == "retiring"
    assert session.scalar(sa.select(sa.func.count()).select_from(LotRetirement)) == 1


def test_a_wechat_pay_notification_repeated_while_retiring_changes_nothing(
    client, staff, certified, retired_tonne, session
):
    _, headers = staff
    lot = session.get(LabelLot, order(client, headers, certified(), UNITS).get_json()["id"])
    transaction = {
        "out_trade_no": payments.out_trade_no_for(lot.id),
        "transaction_id": "4200000009",
        "trade_state": "SUCCESS",
        "amount": {"total": lot.amount_fen, "currency": "CNY"},
    }
    now = datetime.now(UTC)
    assert payments.wechatpay_notified(session, transaction=transaction, now=now) is (
        payments.Notified.CONFIRMED
    )
    assert lot.status == "retiring"
    assert payments.wechatpay_notified(session, transaction=transaction, now=now) is (
        payments.Notified.REPEAT
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(LotRetirement)) == 1


def test_the_local_registry_retires_the_tonne_and_the_lot_is_issued(session, paid, staff):
    registry = LocalRegistry(session, registry_code=REGISTRY, now=datetime.now(UTC))
    assert run(session, registry) is Retired.RETIRED
    assert_issued_on_one_retirement(session, paid, staff)
    assert retiring.lot_retirements_pending(session) == []


def test_a_lot_its_grams_cover_when_paid_is_issued_at_once(
    client, staff, certified, retired_tonne, session
):
    _, headers = staff
    lot = session.get(LabelLot, order(client, headers, certified(), 160).get_json()["id"])
    lots.lot_payment_confirm(
        session, lot=lot, provider="offline", reference="T-1", amount_fen=lot.amount_fen,
        now=datetime.now(UTC),
    )  # fmt: skip
    assert lot.status == "issued"
    assert session.scalar(sa.select(sa.func.count()).select_from(LotRetirement)) == 0


# -- the registry's API, through the local fake -----------------------------------------------
@pytest.fixture()
def fake(staff):
    """The fake registry holds what our record holds available of the Qingpu 2024 batch, and
    knows the enterprise as a beneficiary."""
    organisation, _ = staff
    registry = FakeRegistry(registry_code="YRDCI").start()
    registry.issue(ACCOUNT, Block(PROJECT, "YRDCI-QP-2024", 2024, 1000002, 1001850))
    registry.beneficiary_add(organisation.name.split(" ", 1)[0], organisation.uscc)
    yield registry
    registry.stop()


@pytest.fixture()
def api(fake):
    return RegistryHttpClient(
        registry_http_config({**fake.config(), "REGISTRY_READ_TIMEOUT_S": READ_TIMEOUT_S})
    )


def test_the_registry_failing_before_it_retires_leaves_the_lot_waiting(
    session, paid, staff, fake, api
):
    fake.fail_next()
    assert run(session, api) is Retired.WAITING
    request = request_of(session, paid)
    assert (paid.status, request.status, request.attempts) == ("retiring", "pending", 1)
    assert fake.retirements == {}

    assert run(session, api) is Retired.RETIRED
    assert len(fake.retirements) == 1
    assert_issued_on_one_retirement(session, paid, staff)


def test_a_timeout_after_the_registry_retired_is_found_by_its_reference(
    session, paid, staff, fake, api
):
    fake.stall_next()  # it retires, then does not answer: our client times out
    assert run(session, api) is Retired.WAITING
    fake.release()
    assert len(fake.retirements) == 1

    assert run(session, api) is Retired.RETIRED
    assert fake.retirement_requests() == 1  # found by reference, never asked again
    (record,) = fake.retirements.values()
    assert record["reference"] == f"tanhui-lot-{paid.id}"
    assert_issued_on_one_retirement(session, paid, staff)


def test_a_refusal_is_left_for_an_operator(session, paid, fake, api):
    fake.refuse_next("holding_insufficient")
    assert run(session, api) is Retired.REFUSED
    request = request_of(session, paid)
    assert (paid.status, request.status) == ("retiring", "refused")
    assert request.last_error.startswith("holding_insufficient")
    assert retiring.lot_retirements_pending(session) == []


class Refusing:
    """A registry that refuses every retirement at great length."""

    def retirement(self, reference=None, *, retirement_id=None):
        return None

    def retire(self, request):
        raise RegistryRefused(RefusalReason.OTHER, "理由" * 1_000)

    def holdings(self, account):
        return []


def test_a_refusal_keeps_at_most_the_limit_of_its_reason(session, paid):
    assert run(session, Refusing()) is Retired.REFUSED
    assert len(request_of(session, paid).last_error) == retiring.LAST_ERROR_MAX_CHARS


def test_one_run_takes_at_most_the_batch_limit(
    client, staff, certified, retired_tonne, session, paid, monkeypatch
):
    _, headers = staff
    second = session.get(
        LabelLot, order(client, headers, certified(), UNITS, lot_number="LT2026B").get_json()["id"]
    )
    lots.lot_payment_confirm(
        session, lot=second, provider="offline", reference="T-2", amount_fen=second.amount_fen,
        now=datetime.now(UTC),
    )  # fmt: skip
    assert len(retiring.lot_retirements_pending(session)) == 2
    monkeypatch.setattr(retiring, "RETIRE_PENDING_BATCH_MAX", 1)
    assert retiring.lot_retirements_pending(session) == [request_of(session, paid).id]


def test_a_retirement_of_another_under_our_reference_never_backs_the_lot(session, paid, fake, api):
    """A database restored from an old backup numbers a new lot as an old one was: the
    registry's retirement under that reference is another's (here 5 t, not 1 t). The request
    is refused for an operator; nothing is retired, nothing allocated."""
    (name, code), *_ = ((v, k) for k, v in fake.beneficiaries.items())
    api.retire(RetireRequest(f"tanhui-lot-{paid.id}", 5, Beneficiary(name, code), "旧批次"))
    assert run(session, api) is Retired.REFUSED
    request = request_of(session, paid)
    assert (paid.status, request.status) == ("retiring", "refused")
    assert request.last_error.startswith("idempotency_conflict")
    assert fake.retirement_requests() == 1  # only the old one
