"""Paying a lot with WeChat Pay over HTTP: the mini-program starts a payment (on the ``lots``
blueprint, ``/api/v1/lots/<id>/wechatpay``), and WeChat Pay notifies the outcome (the
``payments`` blueprint). What a notification does to a lot is ``labels.payments``'s; this module
verifies the notification and answers in WeChat Pay's shape."""

from __future__ import annotations

import logging

from flask import current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from labels import lots, payments
from labels.api.lots import blp as lots_blp
from service.auth.authz import authenticated, requires
from service.db import get_session, utcnow
from service.extensions import wechatpay_client
from service.wechatpay import NotificationRejected

log = logging.getLogger("tanhui.labels")
NOTIFY_PATH = "/api/v1/payments/wechatpay/notify"

blp = Blueprint(
    "payments",
    __name__,
    url_prefix="/api/v1/payments",
    description="Notifications from payment providers.",
)


class PayParametersSchema(Schema):
    appId = fields.String()  # noqa: N815 - wx.requestPayment's names
    timeStamp = fields.String()  # noqa: N815
    nonceStr = fields.String()  # noqa: N815
    package = fields.String()
    signType = fields.String()  # noqa: N815
    paySign = fields.String()  # noqa: N815


@lots_blp.route("/<id:lot_id>/wechatpay")
class LotWeChatPay(MethodView):
    @lots_blp.response(200, PayParametersSchema)
    @requires("enterprise_staff")
    def post(self, lot_id: int):
        """Start paying a reserved lot with WeChat Pay (JSAPI, in the mini-program): the answer
        goes straight to ``wx.requestPayment``. The lot is issued when WeChat Pay notifies."""
        session = get_session()
        principal = authenticated()
        lot = lots.lot_for_writer(session, principal, lot_id)
        return payments.lot_wechatpay_start(
            session,
            lot=lot,
            user_id=principal.user_id,
            appid=current_app.config["WECHAT_APPID"],
            adapter=wechatpay_client,
            notify_url=current_app.config["PUBLIC_BASE_URL"].rstrip("/") + NOTIFY_PATH,
            now=utcnow(),
        )


@blp.route("/wechatpay/notify")
class WeChatPayNotify(MethodView):
    @blp.response(204)
    @blp.alt_response(401, description="The notification did not verify.")
    def post(self):
        """WeChat Pay's payment notification (API v3). Verified (platform signature, timestamp
        window) and decrypted; a successful payment of a reserved lot issues it. Repeats, other
        states and notifications of lots that moved on change nothing and are acknowledged;
        a failure answers WeChat Pay's own shape ``{"code": "FAIL", "message": …}``."""
        client = wechatpay_client()
        try:
            transaction = client.notification_open(
                request.headers, request.get_data(as_text=True), now_s=int(utcnow().timestamp())
            )
        except NotificationRejected as error:
            log.warning("wechat pay notification rejected", extra={"why": str(error)})
            return jsonify({"code": "FAIL", "message": str(error)}), 401
        payments.wechatpay_notified(get_session(), transaction=transaction, now=utcnow())
        return ""
