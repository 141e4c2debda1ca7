"""Request and response bodies for products."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from labels.models import DECLARED_UNITS, PRODUCT_CATEGORIES
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
