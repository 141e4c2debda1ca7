"""The catalogue over HTTP: items on offer (public); operators put items in and change them."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from points import redemption
from points.api.common import blp
from points.models import AUDIENCES
from points.schemas import ItemCreateSchema, ItemUpdateSchema
from service.auth.authz import requires
from service.db import get_session, utcnow


class ItemSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String()
    description = fields.String()
    audience = fields.String()
    kind = fields.String()
    price_points = fields.Integer()
    stock_total = fields.Integer()
    stock_available = fields.Integer()
    per_party_limit = fields.Integer(allow_none=True)
    offset_g_per_unit = fields.Integer(allow_none=True)
    active = fields.Boolean()


class CatalogueQuerySchema(Schema):
    audience = fields.String(validate=validate.OneOf(AUDIENCES))


@blp.route("/catalogue")
class Catalogue(MethodView):
    @blp.arguments(CatalogueQuerySchema, location="query")
    @blp.response(200, ItemSchema(many=True))
    def get(self, query: dict):
        """Items on offer (public), for one audience when asked."""
        return redemption.items_for(get_session(), query.get("audience"))

    @blp.arguments(ItemCreateSchema)
    @blp.response(201, ItemSchema)
    @requires("operator")
    def post(self, body: dict):
        """Put an item in the catalogue."""
        return redemption.item_create(get_session(), values=body, now=utcnow())


@blp.route("/catalogue/<int:item_id>")
class CatalogueItemView(MethodView):
    @blp.arguments(ItemUpdateSchema)
    @blp.response(200, ItemSchema)
    @requires("operator")
    def patch(self, body: dict, item_id: int):
        """Change an item's terms or add stock (orders placed keep their terms)."""
        return redemption.item_update(get_session(), item_id=item_id, values=body, now=utcnow())
