"""Products, footprints, benchmarks and label certification over HTTP: enterprise staff see and
change their own, certifiers decide, operators set benchmarks."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Response, current_app, jsonify, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from labels import certification, exports, lots, services
from labels.codes import LotKey, scene_for, serial_for, serials
from labels.models import (
    Benchmark,
    Footprint,
    Label,
    LabelLot,
    LabelTransition,
    Product,
    UnitRevocation,
)
from labels.schemas import (
    BenchmarkCreateSchema,
    BenchmarkSchema,
    FootprintCreateSchema,
    FootprintSchema,
    LabelCreateSchema,
    LabelDetailSchema,
    LabelQuerySchema,
    LabelSchema,
    LotCreateSchema,
    LotSchema,
    OfflinePaymentSchema,
    ProductCreateSchema,
    ProductQuerySchema,
    ProductSchema,
    ProductUpdateSchema,
    QuoteQuerySchema,
    QuoteSchema,
    RevocationCreateSchema,
    RevocationSchema,
    TransitionCreateSchema,
)
from service.auth.authz import authenticated, requires
from service.base.config import PAGE_SIZE_MAX
from service.base.exceptions import NotFound, ValidationFailed
from service.base.parties.models import WeChatIdentity
from service.db import get_session, utcnow
from service.extensions import wechat_client, wechatpay_client
from service.pagination import paginate
from service.wechatpay import NotificationRejected

log = logging.getLogger("tanhui.labels")
blp = Blueprint(
    "products",
    __name__,
    url_prefix="/api/v1/products",
    description="Enterprises' products, identified by GTIN.",
)
PAGE_SIZE_DEFAULT = 20
STAFF_ROLES = ("enterprise_staff", "operator", "certifier", "auditor")


@blp.route("")
class Products(MethodView):
    @blp.arguments(ProductQuerySchema, location="query")
    @blp.response(200, ProductSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires(*STAFF_ROLES)
    def get(self, query: dict, pagination_parameters):
        """Products the caller may see: their enterprises', or all for platform staff."""
        statement = services.products_visible(authenticated())
        for name in ("organisation_id", "category"):
            if name in query:
                statement = statement.where(getattr(Product, name) == query[name])
        return paginate(get_session(), statement, pagination_parameters)

    @blp.arguments(ProductCreateSchema)
    @blp.response(201, ProductSchema)
    @requires("enterprise_staff", "operator")
    def post(self, body: dict):
        """Register a product. The GTIN is checked and stored as GTIN-14; it must be unique."""
        organisation_id = body.pop("organisation_id")
        return services.product_create(
            get_session(), principal=authenticated(), organisation_id=organisation_id, values=body
        )


@blp.route("/<id:product_id>")
class ProductItem(MethodView):
    @blp.response(200, ProductSchema)
    @requires(*STAFF_ROLES)
    def get(self, product_id: int):
        """One product, if the caller may see it."""
        return services.product_for_reader(get_session(), authenticated(), product_id)

    @blp.arguments(ProductUpdateSchema)
    @blp.response(200, ProductSchema)
    @requires("enterprise_staff", "operator")
    def patch(self, changes: dict, product_id: int):
        """Change a product's details."""
        session = get_session()
        principal = authenticated()
        product = services.product_for_reader(session, principal, product_id)
        return services.product_update(
            session, principal=principal, product=product, changes=changes
        )


# -- footprints -----------------------------------------------------------------------------------
@blp.route("/<id:product_id>/footprints")
class ProductFootprints(MethodView):
    @blp.response(200, FootprintSchema(many=True))
    @requires(*STAFF_ROLES)
    def get(self, product_id: int):
        """The product's footprints, newest first."""
        session = get_session()
        product = services.product_for_reader(session, authenticated(), product_id)
        return session.scalars(
            sa.select(Footprint)
            .where(Footprint.product_id == product.id)
            .order_by(Footprint.id.desc())
        ).all()

    @blp.arguments(FootprintCreateSchema)
    @blp.response(201, FootprintSchema)
    @requires("enterprise_staff", "operator")
    def post(self, body: dict, product_id: int):
        """Add a footprint: ``declared`` from a verifier's report, or ``computed`` by the rice
        calculator from ``activity`` (farm and mill data; see ``labels.formulas``)."""
        session = get_session()
        principal = authenticated()
        product = services.product_for_reader(session, principal, product_id)
        return certification.footprint_record(
            session, principal=principal, product=product, values=body, now=utcnow()
        )


# -- benchmarks and labels ------------------------------------------------------------------------
labels_blp = Blueprint(
    "labels",
    __name__,
    url_prefix="/api/v1/labels",
    description="Label applications, certification and category benchmarks.",
)


@labels_blp.route("/benchmarks")
class Benchmarks(MethodView):
    @labels_blp.response(200, BenchmarkSchema(many=True))
    @requires(*STAFF_ROLES)
    def get(self):
        """Low-carbon benchmarks per category, with their sources."""
        return (
            get_session()
            .scalars(sa.select(Benchmark).order_by(Benchmark.category, Benchmark.valid_from))
            .all()
        )

    @labels_blp.arguments(BenchmarkCreateSchema)
    @labels_blp.response(201, BenchmarkSchema)
    @requires("operator")
    def post(self, body: dict):
        """Set a category's benchmark from a date on (operators)."""
        return certification.benchmark_set(
            get_session(), user_id=authenticated().user_id, now=utcnow(), **body
        )


@labels_blp.route("")
class Labels(MethodView):
    @labels_blp.arguments(LabelQuerySchema, location="query")
    @labels_blp.response(200, LabelSchema(many=True))
    @labels_blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires(*STAFF_ROLES)
    def get(self, query: dict, pagination_parameters):
        """Label applications: the caller's enterprises', or all for platform staff."""
        principal = authenticated()
        statement = sa.select(Label).join(Product, Product.id == Label.product_id)
        if not principal.is_platform_staff:
            statement = statement.where(
                Product.organisation_id.in_(principal.organisation_ids("enterprise_staff"))
            )
        for name in ("status", "product_id"):
            if name in query:
                statement = statement.where(getattr(Label, name) == query[name])
        return paginate(get_session(), statement.order_by(Label.id), pagination_parameters)

    @labels_blp.arguments(LabelCreateSchema)
    @labels_blp.response(201, LabelDetailSchema)
    @requires("enterprise_staff", "operator")
    def post(self, body: dict):
        """Apply for a label scheme on one of a product's footprints."""
        session = get_session()
        principal = authenticated()
        product = services.product_for_reader(session, principal, body["product_id"])
        label = certification.label_apply(
            session,
            principal=principal,
            product=product,
            footprint_id=body["footprint_id"],
            scheme=body["scheme"],
            now=utcnow(),
        )
        return _detail(session, label)


@labels_blp.route("/<id:label_id>")
class LabelItem(MethodView):
    @labels_blp.response(200, LabelDetailSchema)
    @requires(*STAFF_ROLES)
    def get(self, label_id: int):
        """A label with its footprint in full, every transition and its wording."""
        session = get_session()
        return _detail(session, certification.label_for_reader(session, authenticated(), label_id))


@labels_blp.route("/<id:label_id>/transitions")
class LabelTransitions(MethodView):
    @labels_blp.arguments(TransitionCreateSchema)
    @labels_blp.response(200, LabelDetailSchema)
    @requires("certifier")
    def post(self, body: dict, label_id: int):
        """Move a label along the workflow (certifiers): review, certify (with ``valid_until``),
        reject, suspend, reinstate or revoke; rejecting, suspending and revoking need a reason."""
        session = get_session()
        principal = authenticated()
        label = certification.label_for_reader(session, principal, label_id)
        certification.label_transition(
            session,
            label=label,
            to_status=body["to_status"],
            actor=principal,
            reason=body["reason"],
            valid_until=body.get("valid_until"),
            now=utcnow(),
        )
        return _detail(session, label)


def _detail(session, label: Label) -> dict:
    footprint = session.get(Footprint, label.footprint_id)
    benchmark = session.get(Benchmark, label.benchmark_id) if label.benchmark_id else None
    transitions = session.scalars(
        sa.select(LabelTransition)
        .where(LabelTransition.label_id == label.id)
        .order_by(LabelTransition.id)
    ).all()
    wording = None
    if label.scheme != "low_carbon" or benchmark is not None:
        wording = certification.label_wording(label, footprint, benchmark)
    return {
        **{column.key: getattr(label, column.key) for column in Label.__table__.columns},
        "footprint": footprint,
        "transitions": transitions,
        "wording": wording,
    }


# -- lots -----------------------------------------------------------------------------------------
lots_blp = Blueprint(
    "lots",
    __name__,
    url_prefix="/api/v1/lots",
    description="Lots of labelled units: quote, order, payment, issuance and revocation.",
)


def _pricing() -> lots.Pricing:
    return lots.Pricing.from_config(current_app.config)


@lots_blp.route("/quote")
class LotQuote(MethodView):
    @lots_blp.arguments(QuoteQuerySchema, location="query")
    @lots_blp.response(200, QuoteSchema)
    @requires("enterprise_staff", "operator")
    def get(self, query: dict):
        """What a lot of ``units`` would need in retired credits, and cost."""
        session = get_session()
        label = certification.label_for_reader(session, authenticated(), query["label_id"])
        footprint = session.get(Footprint, label.footprint_id)
        return lots.quote(label, footprint, query["units"], _pricing())


@lots_blp.route("")
class Lots(MethodView):
    @lots_blp.arguments(LotCreateSchema)
    @lots_blp.response(201, LotSchema)
    @requires("enterprise_staff", "operator")
    def post(self, body: dict):
        """Order a lot of a certified label: quoted, and its credits held until payment."""
        session = get_session()
        principal = authenticated()
        label = certification.label_for_reader(session, principal, body["label_id"])
        return lots.lot_order(
            session,
            principal=principal,
            label=label,
            lot_number=body["lot_number"],
            units=body["units"],
            pricing=_pricing(),
            key_id=current_app.config["UNIT_CODE_KEY_ID"],
            now=utcnow(),
        )


@lots_blp.route("/<id:lot_id>")
class LotItem(MethodView):
    @lots_blp.response(200, LotSchema)
    @requires(*STAFF_ROLES)
    def get(self, lot_id: int):
        """One lot."""
        return lots.lot_for_reader(get_session(), authenticated(), lot_id)


@lots_blp.route("/<id:lot_id>/cancel")
class LotCancel(MethodView):
    @lots_blp.response(200, LotSchema)
    @requires("enterprise_staff", "operator")
    def post(self, lot_id: int):
        """Cancel before payment; the held credits are released."""
        session = get_session()
        lot = lots.lot_for_reader(session, authenticated(), lot_id)
        return lots.lot_cancel(session, lot=lot, now=utcnow())


@lots_blp.route("/<id:lot_id>/offline-payment")
class LotOfflinePayment(MethodView):
    @lots_blp.arguments(OfflinePaymentSchema)
    @lots_blp.response(200, LotSchema)
    @requires("operator")
    def post(self, body: dict, lot_id: int):
        """Confirm a bank transfer (operators): the lot is paid, backed and issued."""
        session = get_session()
        lot = lots.lot_for_reader(session, authenticated(), lot_id)
        return lots.lot_payment_confirm(
            session,
            lot=lot,
            provider="offline",
            reference=body["reference"],
            amount_fen=body["amount_fen"],
            now=utcnow(),
        )


@lots_blp.route("/<id:lot_id>/revocations")
class LotRevocations(MethodView):
    @lots_blp.response(200, RevocationSchema(many=True))
    @requires(*STAFF_ROLES)
    def get(self, lot_id: int):
        """The lot's revoked unit ranges."""
        session = get_session()
        lot = lots.lot_for_reader(session, authenticated(), lot_id)
        return session.scalars(
            sa.select(UnitRevocation)
            .where(UnitRevocation.lot_id == lot.id)
            .order_by(UnitRevocation.id)
        ).all()

    @lots_blp.arguments(RevocationCreateSchema)
    @lots_blp.response(201, RevocationSchema)
    @requires("enterprise_staff", "operator", "certifier")
    def post(self, body: dict, lot_id: int):
        """Revoke units by index range (one unit: the same index twice)."""
        session = get_session()
        principal = authenticated()
        lot = lots.lot_for_reader(session, principal, lot_id)
        return lots.units_revoke(
            session,
            lot=lot,
            index_start=body["index_start"],
            index_end=body["index_end"],
            reason=body["reason"],
            user_id=principal.user_id,
            now=utcnow(),
        )


# -- code exports ---------------------------------------------------------------------------------
class SheetQuerySchema(Schema):
    start = fields.Integer(load_default=0, validate=validate.Range(min=0))
    count = fields.Integer(
        load_default=100, validate=validate.Range(min=1, max=exports.SHEET_CODES_MAX)
    )


def _issued(lot_id: int) -> tuple[LabelLot, Product, LotKey]:
    session = get_session()
    lot = lots.lot_for_reader(session, authenticated(), lot_id)
    if lot.status != "issued":
        raise lots.LotStateConflict(params={"status": lot.status})
    product = session.get(Product, lot.product_id)
    return lot, product, lots.lot_key_of(lot, product, current_app.config["UNIT_CODE_MASTER_KEYS"])


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


def _unit_uri(lot_id: int, index: int) -> str:
    lot, product, key = _issued(lot_id)
    if not 0 <= index < lot.units:
        raise NotFound()
    return exports.digital_link(_base_url(), product.gtin, lot.lot_number, serial_for(key, index))


@lots_blp.route("/<id:lot_id>/codes.csv")
class LotCodesCsv(MethodView):
    @lots_blp.response(200, content_type="text/csv", description="index,serial,uri per unit.")
    @requires("enterprise_staff", "operator")
    def get(self, lot_id: int):
        """Every unit's GS1 Digital Link URI, streamed, for variable-data printers."""
        lot, _, key = _issued(lot_id)
        return Response(
            stream_with_context(exports.csv_chunks(_base_url(), key)),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="lot-{lot.id}-{lot.lot_number}.csv"'
            },
        )


@lots_blp.route("/<id:lot_id>/qr.svg")
class LotQrSvg(MethodView):
    @lots_blp.response(200, content_type="image/svg+xml", description="The lot-level code.")
    @requires("enterprise_staff", "operator")
    def get(self, lot_id: int):
        """The lot-level code: one code for the whole batch."""
        lot, product, _ = _issued(lot_id)
        uri = exports.digital_link(_base_url(), product.gtin, lot.lot_number)
        return Response(exports.qr_svg(uri, lot.lot_number), mimetype="image/svg+xml")


@lots_blp.route("/<id:lot_id>/units/<int:index>/qr.svg")
class UnitQrSvg(MethodView):
    @lots_blp.response(200, content_type="image/svg+xml", description="One unit's code.")
    @requires("enterprise_staff", "operator")
    def get(self, lot_id: int, index: int):
        """One unit's code as SVG."""
        uri = _unit_uri(lot_id, index)
        return Response(exports.qr_svg(uri, uri.rsplit("/", 1)[1]), mimetype="image/svg+xml")


@lots_blp.route("/<id:lot_id>/units/<int:index>/qr.png")
class UnitQrPng(MethodView):
    @lots_blp.response(200, content_type="image/png", description="One unit's code.")
    @requires("enterprise_staff", "operator")
    def get(self, lot_id: int, index: int):
        """One unit's code as PNG."""
        return Response(exports.qr_png(_unit_uri(lot_id, index)), mimetype="image/png")


@lots_blp.route("/<id:lot_id>/sheet.svg")
class LotSheetSvg(MethodView):
    @lots_blp.arguments(SheetQuerySchema, location="query")
    @lots_blp.response(200, content_type="image/svg+xml", description="A grid of unit codes.")
    @requires("enterprise_staff", "operator")
    def get(self, query: dict, lot_id: int):
        """A printable sheet of ``count`` unit codes from ``start`` (at most 500), streamed."""
        lot, product, key = _issued(lot_id)
        start = query["start"]
        stop = min(start + query["count"], lot.units)
        if start >= stop:
            raise NotFound()
        items = [
            (exports.digital_link(_base_url(), product.gtin, lot.lot_number, serial), serial)
            for serial in serials(key, start, stop)
        ]
        return Response(stream_with_context(exports.sheet_svg(items)), mimetype="image/svg+xml")


@lots_blp.route("/<id:lot_id>/units/<int:index>/wxacode")
class UnitMiniProgramCode(MethodView):
    @lots_blp.response(200, content_type="image/png", description="WeChat's mini-program code.")
    @requires("enterprise_staff", "operator")
    def get(self, lot_id: int, index: int):
        """One unit's WeChat mini-program code (``getwxacodeunlimit``): it opens the scan page
        with scene ``{lot id}.{serial}``."""
        lot, _, key = _issued(lot_id)
        if not 0 <= index < lot.units:
            raise NotFound()
        image = wechat_client().unlimited_code(
            scene_for(lot.id, serial_for(key, index)),
            page=current_app.config["WECHAT_SCAN_PAGE"],
        )
        mimetype = "image/jpeg" if image[:3] == b"\xff\xd8\xff" else "image/png"
        return Response(image, mimetype=mimetype)


# -- WeChat Pay -----------------------------------------------------------------------------------
NOTIFY_PATH = "/api/v1/payments/wechatpay/notify"
OUT_TRADE_NO_PREFIX = "TH-LOT-"


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
        lot = lots.lot_for_reader(session, principal, lot_id)
        if lot.status != "reserved":
            raise lots.LotStateConflict(params={"status": lot.status})
        client = wechatpay_client()
        openid = session.scalar(
            sa.select(WeChatIdentity.openid).where(
                WeChatIdentity.user_id == principal.user_id,
                WeChatIdentity.appid == current_app.config["WECHAT_APPID"],
            )
        )
        if openid is None:
            raise ValidationFailed.field(
                "payer", "Sign in through the mini-program to pay with WeChat Pay."
            )
        now_s = int(utcnow().timestamp())
        prepay_id = client.jsapi_prepay(
            out_trade_no=f"{OUT_TRADE_NO_PREFIX}{lot.id}",
            description=f"碳标签批次 {lot.lot_number}",
            amount_fen=lot.amount_fen,
            openid=openid,
            notify_url=current_app.config["PUBLIC_BASE_URL"].rstrip("/") + NOTIFY_PATH,
            now_s=now_s,
        )
        return client.jsapi_pay_parameters(prepay_id, now_s=now_s)


payments_blp = Blueprint(
    "payments",
    __name__,
    url_prefix="/api/v1/payments",
    description="Notifications from payment providers.",
)


@payments_blp.route("/wechatpay/notify")
class WeChatPayNotify(MethodView):
    @payments_blp.response(204)
    @payments_blp.alt_response(401, description="The notification did not verify.")
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
        out_trade_no = str(transaction.get("out_trade_no", ""))
        reference = str(transaction.get("transaction_id", ""))[:64]
        total = (transaction.get("amount") or {}).get("total")
        session = get_session()
        lot = None
        if out_trade_no.startswith(OUT_TRADE_NO_PREFIX) and out_trade_no[7:].isdigit():
            lot = session.get(LabelLot, int(out_trade_no[7:]))
        facts = {"out_trade_no": out_trade_no, "transaction_id": reference}
        if lot is None:
            log.error("wechat pay notified an unknown order", extra=facts)
        elif transaction.get("trade_state") != "SUCCESS":
            log.info("wechat pay notified a non-success state", extra=facts)
        elif lot.status == "reserved" and total == lot.amount_fen:
            lots.lot_payment_confirm(
                session,
                lot=lot,
                provider="wechatpay",
                reference=reference,
                amount_fen=total,
                now=utcnow(),
            )
        elif lot.payment_reference == reference:
            pass  # a repeat
        else:
            log.error(
                "wechat pay payment needs an operator (refund?)",
                extra={**facts, "lot_status": lot.status, "total": total},
            )
        return ""
