"""Points over HTTP: a consumer claims scanned units and sees their points; operators publish
rules."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from points import services
from points.models import EVENT_TYPES, FORMULA_KINDS
from service.auth.authz import authenticated, requires
from service.db import get_session, utcnow
from service.exceptions import ValidationFailed
from service.extensions import rate_limited
from service.schemas import BodySchema

blp = Blueprint(
    "points",
    __name__,
    url_prefix="/api/v1/points",
    description="Carbon points (rewards, not claims).",
)
IDEMPOTENCY_KEY_MAX_CHARS = 128


def _rate(value):
    """Decimal rates between 0 and 1000 (a validator of our own: OpenAPI has no decimal ranges)."""
    if not 0 <= value <= 1000:
        raise ValidationError("Must be between 0 and 1000.")


class FormulaSchema(BodySchema):
    kind = fields.String(required=True, validate=validate.OneOf(FORMULA_KINDS))
    points = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))
    points_per_kg = fields.Decimal(as_string=True, allow_nan=False, validate=_rate)
    points_per_100_fen = fields.Decimal(as_string=True, allow_nan=False, validate=_rate)


class RuleCreateSchema(BodySchema):
    event_type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    formula = fields.Nested(FormulaSchema, required=True)
    cap_per_day = fields.Integer(strict=True, validate=validate.Range(min=1), allow_none=True)
    cap_per_month = fields.Integer(strict=True, validate=validate.Range(min=1), allow_none=True)
    validity_days = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=3660)
    )
    valid_from = fields.AwareDateTime()
    valid_until = fields.AwareDateTime(allow_none=True)


class RuleSchema(Schema):
    id = fields.Integer()
    event_type = fields.String()
    version = fields.Integer()
    formula = fields.Dict()
    cap_per_day = fields.Integer(allow_none=True)
    cap_per_month = fields.Integer(allow_none=True)
    validity_days = fields.Integer()
    valid_from = fields.DateTime()
    valid_until = fields.DateTime(allow_none=True)


class ClaimCreateSchema(BodySchema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=10, max=512),
        metadata={"description": "The scanned GS1 Digital Link (URI or path) of one unit."},
    )


class ClaimSchema(Schema):
    id = fields.Integer()
    lot_id = fields.Integer()
    unit_index = fields.Integer()
    points = fields.Integer()
    capped_by = fields.String(allow_none=True)
    created_at = fields.DateTime()


class HistorySchema(Schema):
    kind = fields.String()
    points = fields.Integer()
    at = fields.DateTime()


class SummarySchema(Schema):
    balance = fields.Integer()
    available = fields.Integer()
    lifetime_earned = fields.Integer()
    lifetime_spent = fields.Integer()
    lifetime_expired = fields.Integer()
    expiring_30d = fields.Integer(metadata={"description": "Points whose lots end within 30 days."})
    history = fields.List(fields.Nested(HistorySchema))


@blp.route("/rules")
class Rules(MethodView):
    @blp.arguments(RuleCreateSchema)
    @blp.response(201, RuleSchema)
    @requires("operator")
    def post(self, body: dict):
        """Publish a new version of an event type's rule (operators)."""
        formula = {
            k: (str(v) if not isinstance(v, int | str) else v) for k, v in body["formula"].items()
        }
        return services.rule_publish(
            get_session(),
            event_type=body.pop("event_type"),
            values={**body, "formula": formula},
            user_id=authenticated().user_id,
            now=utcnow(),
        )


def _digital_link(code: str) -> tuple[str, str, str]:
    parts = urlparse(code).path.strip("/").split("/")
    if len(parts) != 6 or parts[0] != "01" or parts[2] != "10" or parts[4] != "21":
        raise ValidationFailed.field("code", "Not a unit's GS1 Digital Link.")
    return parts[1], parts[3], parts[5]


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
        key = request.headers.get("Idempotency-Key", "")
        if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX_CHARS:
            raise ValidationFailed(
                fields={
                    "Idempotency-Key": [f"Required, 1 to {IDEMPOTENCY_KEY_MAX_CHARS} characters."]
                }
            )
        gtin, lot, serial = _digital_link(body["code"])
        user_id = authenticated().user_id
        result = services.claim_unit(
            get_session(),
            user_id=user_id,
            gtin=gtin,
            lot_number=lot,
            serial=serial,
            key=f"user:{user_id}:{key}",
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


@blp.route("/me")
class Mine(MethodView):
    @blp.response(200, SummarySchema)
    @requires()
    def get(self):
        """The caller's points: balance, lifetime earned and spent, expiring soon, history."""
        return services.summary(get_session(), "user", authenticated().user_id, utcnow())


class LiabilitySchema(Schema):
    as_of = fields.DateTime()
    outstanding_by_party_type = fields.Dict(keys=fields.String(), values=fields.Integer())
    outstanding_total = fields.Integer()
    expiry_schedule = fields.List(fields.Dict())
    by_month = fields.List(fields.Dict())


@blp.route("/liability")
class Liability(MethodView):
    @blp.response(200, LiabilitySchema)
    @requires("operator", "auditor")
    def get(self):
        """Points outstanding by party type, their expiry schedule, and points earned, spent and
        expired per month (Asia/Shanghai months)."""
        return services.liability(get_session(), utcnow())
