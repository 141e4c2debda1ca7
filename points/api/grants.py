"""Operators' grants of points over HTTP."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from points import grants
from points.api.common import blp, idempotency_key, request_sha256
from points.models import OWNER_TYPES
from points.schemas import NOTE_MAX_CHARS
from service.auth.authz import authenticated, requires
from service.base.schemas import BodySchema
from service.db import get_session, utcnow


class GrantSchema(BodySchema):
    owner_type = fields.String(required=True, validate=validate.OneOf(OWNER_TYPES))
    owner_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    points = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=grants.GRANT_POINTS_MAX),
        metadata={"description": "Defaults to what the operator_grant rule's formula gives."},
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=NOTE_MAX_CHARS))


class EarningSchema(Schema):
    points = fields.Integer()
    requested = fields.Integer()
    capped_by = fields.String(allow_none=True)
    entry_id = fields.Integer(allow_none=True)


@blp.route("/grants")
class Grants(MethodView):
    @blp.arguments(GrantSchema)
    @blp.response(201, EarningSchema)
    @requires("operator")
    def post(self, body: dict):
        """Grant points to a consumer or an organisation under the operator_grant rule (its caps
        and validity apply). Send an ``Idempotency-Key``: a retry grants nothing more."""
        key = idempotency_key()
        return grants.grant(
            get_session(),
            owner_type=body["owner_type"],
            owner_id=body["owner_id"],
            points=body.get("points"),
            reason=body["reason"],
            key=key,
            request_sha256=request_sha256(),
            user_id=authenticated().user_id,
            now=utcnow(),
        )
