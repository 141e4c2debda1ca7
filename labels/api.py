"""Products over HTTP, for enterprise staff (their own) and operators (all)."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint

from labels import services
from labels.models import Product
from labels.schemas import (
    ProductCreateSchema,
    ProductQuerySchema,
    ProductSchema,
    ProductUpdateSchema,
)
from service.auth.authz import authenticated, requires
from service.config import PAGE_SIZE_MAX
from service.db import get_session
from service.pagination import paginate

blp = Blueprint(
    "products",
    __name__,
    url_prefix="/api/v1/products",
    description="Enterprises' products, identified by GTIN.",
)
PAGE_SIZE_DEFAULT = 20
STAFF_ROLES = ("enterprise_staff", "operator", "certifier", "auditor")


@blp.route("")
class Products(MethodView):
    @blp.arguments(ProductQuerySchema, location="query")
    @blp.response(200, ProductSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires(*STAFF_ROLES)
    def get(self, query: dict, pagination_parameters):
        """Products the caller may see: their enterprises', or all for platform staff."""
        statement = services.products_visible(authenticated())
        for name in ("organisation_id", "category"):
            if name in query:
                statement = statement.where(getattr(Product, name) == query[name])
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
