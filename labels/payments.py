"""Paying a lot with WeChat Pay (API v3, JSAPI, inside the mini-program).

Starting: a reserved lot is ordered at WeChat Pay under ``out_trade_no`` ``TH-LOT-{lot id}``, and
the parameters ``wx.requestPayment`` takes go back to the mini-program. The lot is issued only
when WeChat Pay notifies; the notification is verified and decrypted by the adapter before it
comes here, so this module sees only a transaction WeChat Pay signed.

A notification moves the lot by this table, and is acknowledged whatever it says (WeChat Pay
repeats a notification until it is acknowledged, so refusing one would only repeat it)::

    SUCCESS, lot reserved, amount the lot's      confirmed: paid, backed and issued (or, when
    (``total`` in fen, ``currency`` CNY)         its grams do not cover it, paid and retiring:
                                                 ``labels.retiring``)
    SUCCESS, the lot's own transaction again     a repeat: nothing changes
    another trade state (NOTPAY, CLOSED, ...)    nothing changes (logged)
    an order that names no lot                   nothing changes (logged as an error)
    anything else (another amount or currency,   nothing changes; logged for an operator, who
    a lot that was cancelled or paid otherwise)  may have to refund

The adapter has already refused a transaction of another merchant (``mchid``) or another app
(``appid``) than the one the lot was ordered under: it never comes here.

Functions take a session and never commit; the adapter is passed in (``service.wechatpay`` is
the real one, the tests' fake another).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.errors import LotStateConflict
from labels.lots import lot_payment_confirm
from labels.models import LabelLot
from service.base.exceptions import ValidationFailed
from service.base.parties.models import WeChatIdentity

log = logging.getLogger("tanhui.labels")
OUT_TRADE_NO_PREFIX = "TH-LOT-"
#: The lot's ``payment_reference`` column holds this many characters.
PAYMENT_REFERENCE_MAX_CHARS = 64
PROVIDER = "wechatpay"
#: Lots are ordered in fen of this currency; a payment in any other pays nothing.
CURRENCY = "CNY"


class PayAdapter(Protocol):
    """What this module asks of a WeChat Pay client (``service.wechatpay.WeChatPayClient``)."""

    def jsapi_prepay(
        self,
        *,
        out_trade_no: str,
        description: str,
        amount_fen: int,
        openid: str,
        notify_url: str,
        now_s: int,
    ) -> str: ...

    def jsapi_pay_parameters(self, prepay_id: str, *, now_s: int) -> dict[str, str]: ...


class Notified(enum.StrEnum):
    """What a notification did to its lot (for the log and the tests; WeChat Pay is told only
    that it was received)."""

    CONFIRMED = "confirmed"
    REPEAT = "repeat"
    NOT_SUCCESS = "not_success"
    UNKNOWN_ORDER = "unknown_order"
    NEEDS_OPERATOR = "needs_operator"


def out_trade_no_for(lot_id: int) -> str:
    return f"{OUT_TRADE_NO_PREFIX}{lot_id}"


def lot_id_of(out_trade_no: str) -> int | None:
    """The lot an ``out_trade_no`` names, or ``None`` for an order that is not a lot's."""
    number = out_trade_no.removeprefix(OUT_TRADE_NO_PREFIX)
    if number == out_trade_no or not (number.isascii() and number.isdigit()):
        return None
    return int(number)


def lot_wechatpay_start(
    session: Session,
    *,
    lot: LabelLot,
    user_id: int,
    appid: str,
    adapter: Callable[[], PayAdapter],
    notify_url: str,
    now: datetime,
) -> dict[str, str]:
    """Order a reserved lot at WeChat Pay for the payer, who must have signed in through the
    mini-program ``appid`` (WeChat Pay charges an openid). ``adapter`` is called only once the
    lot is known to be payable, so a lot in another state answers so even where WeChat Pay is
    not set up."""
    if lot.status != "reserved":
        raise LotStateConflict(params={"status": lot.status})
    client = adapter()
    openid = session.scalar(
        sa.select(WeChatIdentity.openid).where(
            WeChatIdentity.user_id == user_id, WeChatIdentity.appid == appid
        )
    )
    if openid is None:
        raise ValidationFailed.field(
            "payer", "Sign in through the mini-program to pay with WeChat Pay."
        )
    now_s = int(now.timestamp())
    prepay_id = client.jsapi_prepay(
        out_trade_no=out_trade_no_for(lot.id),
        description=f"碳标签批次 {lot.lot_number}",
        amount_fen=lot.amount_fen,
        openid=openid,
        notify_url=notify_url,
        now_s=now_s,
    )
    return client.jsapi_pay_parameters(prepay_id, now_s=now_s)


def wechatpay_notified(
    session: Session, *, transaction: Mapping[str, Any], now: datetime
) -> Notified:
    """Apply a verified payment notification's ``transaction`` (see the table above)."""
    out_trade_no = str(transaction.get("out_trade_no", ""))
    reference = str(transaction.get("transaction_id", ""))[:PAYMENT_REFERENCE_MAX_CHARS]
    amount = transaction.get("amount") or {}
    total, currency = amount.get("total"), amount.get("currency")
    lot_id = lot_id_of(out_trade_no)
    lot = session.get(LabelLot, lot_id) if lot_id is not None else None
    facts = {"out_trade_no": out_trade_no, "transaction_id": reference}
    if lot is None:
        log.error("wechat pay notified an unknown order", extra=facts)
        return Notified.UNKNOWN_ORDER
    if transaction.get("trade_state") != "SUCCESS":
        log.info("wechat pay notified a non-success state", extra=facts)
        return Notified.NOT_SUCCESS
    if lot.status == "reserved" and total == lot.amount_fen and currency == CURRENCY:
        lot_payment_confirm(
            session, lot=lot, provider=PROVIDER, reference=reference, amount_fen=total, now=now
        )
        return Notified.CONFIRMED
    if lot.payment_reference == reference:
        return Notified.REPEAT
    log.error(
        "wechat pay payment needs an operator (refund?)",
        extra={**facts, "lot_status": lot.status, "total": total, "currency": currency},
    )
    return Notified.NEEDS_OPERATOR
