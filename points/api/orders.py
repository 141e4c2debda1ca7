"""Orders over HTTP: parties order catalogue items with points; operators fulfil them; a personal
offset's certificate is public."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from labels.resolver import json_ready
from points import redemption
from points.api.common import (
    PAGE_SIZE_DEFAULT,
    StatusQuerySchema,
    blp,
    idempotency_key,
    request_sha256,
)
from points.schemas import NOTE_MAX_CHARS, OrderCreateSchema
from service.auth.authz import authenticated, requires
from service.base.config import PAGE_SIZE_MAX
from service.base.schemas import BodySchema
from service.db import get_session, utcnow
from service.pagination import paginate


class OrderSchema(Schema):
    id = fields.Integer()
    item_id = fields.Integer()
    owner_type = fields.String()
    owner_id = fields.Integer()
    quantity = fields.Integer()
    points = fields.Integer()
    status = fields.String()
    certificate_number = fields.String(allow_none=True)
    holder_name = fields.String()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    note = fields.String()


class CancelSchema(BodySchema):
    note = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX_CHARS))


@blp.route("/orders")
class Orders(MethodView):
    @blp.arguments(StatusQuerySchema, location="query")
    @blp.response(200, OrderSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires()
    def get(self, query: dict, pagination_parameters):
        """Orders: the caller's and their organisations', or all for operators and auditors."""
        statement = redemption.orders_visible(authenticated(), query.get("status"))
        return paginate(get_session(), statement, pagination_parameters)

    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema)
    @blp.alt_response(200, schema=OrderSchema, description="The same Idempotency-Key again.")
    @requires("consumer", "enterprise_staff", "farm_staff")
    def post(self, body: dict):
        """Order catalogue items with points: the points are held and the stock reserved until
        the order is fulfilled or cancelled. A personal offset is fulfilled at once, with its
        certificate. Send an ``Idempotency-Key``."""
        key = idempotency_key()
        session = get_session()
        principal = authenticated()
        party = redemption.party_for(session, principal, body.get("organisation_id"))
        order, created = redemption.order_place(
            session,
            party=party,
            item_id=body["item_id"],
            quantity=body["quantity"],
            key=key,
            request_sha256=request_sha256(),
            user_id=principal.user_id,
            holder_name=body["holder_name"],
            offset_programme_uscc=current_app.config["PERSONAL_OFFSET_PROGRAMME_USCC"],
            now=utcnow(),
        )
        return order, 201 if created else 200


@blp.route("/orders/<int:order_id>")
class OrderItem(MethodView):
    @blp.response(200, OrderSchema)
    @requires()
    def get(self, order_id: int):
        """One order the caller may see."""
        return redemption.order_for_reader(get_session(), authenticated(), order_id)


@blp.route("/orders/<int:order_id>/cancel")
class OrderCancel(MethodView):
    @blp.arguments(CancelSchema)
    @blp.response(200, OrderSchema)
    @requires()
    def post(self, body: dict, order_id: int):
        """Cancel a reserved order (its owner or an operator): points released, stock back."""
        return redemption.order_cancel(
            get_session(),
            order_id=order_id,
            principal=authenticated(),
            note=body["note"],
            now=utcnow(),
        )


@blp.route("/orders/<int:order_id>/fulfil")
class OrderFulfil(MethodView):
    @blp.response(200, OrderSchema)
    @requires("operator")
    def post(self, order_id: int):
        """The goods went out: the held points are spent."""
        return redemption.order_fulfil(
            get_session(), order_id=order_id, user_id=authenticated().user_id, now=utcnow()
        )


class CertificateSchema(Schema):
    certificate_number = fields.String()
    holder_name = fields.String()
    end_beneficiary = fields.String(
        metadata={"description": "The person the offset was made for (the holder)."}
    )
    claimant = fields.String(
        metadata={"description": "The personal-offset programme the retirements were made for."}
    )
    quantity_g = fields.Integer()
    points = fields.Integer()
    issued_at = fields.String(metadata={"description": "ISO 8601, UTC."})
    retirements = fields.List(fields.Dict())
    log = fields.Dict(allow_none=True)
    statement = fields.String()


@blp.route("/offsets/<string:number>")
class OffsetCertificate(MethodView):
    @blp.response(200, CertificateSchema)
    def get(self, number: str):
        """A personal offset's certificate (public): the retired credits behind it, and its
        transparency-log inclusion proof once sequenced."""
        return json_ready(redemption.certificate(get_session(), number))
