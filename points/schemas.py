"""The request bodies both faces of points read: the API (``points.api``) and the console and
reader pages (``admin``) load the same forms with the same rules, so each is written once, here."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import ValidationError, fields, validate

from points.models import AUDIENCES, EVENT_TYPES, FORMULA_KINDS, ITEM_KINDS, PAYOUT_METHODS
from points.redemption import ORDER_QUANTITY_MAX
from service.base.schemas import BodySchema

NOTE_MAX_CHARS = 500


def _rate(value: Decimal) -> None:
    """Decimal rates between 0 and 1000 (a validator of our own: OpenAPI has no decimal ranges)."""
    if not 0 <= value <= 1000:
        raise ValidationError("Must be between 0 and 1000.")


class FormulaSchema(BodySchema):
    kind = fields.String(required=True, validate=validate.OneOf(FORMULA_KINDS))
    points = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))
    points_per_kg = fields.Decimal(as_string=True, allow_nan=False, validate=_rate)
    points_per_100_fen = fields.Decimal(as_string=True, allow_nan=False, validate=_rate)
    points_per_mu = fields.Decimal(as_string=True, allow_nan=False, validate=_rate)


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


class ClaimCreateSchema(BodySchema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=10, max=512),
        metadata={"description": "The scanned GS1 Digital Link (URI or path) of one unit."},
    )
    region = fields.String(
        validate=validate.Regexp(r"^\d{6}$"),
        metadata={"description": "The claimant's GB/T 2260 region code, when the client knows it."},
    )


class ItemCreateSchema(BodySchema):
    code = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="1 to 32 letters, "
                                                 "digits, - or _.")
    )  # fmt: skip
    name_zh = fields.String(required=True, validate=validate.Length(min=1, max=128))
    name_en = fields.String(required=True, validate=validate.Length(min=1, max=128))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    audience = fields.String(required=True, validate=validate.OneOf(AUDIENCES))
    kind = fields.String(required=True, validate=validate.OneOf(ITEM_KINDS))
    price_points = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=10_000_000)
    )
    stock = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**9))
    per_party_limit = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=10_000), allow_none=True
    )
    offset_g_per_unit = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=10_000_000),
        allow_none=True,
        metadata={"description": "Grams of retired credits one unit offsets (personal offsets)."},
    )
    active = fields.Boolean(load_default=True)


class ItemUpdateSchema(BodySchema):
    name_zh = fields.String(validate=validate.Length(min=1, max=128))
    name_en = fields.String(validate=validate.Length(min=1, max=128))
    description = fields.String(validate=validate.Length(max=1000))
    price_points = fields.Integer(strict=True, validate=validate.Range(min=1, max=10_000_000))
    stock_added = fields.Integer(strict=True, validate=validate.Range(min=1, max=10**9))
    per_party_limit = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=10_000), allow_none=True
    )
    active = fields.Boolean()


class OrderCreateSchema(BodySchema):
    item_id = fields.Integer(required=True, strict=True)
    quantity = fields.Integer(
        load_default=1, strict=True, validate=validate.Range(min=1, max=ORDER_QUANTITY_MAX)
    )
    organisation_id = fields.Integer(
        strict=True,
        allow_none=True,
        metadata={"description": "Order for this enterprise or farm (its staff); else yourself."},
    )
    holder_name = fields.String(
        load_default="",
        validate=validate.Length(max=64),
        metadata={"description": "The name a personal offset's certificate is made out to."},
    )


class PayoutDecisionSchema(BodySchema):
    decision = fields.String(required=True, validate=validate.OneOf(("approved", "rejected")))
    note = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX_CHARS))


class ExportCreateSchema(BodySchema):
    method = fields.String(required=True, validate=validate.OneOf(PAYOUT_METHODS))
