"""What a verified WeChat Pay notification does to a lot, worked through in the domain with a
recording adapter (the HTTP face, with real signatures, is tests/labels/api/test_payments.py)."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from labels import payments
from labels.errors import LotStateConflict
from labels.models import LabelLot
from labels.payments import Notified
from service.base.exceptions import ValidationFailed
from service.base.parties.models import Membership, WeChatIdentity
from tests.labels.conftest import order

APPID = "wx00000000000000aa"


class RecordingAdapter:
    def __init__(self):
        self.prepaid = []

    def jsapi_prepay(self, **order):
        self.prepaid.append(order)
        return "wx-prepay-1"

    def jsapi_pay_parameters(self, prepay_id, *, now_s):
        return {"package": f"prepay_id={prepay_id}", "timeStamp": str(now_s)}


@pytest.fixture()
def reserved(client, staff, certified, retired_tonne, session):
    organisation, headers = staff
    ordered = order(client, headers, certified(), 100).get_json()
    return session.get(LabelLot, ordered["id"])


def success(lot, transaction_id="4200000001", **changes):
    return {
        "out_trade_no": payments.out_trade_no_for(lot.id),
        "transaction_id": transaction_id,
        "trade_state": "SUCCESS",
        "amount": {"total": lot.amount_fen, "currency": "CNY"},
        **changes,
    }


@pytest.mark.parametrize(
    ("out_trade_no", "lot_id"),
    [("TH-LOT-12", 12), ("TH-LOT-", None), ("TH-LOT-1a", None), ("TH-LOT-²", None),
     ("XX-LOT-12", None), ("12", None), ("", None)],
)  # fmt: skip
def test_an_order_names_a_lot_only_in_its_own_form(out_trade_no, lot_id):
    assert payments.lot_id_of(out_trade_no) == lot_id


def test_a_success_issues_the_lot_once(session, reserved):
    now = datetime.now(UTC)
    assert payments.wechatpay_notified(session, transaction=success(reserved), now=now) == (
        Notified.CONFIRMED
    )
    assert (reserved.status, reserved.payment_provider) == ("issued", "wechatpay")
    # WeChat Pay repeats a notification until it is acknowledged.
    again = payments.wechatpay_notified(session, transaction=success(reserved), now=now)
    assert again is Notified.REPEAT
    # Another transaction for a lot already paid is an operator's (a refund, perhaps).
    other = success(reserved, transaction_id="4200000002")
    assert payments.wechatpay_notified(session, transaction=other, now=now) is (
        Notified.NEEDS_OPERATOR
    )
    assert reserved.payment_reference == "4200000001"


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        ({"trade_state": "NOTPAY"}, Notified.NOT_SUCCESS),
        ({"trade_state": "CLOSED"}, Notified.NOT_SUCCESS),
        ({"amount": {"total": 1}}, Notified.NEEDS_OPERATOR),
        ({"out_trade_no": "TH-LOT-999999"}, Notified.UNKNOWN_ORDER),
        ({"out_trade_no": "SOMEONE-ELSE-1"}, Notified.UNKNOWN_ORDER),
    ],
)
def test_other_notifications_change_nothing(session, reserved, changes, outcome):
    transaction = success(reserved, **changes)
    notified = payments.wechatpay_notified(session, transaction=transaction, now=datetime.now(UTC))
    assert notified is outcome
    assert reserved.status == "reserved"


@pytest.mark.parametrize("currency", ["USD", "cny", "", None])
def test_the_right_number_in_another_currency_pays_nothing(session, reserved, currency):
    amount = {"total": reserved.amount_fen, "currency": currency}
    notified = payments.wechatpay_notified(
        session, transaction=success(reserved, amount=amount), now=datetime.now(UTC)
    )
    assert notified is Notified.NEEDS_OPERATOR
    assert reserved.status == "reserved"


def start(session, lot, adapter, user_id):
    return payments.lot_wechatpay_start(
        session,
        lot=lot,
        user_id=user_id,
        appid=APPID,
        adapter=adapter,
        notify_url="https://tanhui.example.cn/api/v1/payments/wechatpay/notify",
        now=datetime(2026, 11, 25, 8, 0, tzinfo=UTC),
    )


def payer(session, staff):
    organisation, _ = staff
    return session.scalar(
        sa.select(Membership.user_id).where(Membership.organisation_id == organisation.id)
    )


def test_starting_orders_the_lot_for_the_payers_openid(session, reserved, staff):
    user_id = payer(session, staff)
    session.add(WeChatIdentity(user_id=user_id, appid=APPID, openid="o-payer"))
    session.flush()
    adapter = RecordingAdapter()
    parameters = start(session, reserved, lambda: adapter, user_id)
    assert parameters == {"package": "prepay_id=wx-prepay-1", "timeStamp": "1795593600"}
    (placed,) = adapter.prepaid
    assert placed["out_trade_no"] == f"TH-LOT-{reserved.id}"
    assert (placed["openid"], placed["amount_fen"]) == ("o-payer", reserved.amount_fen)


def test_starting_needs_a_mini_program_sign_in(session, reserved, staff):
    adapter = RecordingAdapter()
    with pytest.raises(ValidationFailed) as refused:
        start(session, reserved, lambda: adapter, payer(session, staff))
    assert list(refused.value.fields) == ["payer"]
    assert adapter.prepaid == []


def test_a_lot_not_reserved_is_refused_before_the_adapter_is_asked(session, reserved, staff):
    reserved.status = "cancelled"

    def adapter():
        raise AssertionError("the adapter was asked for")

    with pytest.raises(LotStateConflict):
        start(session, reserved, adapter, payer(session, staff))
