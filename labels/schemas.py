"""The request bodies both faces of labels read, and what the API's resource modules share.

The API (``labels.api``) and the enterprise desk's pages (``admin``) load the same forms with the
same rules, so each is written once, here: products, footprints, label applications and lot
orders; with who counts as staff, page sizes, row ids, and the exact decimal fields footprints
and benchmarks are written in.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from labels import lots
from labels.markets import MARKET_CODE_MAX_CHARS, MARKETS_MAX_COUNT
from labels.models import (
    BOUNDARIES,
    DECLARED_UNITS,
    FOOTPRINT_METHODS,
    GWP_SET_NAMES,
    LABEL_SCHEMES,
    PRODUCT_CATEGORIES,
)
from labels.services import NET_CONTENT_MAX_G
from service.base.exceptions import FieldMessage
from service.base.schemas import BodySchema

NAME_MAX_LENGTH_CHARS = 128

PAGE_SIZE_DEFAULT = 20
STAFF_ROLES = ("enterprise_staff", "operator", "certifier", "auditor")
#: Row ids are 32-bit integers.
ID_MAX = 2**31 - 1


def positive(value: Any) -> None:
    if value <= 0:
        raise ValidationError("Must be greater than 0.")


def non_negative(value: Any) -> None:
    if value < 0:
        raise ValidationError("Must be greater than or equal to 0.")


def entries(low: int, high: int) -> Callable[[Sized], None]:
    """A validator for a mapping of ``low`` to ``high`` entries."""

    def check(value: Sized) -> None:
        if not low <= len(value) <= high:
            raise ValidationError(
                FieldMessage("Length must be between {low} and {high}.", low=low, high=high)
            )

    return check


class DecimalString(fields.Decimal):
    """A decimal given as a JSON string or number, rendered as a string (exact)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(places=4, as_string=True, allow_nan=False, **kwargs)


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
        required=True, strict=True, validate=validate.Range(min=1, max=ID_MAX)
    )
    gtin = fields.String(required=True, validate=validate.Length(min=8, max=20))
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX_LENGTH_CHARS))
    category = fields.String(required=True, validate=validate.OneOf(PRODUCT_CATEGORIES))
    declared_unit = fields.String(required=True, validate=validate.OneOf(DECLARED_UNITS))
    net_content_g = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=NET_CONTENT_MAX_G)
    )


class ReportSchema(BodySchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    issued_on = fields.Date(required=True)


class FootprintCreateSchema(BodySchema):
    method = fields.String(required=True, validate=validate.OneOf(FOOTPRINT_METHODS))
    period_start = fields.Date(required=True)
    period_end = fields.Date(required=True)
    # declared
    kg_per_unit = DecimalString(validate=positive)
    low_kg_per_unit = DecimalString(validate=non_negative)
    high_kg_per_unit = DecimalString(validate=non_negative)
    boundary = fields.String(validate=validate.OneOf(BOUNDARIES))
    gwp_set = fields.String(validate=validate.OneOf(GWP_SET_NAMES))
    breakdown = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=40)),
        values=DecimalString(validate=non_negative),
        validate=entries(1, 20),
    )
    data_quality = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=40)),
        values=fields.Raw(),
        validate=entries(0, 20),
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
            # The message by field, as above (a literal key would be extracted as a word).
            missing = {name: ["Missing data for required field."] for name in ("activity",)}
            raise ValidationError(missing)


class LabelCreateSchema(BodySchema):
    product_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    footprint_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    scheme = fields.String(required=True, validate=validate.OneOf(LABEL_SCHEMES))
    markets = fields.List(
        fields.String(validate=validate.Length(min=1, max=MARKET_CODE_MAX_CHARS)),
        required=True,
        validate=validate.Length(min=1, max=MARKETS_MAX_COUNT),
        metadata={
            "description": "Where the product is sold: ISO 3166-1 alpha-2 codes (CN is mainland "
            "China), or EU for the European Union as a whole."
        },
    )


class LotCreateSchema(BodySchema):
    label_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    lot_number = fields.String(
        required=True, validate=validate.Length(min=1, max=lots.LOT_NUMBER_MAX_CHARS)
    )
    units = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=lots.UNITS_MAX)
    )
