"""Unit claims over HTTP: a consumer claims a scanned unit, once per unit, ever."""

from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields

from points import claims
from points.api.common import blp, idempotency_key, request_sha256
from points.schemas import ClaimCreateSchema
from service.auth.authz import authenticated, requires
from service.db import get_session, utcnow
from service.extensions import rate_limited


class ClaimSchema(Schema):
    id = fields.Integer()
    lot_id = fields.Integer()
    unit_index = fields.Integer()
    points = fields.Integer()
    capped_by = fields.String(allow_none=True)
    created_at = fields.DateTime()


@blp.route("/claims")
class Claims(MethodView):
    decorators = [
        rate_limited("RATELIMIT_CLAIMS"),
        rate_limited("RATELIMIT_CLAIMS_PER_USER", per="user"),
        rate_limited("RATELIMIT_CLAIMS_PER_DEVICE", per="device"),
    ]

    @blp.arguments(ClaimCreateSchema)
    @blp.response(201, ClaimSchema)
    @blp.alt_response(200, schema=ClaimSchema, description="The same Idempotency-Key again.")
    @requires("consumer")
    def post(self, body: dict):
        """Claim a scanned unit: once per unit, ever. Send an ``Idempotency-Key`` header; a retry
        with it returns the original claim."""
        key = idempotency_key()
        gtin, lot, serial = claims.unit_link_parts(body["code"])
        user_id = authenticated().user_id
        result = claims.claim_unit(
            get_session(),
            user_id=user_id,
            gtin=gtin,
            lot_number=lot,
            serial=serial,
            key=f"user:{user_id}:{key}",
            request_sha256=request_sha256(),
            region_code=body.get("region"),
            master_keys=current_app.config["UNIT_CODE_MASTER_KEYS"],
            now=utcnow(),
        )
        claim = result.claim
        payload = {
            "id": claim.id,
            "lot_id": claim.lot_id,
            "unit_index": claim.unit_index,
            "points": claim.points,
            "capped_by": result.capped_by,
            "created_at": claim.created_at,
        }
        return payload, 201 if result.created else 200
