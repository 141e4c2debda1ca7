"""The WeChat Pay adapter sends only an ``out_trade_no`` WeChat Pay takes: 6 to 32 characters of
its set. Anything else is refused before a request leaves."""

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from service.wechatpay import (
    OUT_TRADE_NO_MAX_CHARS,
    OUT_TRADE_NO_MIN_CHARS,
    WeChatPayClient,
    WeChatPayConfig,
)
from tests.conftest import TEST_APPID
from tests.fakes.wechatpay import (
    APIV3_KEY,
    MCHID,
    MERCHANT_SERIAL,
    PLATFORM_SERIAL,
    FakeWeChatPay,
    private_key_pem,
    public_key_pem,
)


@pytest.fixture(scope="module")
def merchant_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture()
def fake_pay(httpserver, merchant_key):
    return FakeWeChatPay(httpserver, merchant_key=merchant_key, appid=TEST_APPID)


@pytest.fixture()
def prepay(fake_pay, merchant_key):
    client = WeChatPayClient(
        WeChatPayConfig(
            mchid=MCHID,
            appid=TEST_APPID,
            merchant_serial=MERCHANT_SERIAL,
            merchant_private_key_pem=private_key_pem(merchant_key),
            apiv3_key=APIV3_KEY,
            platform_serial=PLATFORM_SERIAL,
            platform_public_key_pem=public_key_pem(fake_pay.platform_key),
            base_url=fake_pay.base_url,
        )
    )

    def place(out_trade_no):
        return client.jsapi_prepay(
            out_trade_no=out_trade_no,
            description="碳标签批次",
            amount_fen=100,
            openid="o-payer",
            notify_url="https://tanhui.example/api/v1/payments/wechatpay/notify",
            now_s=int(time.time()),
        )

    return place


@pytest.mark.parametrize(
    "out_trade_no",
    [
        "a" * OUT_TRADE_NO_MIN_CHARS,
        "TH-LOT-2147483647",
        "Z9_-|*" + "0" * (OUT_TRADE_NO_MAX_CHARS - 6),
    ],
)
def test_an_out_trade_no_at_the_limits_is_sent(prepay, fake_pay, out_trade_no):
    assert prepay(out_trade_no).startswith("wx")
    assert list(fake_pay.orders) == [out_trade_no]


@pytest.mark.parametrize(
    "out_trade_no",
    [
        "a" * (OUT_TRADE_NO_MAX_CHARS + 1),
        "a" * (OUT_TRADE_NO_MIN_CHARS - 1),
        "",
        "TH LOT 1",
        "TH-LOT-１２",  # full-width digits
        "TH-LOT-1\n",
    ],
)
def test_any_other_out_trade_no_is_refused_before_sending(
    prepay, fake_pay, httpserver, out_trade_no
):
    with pytest.raises(ValueError, match="out_trade_no"):
        prepay(out_trade_no)
    assert fake_pay.orders == {}
    assert httpserver.log == []
