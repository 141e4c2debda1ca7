"""Enterprises' products and their footprints over HTTP: enterprise staff see and change their
own, platform staff see all."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from labels import certification, services
from labels.models import (
    DECLARED_UNITS,
    PRODUCT_CATEGORIES,
)
from labels.schemas import (
    ID_MAX,
    PAGE_SIZE_DEFAULT,
    STAFF_ROLES,
    DecimalString,
    FootprintCreateSchema,
    ProductCreateSchema,
    ProductUpdateSchema,
)
from service.auth.authz import authenticated, requires
from service.base.config import PAGE_SIZE_MAX
from service.db import get_session, utcnow
from service.pagination import paginate

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


class ProductQuerySchema(Schema):
    organisation_id = fields.Integer(validate=validate.Range(min=1, max=ID_MAX))
    category = fields.String(validate=validate.OneOf(PRODUCT_CATEGORIES))


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
