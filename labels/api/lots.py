"""Lots of labelled units over HTTP: quote, order, cancel, offline payment and revocation.

The ``lots`` blueprint (``/api/v1/lots``) also carries a lot's codes (``labels.api.codes``) and
its WeChat Pay payment (``labels.api.payments``): one URL space, one tag in the OpenAPI document,
three resources, each in its own module.
"""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from labels import certification, lots
from labels.schemas import ID_MAX, STAFF_ROLES, LotCreateSchema
from service.auth.authz import authenticated, requires
from service.base.schemas import BodySchema
from service.db import get_session, utcnow

blp = Blueprint(
    "lots",
    __name__,
    url_prefix="/api/v1/lots",
    description="Lots of labelled units: quote, order, payment, issuance and revocation.",
)


# -- schemas --------------------------------------------------------------------------------------
class QuoteQuerySchema(Schema):
    label_id = fields.Integer(required=True, validate=validate.Range(min=1, max=ID_MAX))
    units = fields.Integer(required=True, validate=validate.Range(min=1, max=lots.UNITS_MAX))


class QuoteSchema(Schema):
    units = fields.Integer()
    grams_per_unit = fields.Integer(metadata={"description": "Retired credits per unit, grams."})
    grams_required = fields.Integer()
    price_per_tonne_fen = fields.Integer()
    service_fee_fen = fields.Integer()
    amount_fen = fields.Integer()


class LotQuoteSchema(QuoteSchema):
    retired_available_g = fields.Integer(
        metadata={
            "description": "Grams retired in the enterprise's name, not yet allocated nor held."
        }
    )
    tonnes_to_retire = fields.Integer(
        metadata={"description": "Whole tonnes the enterprise must still retire for this lot."}
    )


class LotRetirementSchema(Schema):
    reference = fields.String(metadata={"description": "Our idempotency key at the registry."})
    quantity_t = fields.Integer(metadata={"description": "Whole tonnes asked of the registry."})
    status = fields.String(metadata={"description": "pending, retired or refused."})
    attempts = fields.Integer()


class LotSchema(QuoteSchema):
    id = fields.Integer()
    held_g = fields.Integer(
        metadata={"description": "Grams the order held in the enterprise's retired pool."}
    )
    tonnes_to_retire = fields.Integer(
        metadata={"description": "Whole tonnes the registry retires for the lot on payment."}
    )
    retirement = fields.Nested(LotRetirementSchema, allow_none=True)
    label_id = fields.Integer()
    product_id = fields.Integer()
    lot_number = fields.String()
    status = fields.String()
    allocation_id = fields.Integer(allow_none=True)
    payment_provider = fields.String(allow_none=True)
    payment_reference = fields.String(allow_none=True)
    created_at = fields.DateTime()
    paid_at = fields.DateTime(allow_none=True)
    issued_at = fields.DateTime(allow_none=True)
    cancelled_at = fields.DateTime(allow_none=True)


class OfflinePaymentSchema(BodySchema):
    reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The bank transfer's reference."},
    )
    amount_fen = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class RevocationCreateSchema(BodySchema):
    index_start = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    index_end = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    reason = fields.String(
        required=True, validate=validate.Length(min=1, max=lots.REVOCATION_REASON_MAX_CHARS)
    )


class RevocationSchema(Schema):
    id = fields.Integer()
    lot_id = fields.Integer()
    index_start = fields.Integer()
    index_end = fields.Integer()
    reason = fields.String()
    created_at = fields.DateTime()


# -- views ----------------------------------------------------------------------------------------
def _pricing() -> lots.Pricing:
    return lots.Pricing.from_config(current_app.config)


@blp.route("/quote")
class LotQuote(MethodView):
    @blp.arguments(QuoteQuerySchema, location="query")
    @blp.response(200, LotQuoteSchema)
    @requires("enterprise_staff", "operator")
    def get(self, query: dict):
        """What a lot of ``units`` would need in retired credits, and cost."""
        session = get_session()
        label = certification.label_for_reader(session, authenticated(), query["label_id"])
        return lots.lot_quote(session, label=label, units=query["units"], pricing=_pricing())


@blp.route("")
class Lots(MethodView):
    @blp.arguments(LotCreateSchema)
    @blp.response(201, LotSchema)
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


@blp.route("/<id:lot_id>")
class LotItem(MethodView):
    @blp.response(200, LotSchema)
    @requires(*STAFF_ROLES)
    def get(self, lot_id: int):
        """One lot."""
        return lots.lot_for_reader(get_session(), authenticated(), lot_id)


@blp.route("/<id:lot_id>/cancel")
class LotCancel(MethodView):
    @blp.response(200, LotSchema)
    @requires("enterprise_staff", "operator")
    def post(self, lot_id: int):
        """Cancel before payment; the held credits are released."""
        session = get_session()
        lot = lots.lot_for_writer(session, authenticated(), lot_id)
        return lots.lot_cancel(session, lot=lot, now=utcnow())


@blp.route("/<id:lot_id>/offline-payment")
class LotOfflinePayment(MethodView):
    @blp.arguments(OfflinePaymentSchema)
    @blp.response(200, LotSchema)
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


@blp.route("/<id:lot_id>/revocations")
class LotRevocations(MethodView):
    @blp.response(200, RevocationSchema(many=True))
    @requires(*STAFF_ROLES)
    def get(self, lot_id: int):
        """The lot's revoked unit ranges."""
        session = get_session()
        lot = lots.lot_for_reader(session, authenticated(), lot_id)
        return lots.revocations_of(session, lot)

    @blp.arguments(RevocationCreateSchema)
    @blp.response(201, RevocationSchema)
    @requires("enterprise_staff", "operator", "certifier")
    def post(self, body: dict, lot_id: int):
        """Revoke units by index range (one unit: the same index twice)."""
        session = get_session()
        principal = authenticated()
        lot = lots.lot_for_writer(session, principal, lot_id)
        return lots.units_revoke(
            session,
            lot=lot,
            index_start=body["index_start"],
            index_end=body["index_end"],
            reason=body["reason"],
            user_id=principal.user_id,
            now=utcnow(),
        )
