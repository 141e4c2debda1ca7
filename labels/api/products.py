"""Enterprises' products and their footprints over HTTP: enterprise staff see and change their
own, platform staff see all."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from labels import certification, services
from labels.api.common import (
    ID_MAX,
    PAGE_SIZE_DEFAULT,
    STAFF_ROLES,
    DecimalString,
    entries,
    non_negative,
    positive,
)
from labels.models import (
    BOUNDARIES,
    DECLARED_UNITS,
    FOOTPRINT_METHODS,
    GWP_SET_NAMES,
    PRODUCT_CATEGORIES,
)
from labels.services import NET_CONTENT_MAX_G
from service.auth.authz import authenticated, requires
from service.base.config import PAGE_SIZE_MAX
from service.db import get_session, utcnow
from service.pagination import paginate
from service.schemas import BodySchema

NAME_MAX_LENGTH_CHARS = 128

blp = Blueprint(
    "products",
    __name__,
    url_prefix="/api/v1/products",
    description="Enterprises' products, identified by GTIN.",
)


# -- schemas --------------------------------------------------------------------------------------
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
        required=True, strict=True, validate=validate.Range(min=1, max=ID_MAX)
    )
    gtin = fields.String(required=True, validate=validate.Length(min=8, max=20))
    name = fields.String(required=True, validate=validate.Length(min=1, max=NAME_MAX_LENGTH_CHARS))
    category = fields.String(required=True, validate=validate.OneOf(PRODUCT_CATEGORIES))
    declared_unit = fields.String(required=True, validate=validate.OneOf(DECLARED_UNITS))
    net_content_g = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=NET_CONTENT_MAX_G)
    )


class ProductQuerySchema(Schema):
    organisation_id = fields.Integer(validate=validate.Range(min=1, max=ID_MAX))
    category = fields.String(validate=validate.OneOf(PRODUCT_CATEGORIES))


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


# -- views ----------------------------------------------------------------------------------------
@blp.route("")
class Products(MethodView):
    @blp.arguments(ProductQuerySchema, location="query")
    @blp.response(200, ProductSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires(*STAFF_ROLES)
    def get(self, query: dict, pagination_parameters):
        """Products the caller may see: their enterprises', or all for platform staff."""
        statement = services.products_visible(authenticated(), **query)
        return paginate(get_session(), statement, pagination_parameters)

    @blp.arguments(ProductCreateSchema)
    @blp.response(201, ProductSchema)
    @requires("enterprise_staff", "operator")
    def post(self, body: dict):
        """Register a product. The GTIN is checked and stored as GTIN-14; it must be unique."""
        organisation_id = body.pop("organisation_id")
        return services.product_create(
            get_session(), principal=authenticated(), organisation_id=organisation_id, values=body
        )


@blp.route("/<id:product_id>")
class ProductItem(MethodView):
    @blp.response(200, ProductSchema)
    @requires(*STAFF_ROLES)
    def get(self, product_id: int):
        """One product, if the caller may see it."""
        return services.product_for_reader(get_session(), authenticated(), product_id)

    @blp.arguments(ProductUpdateSchema)
    @blp.response(200, ProductSchema)
    @requires("enterprise_staff", "operator")
    def patch(self, changes: dict, product_id: int):
        """Change a product's details."""
        session = get_session()
        principal = authenticated()
        product = services.product_for_reader(session, principal, product_id)
        return services.product_update(
            session, principal=principal, product=product, changes=changes
        )


@blp.route("/<id:product_id>/footprints")
class ProductFootprints(MethodView):
    @blp.response(200, FootprintSchema(many=True))
    @requires(*STAFF_ROLES)
    def get(self, product_id: int):
        """The product's footprints, newest first."""
        session = get_session()
        product = services.product_for_reader(session, authenticated(), product_id)
        return certification.footprints_of(session, product)

    @blp.arguments(FootprintCreateSchema)
    @blp.response(201, FootprintSchema)
    @requires("enterprise_staff", "operator")
    def post(self, body: dict, product_id: int):
        """Add a footprint: ``declared`` from a verifier's report, or ``computed`` by the rice
        calculator from ``activity`` (farm and mill data; see ``labels.formulas``)."""
        session = get_session()
        principal = authenticated()
        product = services.product_for_reader(session, principal, product_id)
        return certification.footprint_record(
            session, principal=principal, product=product, values=body, now=utcnow()
        )
