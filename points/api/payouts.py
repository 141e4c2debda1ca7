"""Farm payouts over HTTP: farms ask to turn points into fen; operators decide and export the
transfer files."""

from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from points import payouts
from points.api.common import (
    PAGE_SIZE_DEFAULT,
    StatusQuerySchema,
    blp,
    idempotency_key,
    request_sha256,
)
from points.errors import ErrorCode, PayoutError
from points.models import PAYOUT_METHODS
from points.schemas import ExportCreateSchema, PayoutDecisionSchema
from service.auth.authz import authenticated, requires
from service.base.config import PAGE_SIZE_MAX
from service.base.schemas import BodySchema
from service.db import get_session, utcnow
from service.pagination import paginate


class PayoutCreateSchema(BodySchema):
    organisation_id = fields.Integer(required=True, strict=True)
    points = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10**9))
    method = fields.String(required=True, validate=validate.OneOf(PAYOUT_METHODS))
    payee_name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    payee_account = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{4,64}$", error="4 to 64 letters or digits."),
        metadata={"description": "A bank account number, or the payee's openid for WeChat."},
    )
    bank_name = fields.String(load_default="", validate=validate.Length(max=64))


class PayoutSchema(Schema):
    id = fields.Integer()
    organisation_id = fields.Integer()
    points = fields.Integer()
    fen_per_100_points = fields.Integer()
    amount_fen = fields.Integer()
    method = fields.String()
    payee_name = fields.String()
    payee_account = fields.String()
    bank_name = fields.String()
    status = fields.String()
    requested_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String()
    export_id = fields.Integer(allow_none=True)


class ExportSchema(Schema):
    id = fields.Integer()
    method = fields.String()
    payouts = fields.Integer()
    total_fen = fields.Integer()
    sha256 = fields.String()
    created_at = fields.DateTime()


@blp.route("/payouts")
class Payouts(MethodView):
    @blp.arguments(StatusQuerySchema, location="query")
    @blp.response(200, PayoutSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires("farm_staff", "operator", "auditor")
    def get(self, query: dict, pagination_parameters):
        """Payouts: the caller's farms', or all for operators and auditors."""
        statement = payouts.payouts_visible(authenticated(), query.get("status"))
        return paginate(get_session(), statement, pagination_parameters)

    @blp.arguments(PayoutCreateSchema)
    @blp.response(201, PayoutSchema)
    @blp.alt_response(200, schema=PayoutSchema, description="The same Idempotency-Key again.")
    @requires("farm_staff")
    def post(self, body: dict):
        """Ask to turn a farm's points into fen at the configured rate; the points are held until
        an operator decides. Send an ``Idempotency-Key``."""
        key = idempotency_key()
        payout, created = payouts.payout_request(
            get_session(),
            principal=authenticated(),
            organisation_id=body.pop("organisation_id"),
            values=body,
            key=key,
            request_sha256=request_sha256(),
            fen_per_100_points=current_app.config["POINTS_PAYOUT_FEN_PER_100_POINTS"],
            now=utcnow(),
        )
        return payout, 201 if created else 200


@blp.route("/payouts/<int:payout_id>/decision")
class PayoutDecision(MethodView):
    @blp.arguments(PayoutDecisionSchema)
    @blp.response(200, PayoutSchema)
    @requires("operator")
    def post(self, body: dict, payout_id: int):
        """Approve (points spent, fen owed to the farm, through the ledger) or reject (points
        released)."""
        return payouts.payout_decide(
            get_session(),
            payout_id=payout_id,
            decision=body["decision"],
            note=body["note"],
            user_id=authenticated().user_id,
            now=utcnow(),
        )


@blp.route("/payouts/exports")
class PayoutExports(MethodView):
    @blp.arguments(ExportCreateSchema)
    @blp.response(201, ExportSchema)
    @requires("operator")
    def post(self, body: dict):
        """Export the approved payouts not yet exported into one transfer file (bank CSV or
        WeChat Pay batch JSON); download it from ``/payouts/exports/{id}/file``."""
        made = payouts.export_create(
            get_session(), method=body["method"], user_id=authenticated().user_id, now=utcnow()
        )
        if made is None:
            raise PayoutError(code=ErrorCode.PAYOUTS_NONE_TO_EXPORT)
        return made[0]


@blp.route("/payouts/exports/<int:export_id>/file")
class PayoutExportFile(MethodView):
    @blp.response(200, description="The transfer file; X-Content-SHA256 is its hash.")
    @requires("operator", "auditor")
    def get(self, export_id: int):
        """An export's transfer file, the same bytes every time."""
        content, headers = payouts.export_download(*payouts.export_file(get_session(), export_id))
        return Response(content, headers=headers)
