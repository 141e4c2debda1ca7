"""WeChat Pay API v3 (JSAPI, for the mini-program), as an adapter.

What the protocol asks, and this does:

* requests to WeChat Pay carry ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,
  signature=…,timestamp=…,serial_no=…``: SHA256-RSA (PKCS#1 v1.5) by the merchant key over
  ``METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nBODY\\n``;
* its responses and notifications carry ``Wechatpay-Timestamp``, ``-Nonce``, ``-Serial`` and
  ``-Signature`` over ``TIMESTAMP\\nNONCE\\nBODY\\n`` by the platform key, verified here, with the
  timestamp within ``CLOCK_SKEW_MAX_S``;
* a notification's ``resource`` is AEAD_AES_256_GCM under the APIv3 key, with its nonce and
  associated data;
* the mini-program's ``wx.requestPayment`` takes ``appId, timeStamp, nonceStr, package, signType,
  paySign``, the signature over ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``.

The base URL is configurable so tests run a local server that makes real signatures.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.auth.errors import ErrorCode
from service.base.exceptions import ServiceError

log = logging.getLogger("tanhui.wechatpay")
CLOCK_SKEW_MAX_S = 300
APIV3_KEY_BYTES = 32
#: The merchant's order number (``out_trade_no``): WeChat Pay takes 6 to 32 digits, ASCII letters
#: and ``_-|*``, unique per merchant. One that breaks this is our bug, refused before it is sent.
OUT_TRADE_NO_MIN_CHARS = 6
OUT_TRADE_NO_MAX_CHARS = 32
OUT_TRADE_NO_PATTERN = re.compile(
    rf"[0-9A-Za-z_\-|*]{{{OUT_TRADE_NO_MIN_CHARS},{OUT_TRADE_NO_MAX_CHARS}}}", re.ASCII
)
JSAPI_PATH = "/v3/pay/transactions/jsapi"


class WeChatPayError(ServiceError):
    code = ErrorCode.WECHATPAY_UNAVAILABLE


class NotificationRejected(ValueError):
    """A notification that did not verify; the reason goes to the log and to WeChat Pay."""


@dataclass(frozen=True)
class WeChatPayConfig:
    mchid: str
    appid: str
    merchant_serial: str
    merchant_private_key_pem: str
    apiv3_key: str
    platform_serial: str
    platform_public_key_pem: str
    base_url: str = "https://api.mch.weixin.qq.com"
    timeout_s: float = 5.0


def _sign(private_key: rsa.RSAPrivateKey, message: str) -> str:
    signature = private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def _verify(public_key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        public_key.verify(
            base64.b64decode(signature, validate=True),
            message.encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def out_trade_no_check(out_trade_no: str) -> str:
    """``out_trade_no`` when WeChat Pay would take it; ``ValueError`` otherwise."""
    if not OUT_TRADE_NO_PATTERN.fullmatch(out_trade_no):
        raise ValueError(
            f"out_trade_no {out_trade_no!r}: {OUT_TRADE_NO_MIN_CHARS} to "
            f"{OUT_TRADE_NO_MAX_CHARS} of 0-9, A-Z, a-z and _-|*"
        )
    return out_trade_no


class WeChatPayClient:
    def __init__(self, config: WeChatPayConfig, *, http: requests.Session | None = None) -> None:
        if len(config.apiv3_key.encode()) != APIV3_KEY_BYTES:
            raise ValueError("the APIv3 key has 32 bytes")
        self.config = config
        self.http = http or requests.Session()
        key = serialization.load_pem_private_key(config.merchant_private_key_pem.encode(), None)
        public = serialization.load_pem_public_key(config.platform_public_key_pem.encode())
        assert isinstance(key, rsa.RSAPrivateKey) and isinstance(public, rsa.RSAPublicKey)
        self._merchant_key = key
        self._platform_key = public

    # -- requests -----------------------------------------------------------------------------
    def _authorization(self, method: str, path: str, body: str, timestamp: int) -> str:
        nonce = secrets.token_hex(16)
        message = f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"
        fields = {
            "mchid": self.config.mchid,
            "nonce_str": nonce,
            "signature": _sign(self._merchant_key, message),
            "timestamp": str(timestamp),
            "serial_no": self.config.merchant_serial,
        }
        return "WECHATPAY2-SHA256-RSA2048 " + ",".join(f'{k}="{v}"' for k, v in fields.items())

    def jsapi_prepay(
        self,
        *,
        out_trade_no: str,
        description: str,
        amount_fen: int,
        openid: str,
        notify_url: str,
        now_s: int,
    ) -> str:
        """Create a JSAPI transaction; return its ``prepay_id``.

        Raises ``ValueError`` for an ``out_trade_no`` WeChat Pay would refuse (see
        ``OUT_TRADE_NO_PATTERN``): the caller made it, so it is a defect, not the client's error.
        """
        out_trade_no_check(out_trade_no)
        body = json.dumps(
            {
                "appid": self.config.appid,
                "mchid": self.config.mchid,
                "description": description[:127],
                "out_trade_no": out_trade_no,
                "notify_url": notify_url,
                "amount": {"total": amount_fen, "currency": "CNY"},
                "payer": {"openid": openid},
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        headers = {
            "Authorization": self._authorization("POST", JSAPI_PATH, body, now_s),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        try:
            response = self.http.post(
                self.config.base_url + JSAPI_PATH,
                data=body.encode(),
                headers=headers,
                timeout=self.config.timeout_s,
            )
        except requests.RequestException as error:
            log.error("wechat pay unreachable", extra={"error": type(error).__name__})
            raise WeChatPayError() from error
        try:
            self._check_signed(response.headers, response.text, now_s)
        except NotificationRejected as error:
            log.error("wechat pay answer not signed by the platform", extra={"why": str(error)})
            raise WeChatPayError() from error
        payload = json.loads(response.text) if response.text else {}
        if response.status_code != 200 or not isinstance(payload.get("prepay_id"), str):
            log.error(
                "wechat pay refused the transaction",
                extra={"status": response.status_code, "code": payload.get("code")},
            )
            raise WeChatPayError()
        return payload["prepay_id"]

    def jsapi_pay_parameters(self, prepay_id: str, *, now_s: int) -> dict[str, str]:
        """What the mini-program passes to ``wx.requestPayment``."""
        nonce = secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        message = f"{self.config.appid}\n{now_s}\n{nonce}\n{package}\n"
        return {
            "appId": self.config.appid,
            "timeStamp": str(now_s),
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": _sign(self._merchant_key, message),
        }

    # -- what WeChat Pay sends ------------------------------------------------------------------
    def _check_signed(self, headers: Mapping[str, str], body: str, now_s: int) -> None:
        timestamp = headers.get("Wechatpay-Timestamp", "")
        nonce = headers.get("Wechatpay-Nonce", "")
        signature = headers.get("Wechatpay-Signature", "")
        serial = headers.get("Wechatpay-Serial", "")
        if not (timestamp.isdigit() and nonce and signature):
            raise NotificationRejected("signature headers missing")
        if serial != self.config.platform_serial:
            raise NotificationRejected("unknown platform certificate serial")
        if abs(now_s - int(timestamp)) > CLOCK_SKEW_MAX_S:
            raise NotificationRejected("timestamp outside the allowed window")
        if not _verify(self._platform_key, f"{timestamp}\n{nonce}\n{body}\n", signature):
            raise NotificationRejected("signature does not verify")

    def notification_open(
        self, headers: Mapping[str, str], body: str, *, now_s: int
    ) -> dict[str, Any]:
        """Verify a payment notification and return its decrypted transaction."""
        self._check_signed(headers, body, now_s)
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            if resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise NotificationRejected("unknown algorithm")
            plaintext = AESGCM(self.config.apiv3_key.encode()).decrypt(
                resource["nonce"].encode(),
                base64.b64decode(resource["ciphertext"]),
                (resource.get("associated_data") or "").encode(),
            )
            transaction = json.loads(plaintext)
        except NotificationRejected:
            raise
        except (ValueError, KeyError, TypeError, AttributeError, InvalidTag) as error:
            raise NotificationRejected(f"resource: {type(error).__name__}") from error
        if not isinstance(transaction, dict):
            raise NotificationRejected("resource is not a transaction")
        if transaction.get("mchid") != self.config.mchid:
            raise NotificationRejected("another merchant's transaction")
        if transaction.get("appid") != self.config.appid:
            raise NotificationRejected("another app's transaction")
        transaction["event_type"] = envelope.get("event_type")
        return transaction
