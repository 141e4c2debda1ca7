"""Request and response bodies for products."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from labels.models import (
    BOUNDARIES,
    DECLARED_UNITS,
    FOOTPRINT_METHODS,
    GWP_SET_NAMES,
    LABEL_SCHEMES,
    LABEL_STATUSES,
    PRODUCT_CATEGORIES,
)
from labels.services import NET_CONTENT_MAX_G
from service.schemas import BodySchema

NAME_MAX_LENGTH_CHARS = 128


class ProductSchema(Schema):
    id = fields.Integer(dump_only=True)
    organisation_id = fields.Integer(dump_only=True)
    gtin = fields.String(metadata={"description": "GTIN-14 (GTIN-8/12/13 are zero-padded)."})
    name = fields.String()
    name_en = fields.String()
    category = fields.String(validate=validate.OneOf(PRODUCT_CATEGORIES))
    declared_unit = fields.String(validate=validate.OneOf(DECLARED_UNITS))
    net_content_g = fields.Integer(metadata={"description": "Net content of one unit, grams."})
    created_at = fields.DateTime(dump_only=True)


class ProductUpdateSchema(BodySchema):
    gtin = fields.String(validate=validate.Length(min=8, max=20))
    name = fields.String(validate=validate.Length(min=1, max=NAME_MAX_LENGTH_CHARS))
    name_en = fields.String(validate=validate.Length(max=NAME_MAX_LENGTH_CHARS))
    category = fields.String(validate=validate.OneOf(PRODUCT_CATEGORIES))
    declared_unit = fields.String(validate=validate.OneOf(DECLARED_UNITS))
    net_content_g = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=NET_CONTENT_MAX_G)
    )


class ProductCreateSchema(ProductUpdateSchema):
    organisation_id = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=2**31 - 1)
    )
    gtin = fields.String(required=True, validate=validate.Length(min=8, max=20))
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX_LENGTH_CHARS))
    category = fields.String(required=True, validate=validate.OneOf(PRODUCT_CATEGORIES))
    declared_unit = fields.String(required=True, validate=validate.OneOf(DECLARED_UNITS))
    net_content_g = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=NET_CONTENT_MAX_G)
    )


class ProductQuerySchema(Schema):
    organisation_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    category = fields.String(validate=validate.OneOf(PRODUCT_CATEGORIES))


def _positive(value):
    if value <= 0:
        raise ValidationError("Must be greater than 0.")


def _non_negative(value):
    if value < 0:
        raise ValidationError("Must be greater than or equal to 0.")


def _entries(low: int, high: int):
    def check(value):
        if not low <= len(value) <= high:
            raise ValidationError(f"Length must be between {low} and {high}.")

    return check


class DecimalString(fields.Decimal):
    """A decimal given as a JSON string or number, rendered as a string (exact)."""

    def __init__(self, **kwargs):
        super().__init__(places=4, as_string=True, allow_nan=False, **kwargs)


class ReportSchema(BodySchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    issued_on = fields.Date(required=True)


class FootprintCreateSchema(BodySchema):
    method = fields.String(required=True, validate=validate.OneOf(FOOTPRINT_METHODS))
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    # declared
    kg_per_unit = DecimalString(validate=_positive)
    low_kg_per_unit = DecimalString(validate=_non_negative)
    high_kg_per_unit = DecimalString(validate=_non_negative)
    boundary = fields.String(validate=validate.OneOf(BOUNDARIES))
    gwp_set = fields.String(validate=validate.OneOf(GWP_SET_NAMES))
    breakdown = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=40)),
        values=DecimalString(validate=_non_negative),
        validate=_entries(1, 20),
    )
    data_quality = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=40)),
        values=fields.Raw(),
        validate=_entries(0, 20),
    )
    verifier = fields.String(validate=validate.Length(min=1, max=200))
    report = fields.Nested(ReportSchema)
    # computed
    activity = fields.Dict(
        keys=fields.String(validate=validate.Length(max=40)),
        values=fields.Raw(),
        metadata={"description": "Farm and mill activity data for the rice calculator."},
    )

    @validates_schema
    def _method_fields(self, data, **_kwargs):
        if data["method"] == "declared":
            required = ("kg_per_unit", "boundary", "gwp_set", "breakdown", "verifier", "report")
            missing = {
                name: ["Missing data for required field."]
                for name in (*required, "data_quality")
                if name not in data
            }
            if missing:
                raise ValidationError(missing)
        elif "activity" not in data:
            raise ValidationError({"activity": ["Missing data for required field."]})


class FootprintSchema(Schema):
    id = fields.Integer()
    product_id = fields.Integer()
    method = fields.String()
    kg_per_unit = DecimalString()
    kg_per_kg = DecimalString()
    low_kg_per_unit = DecimalString()
    high_kg_per_unit = DecimalString()
    declared_unit = fields.String()
    boundary = fields.String()
    gwp_set = fields.String()
    period_start = fields.Date()
    period_end = fields.Date()
    breakdown = fields.Dict(keys=fields.String(), values=fields.String())
    data_quality = fields.Dict()
    verifier = fields.String()
    report = fields.Dict()
    calculation = fields.Dict()
    created_at = fields.DateTime()


class BenchmarkCreateSchema(BodySchema):
    category = fields.String(required=True, validate=validate.OneOf(PRODUCT_CATEGORIES))
    kg_per_kg = DecimalString(required=True, validate=_positive)
    source = fields.String(required=True, validate=validate.Length(min=1, max=500))
    valid_from = fields.Date(required=True)


class BenchmarkSchema(Schema):
    id = fields.Integer()
    category = fields.String()
    kg_per_kg = DecimalString()
    source = fields.String()
    valid_from = fields.Date()


class LabelCreateSchema(BodySchema):
    product_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    footprint_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    scheme = fields.String(required=True, validate=validate.OneOf(LABEL_SCHEMES))


class TransitionCreateSchema(BodySchema):
    to_status = fields.String(required=True, validate=validate.OneOf(LABEL_STATUSES))
    reason = fields.String(load_default="", validate=validate.Length(max=500))
    valid_until = fields.Date()


class TransitionSchema(Schema):
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    actor_id = fields.Integer(allow_none=True)
    reason = fields.String()
    created_at = fields.DateTime()


class WordingSchema(Schema):
    zh = fields.String(data_key="zh-CN")
    en = fields.String()


class LabelSchema(Schema):
    id = fields.Integer()
    product_id = fields.Integer()
    footprint_id = fields.Integer()
    scheme = fields.String()
    status = fields.String()
    certificate_number = fields.String(allow_none=True)
    valid_from = fields.Date(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    reason = fields.String()
    benchmark_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class LabelDetailSchema(LabelSchema):
    footprint = fields.Nested(FootprintSchema)
    transitions = fields.List(fields.Nested(TransitionSchema))
    wording = fields.Nested(WordingSchema, allow_none=True)


class LabelQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(LABEL_STATUSES))
    product_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))


class QuoteQuerySchema(Schema):
    label_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    units = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000_000))


class QuoteSchema(Schema):
    units = fields.Integer()
    grams_per_unit = fields.Integer(metadata={"description": "Retired credits per unit, grams."})
    grams_required = fields.Integer()
    price_per_tonne_fen = fields.Integer()
    service_fee_fen = fields.Integer()
    amount_fen = fields.Integer()


class LotCreateSchema(BodySchema):
    label_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    lot_number = fields.String(required=True, validate=validate.Length(min=1, max=20))
    units = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=10_000_000)
    )


class LotSchema(QuoteSchema):
    id = fields.Integer()
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
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class RevocationSchema(Schema):
    id = fields.Integer()
    lot_id = fields.Integer()
    index_start = fields.Integer()
    index_end = fields.Integer()
    reason = fields.String()
    created_at = fields.DateTime()
