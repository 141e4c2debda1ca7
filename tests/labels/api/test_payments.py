"""Paying a lot with WeChat Pay (API v3, JSAPI) against a local server that makes real
signatures: the order is signed and verified both ways, the notification is verified and
decrypted, and repeated, late, tampered or foreign notifications change nothing."""

import json
import time

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

from labels import lots
from ledger import entries as ledger
from service.base.parties.models import Membership, WeChatIdentity
from tests.conftest import TEST_APPID
from tests.fakes.wechatpay import FakeWeChatPay, _sign, private_key_pem
from tests.labels.conftest import order

NOTIFY = "/api/v1/payments/wechatpay/notify"


@pytest.fixture(scope="session")
def merchant_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture()
def fake_pay(httpserver, merchant_key):
    return FakeWeChatPay(httpserver, merchant_key=merchant_key, appid=TEST_APPID)


@pytest.fixture()
def app(make_app, fake_pay, merchant_key):
    return make_app(**fake_pay.config(), WECHATPAY_PRIVATE_KEY=private_key_pem(merchant_key))


@pytest.fixture()
def wechat_staff(staff, session):
    """The enterprise's staff member, also signed in once through the mini-program."""
    organisation, headers = staff
    user_id = session.scalar(
        sa.select(Membership.user_id).where(Membership.organisation_id == organisation.id)
    )
    session.add(WeChatIdentity(user_id=user_id, appid=TEST_APPID, openid="o-lianta-staff-01"))
    session.flush()
    return headers


@pytest.fixture()
def reserved(client, wechat_staff, certified, retired_tonne):
    lot = order(client, wechat_staff, certified(), 100)
    assert lot.status_code == 201, lot.get_json()
    return lot.get_json()


def start_payment(client, headers, lot):
    return client.post(f"/api/v1/lots/{lot['id']}/wechatpay", headers=headers)


def notify(client, headers, body):
    return client.post(NOTIFY, headers=headers, data=body)


def lot_status(client, headers, lot):
    return client.get(f"/api/v1/lots/{lot['id']}", headers=headers).get_json()


def test_a_lot_is_paid_with_wechat_pay(client, wechat_staff, reserved, fake_pay, session):
    response = start_payment(client, wechat_staff, reserved)
    assert response.status_code == 200, response.get_json()
    parameters = response.get_json()
    assert parameters["package"].startswith("prepay_id=wx") and parameters["signType"] == "RSA"
    out_trade_no = f"TH-LOT-{reserved['id']}"
    placed = fake_pay.orders[out_trade_no]
    assert placed["amount"] == {"total": 25_000, "currency": "CNY"}
    assert placed["payer"] == {"openid": "o-lianta-staff-01"}
    assert placed["notify_url"].endswith(NOTIFY)

    headers, body = fake_pay.notification(out_trade_no, transaction_id="4200002026112400001")
    assert notify(client, headers, body).status_code == 204
    lot = lot_status(client, wechat_staff, reserved)
    assert (lot["status"], lot["payment_provider"], lot["payment_reference"]) == (
        "issued",
        "wechatpay",
        "4200002026112400001",
    )
    assert ledger.balance_of(session, lots.PLATFORM_REVENUE_ACCOUNT).balance == 25_000

    # WeChat Pay repeats notifications until acknowledged: a repeat changes nothing.
    headers, body = fake_pay.notification(out_trade_no, transaction_id="4200002026112400001")
    assert notify(client, headers, body).status_code == 204
    assert ledger.balance_of(session, lots.PLATFORM_REVENUE_ACCOUNT).balance == 25_000


def test_out_of_order_and_foreign_notifications_change_nothing(
    client, wechat_staff, reserved, fake_pay, session
):
    start_payment(client, wechat_staff, reserved)
    out_trade_no = f"TH-LOT-{reserved['id']}"
    for kwargs in (
        {"trade_state": "NOTPAY"},
        {"trade_state": "CLOSED"},
        {"total": 1},  # not what the lot costs
    ):
        headers, body = fake_pay.notification(out_trade_no, **kwargs)
        assert notify(client, headers, body).status_code == 204
        assert lot_status(client, wechat_staff, reserved)["status"] == "reserved"
    for foreign in ({"mchid": "1900000000"}, {"appid": "wx00000000000000ff"}):
        headers, body = fake_pay.notification(out_trade_no, **foreign)
        assert notify(client, headers, body).status_code == 401
    # A success after the enterprise cancelled is acknowledged and changes nothing.
    client.post(f"/api/v1/lots/{reserved['id']}/cancel", headers=wechat_staff)
    headers, body = fake_pay.notification(out_trade_no)
    assert notify(client, headers, body).status_code == 204
    assert lot_status(client, wechat_staff, reserved)["status"] == "cancelled"
    payments = sa.text("SELECT count(*) FROM ledger_entries WHERE kind = 'label_lot_payment'")
    assert session.scalar(payments) == 0


@pytest.mark.parametrize(
    "tamper",
    ["body", "signature", "serial", "stale", "ciphertext", "missing"],
)
def test_a_notification_that_does_not_verify_is_refused(
    client, wechat_staff, reserved, fake_pay, tamper
):
    start_payment(client, wechat_staff, reserved)
    out_trade_no = f"TH-LOT-{reserved['id']}"
    stamp = int(time.time()) - 3600 if tamper == "stale" else None
    headers, body = fake_pay.notification(out_trade_no, timestamp=stamp)
    if tamper == "body":
        body = body.replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESS ")
    elif tamper == "signature":
        headers["Wechatpay-Signature"] = headers["Wechatpay-Signature"][::-1]
    elif tamper == "serial":
        headers["Wechatpay-Serial"] = "0" * 40
    elif tamper == "missing":
        del headers["Wechatpay-Signature"]
    elif tamper == "ciphertext":
        # Re-sign a body whose ciphertext was altered: the signature holds, decryption fails.
        document = json.loads(body)
        # (Always a different first character: "A" over an "A" would alter nothing.)
        ciphertext = document["resource"]["ciphertext"]
        document["resource"]["ciphertext"] = ("B" if ciphertext[0] == "A" else "A") + ciphertext[1:]
        forged = json.dumps(document)
        headers["Wechatpay-Signature"] = _sign(
            fake_pay.platform_key,
            f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n{forged}\n",
        )
        body = forged
    response = notify(client, headers, body)
    assert response.status_code == 401
    assert response.get_json()["code"] == "FAIL"
    assert lot_status(client, wechat_staff, reserved)["status"] == "reserved"


def test_paying_needs_a_mini_program_sign_in(client, staff, certified, retired_tonne):
    _, headers = staff
    lot = order(client, headers, certified(), 10).get_json()
    response = start_payment(client, headers, lot)
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "payer"


def test_without_wechat_pay_configured_lots_are_paid_offline(
    make_app, staff, certified, retired_tonne
):
    client = make_app().test_client()
    _, headers = staff
    lot = order(client, headers, certified(), 10).get_json()
    response = start_payment(client, headers, lot)
    assert (response.status_code, response.get_json()["code"]) == (503, "wechatpay_not_configured")


@pytest.mark.parametrize(
    ("field", "value", "status"),
    [
        # Verified and acknowledged (WeChat Pay would only repeat a refusal), kept for an operator.
        ("currency", "USD", 204),
        ("total", 24_999, 204),
        # Another merchant's or app's transaction is not ours: refused.
        ("mchid", "1900000000", 401),
        ("appid", "wx00000000000000ff", 401),
    ],
)
def test_a_signed_notification_must_match_the_order_in_every_field(
    client, wechat_staff, reserved, fake_pay, session, caplog, field, value, status
):
    """A platform-signed success with the right number but one field of the order changed
    issues nothing, and says so in the log."""
    start_payment(client, wechat_staff, reserved)
    headers, body = fake_pay.notification(f"TH-LOT-{reserved['id']}", **{field: value})
    with caplog.at_level("WARNING", logger="tanhui"):
        assert notify(client, headers, body).status_code == status
    assert lot_status(client, wechat_staff, reserved)["status"] == "reserved"
    payments = sa.text("SELECT count(*) FROM ledger_entries WHERE kind = 'label_lot_payment'")
    assert session.scalar(payments) == 0
    assert any(
        record.name.startswith("tanhui") and record.levelname in ("WARNING", "ERROR")
        for record in caplog.records
    )
    # The order's own notification still pays it.
    headers, body = fake_pay.notification(f"TH-LOT-{reserved['id']}")
    assert notify(client, headers, body).status_code == 204
    assert lot_status(client, wechat_staff, reserved)["status"] == "issued"
