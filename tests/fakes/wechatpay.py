"""A local WeChat Pay API v3 server that makes real signatures (for tests only).

It checks the merchant's ``Authorization`` signature on every request, answers JSAPI orders with
a ``prepay_id`` signed by its own platform key, and builds payment notifications the way WeChat
Pay sends them: the transaction encrypted with AEAD_AES_256_GCM under the APIv3 key, the body
signed by the platform key.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from werkzeug import Request, Response

PLATFORM_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
MERCHANT_SERIAL = "3775B6A45ACD588826D15E583A95F5DD********"
MCHID = "1900009191"
APIV3_KEY = "0123456789abcdef0123456789abcdef"
_AUTHORIZATION = re.compile(r'(\w+)="([^"]*)"')


def private_key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_key_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(
        key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    ).decode()


class FakeWeChatPay:
    def __init__(self, httpserver: Any, *, merchant_key: rsa.RSAPrivateKey, appid: str) -> None:
        self.server = httpserver
        self.appid = appid
        self.platform_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.merchant_public = merchant_key.public_key()
        self.orders: dict[str, dict[str, Any]] = {}
        self.rejected: list[str] = []
        httpserver.expect_request("/v3/pay/transactions/jsapi", method="POST").respond_with_handler(
            self._jsapi
        )

    @property
    def base_url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def config(self) -> dict[str, str]:
        """The settings a merchant's app needs to talk to this server."""
        return {
            "WECHATPAY_MCHID": MCHID,
            "WECHATPAY_APIV3_KEY": APIV3_KEY,
            "WECHATPAY_PLATFORM_SERIAL": PLATFORM_SERIAL,
            "WECHATPAY_PLATFORM_PUBLIC_KEY": public_key_pem(self.platform_key),
            "WECHATPAY_MERCHANT_SERIAL": MERCHANT_SERIAL,
            "WECHATPAY_API_BASE_URL": self.base_url,
        }

    def _signed(self, status: int, payload: dict[str, Any]) -> Response:
        body = json.dumps(payload)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        return Response(
            body,
            status=status,
            content_type="application/json",
            headers={
                "Wechatpay-Timestamp": timestamp,
                "Wechatpay-Nonce": nonce,
                "Wechatpay-Serial": PLATFORM_SERIAL,
                "Wechatpay-Signature": _sign(self.platform_key, f"{timestamp}\n{nonce}\n{body}\n"),
            },
        )

    def _jsapi(self, request: Request) -> Response:
        body = request.get_data(as_text=True)
        header = request.headers.get("Authorization", "")
        fields = dict(_AUTHORIZATION.findall(header))
        message = (
            f"POST\n{request.path}\n{fields.get('timestamp')}\n{fields.get('nonce_str')}\n{body}\n"
        )
        try:
            self.merchant_public.verify(
                base64.b64decode(fields.get("signature", "")),
                message.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:  # noqa: BLE001 - any failure is a bad signature
            self.rejected.append("signature")
            return self._signed(401, {"code": "SIGN_ERROR", "message": "signature"})
        if not header.startswith("WECHATPAY2-SHA256-RSA2048 ") or fields.get("mchid") != MCHID:
            return self._signed(401, {"code": "SIGN_ERROR", "message": "mchid"})
        order = json.loads(body)
        known = self.orders.get(order["out_trade_no"])
        if known is not None and known["amount"] != order["amount"]:
            return self._signed(400, {"code": "INVALID_REQUEST", "message": "out_trade_no reused"})
        if known is None:
            known = {**order, "prepay_id": "wx" + secrets.token_hex(14)}
            self.orders[order["out_trade_no"]] = known
        return self._signed(200, {"prepay_id": known["prepay_id"]})

    def notification(
        self,
        out_trade_no: str,
        *,
        trade_state: str = "SUCCESS",
        total: int | None = None,
        transaction_id: str | None = None,
        timestamp: int | None = None,
        mchid: str = MCHID,
        appid: str | None = None,
        currency: str = "CNY",
    ) -> tuple[dict[str, str], str]:
        """The headers and body WeChat Pay would POST to the order's ``notify_url``."""
        order = self.orders[out_trade_no]
        transaction = {
            "mchid": mchid,
            "appid": appid or self.appid,
            "out_trade_no": out_trade_no,
            "transaction_id": transaction_id or "4200000" + secrets.token_hex(10),
            "trade_type": "JSAPI",
            "trade_state": trade_state,
            "trade_state_desc": "支付成功" if trade_state == "SUCCESS" else trade_state,
            "success_time": "2026-11-24T14:00:00+08:00",
            "payer": order["payer"],
            "amount": {
                "total": order["amount"]["total"] if total is None else total,
                "payer_total": order["amount"]["total"] if total is None else total,
                "currency": currency,
                "payer_currency": currency,
            },
        }
        nonce, associated = secrets.token_hex(6), "transaction"
        ciphertext = AESGCM(APIV3_KEY.encode()).encrypt(
            nonce.encode(), json.dumps(transaction).encode(), associated.encode()
        )
        body = json.dumps(
            {
                "id": secrets.token_hex(16),
                "create_time": "2026-11-24T14:00:01+08:00",
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "associated_data": associated,
                    "nonce": nonce,
                },
            }
        )
        stamp, header_nonce = str(timestamp or int(time.time())), secrets.token_hex(16)
        headers = {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": header_nonce,
            "Wechatpay-Serial": PLATFORM_SERIAL,
            "Wechatpay-Signature": _sign(self.platform_key, f"{stamp}\n{header_nonce}\n{body}\n"),
            "Content-Type": "application/json",
        }
        return headers, body
