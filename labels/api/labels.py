"""Label applications, certification and category benchmarks over HTTP: enterprise staff apply,
certifiers decide, operators set benchmarks."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from labels import certification, services
from labels.api.products import FootprintSchema
from labels.models import LABEL_STATUSES, PRODUCT_CATEGORIES
from labels.schemas import (
    ID_MAX,
    PAGE_SIZE_DEFAULT,
    STAFF_ROLES,
    DecimalString,
    LabelCreateSchema,
    positive,
)
from service.auth.authz import authenticated, requires
from service.base.config import PAGE_SIZE_MAX
from service.base.schemas import BodySchema
from service.db import get_session, utcnow
from service.pagination import paginate

blp = Blueprint(
    "labels",
    __name__,
    url_prefix="/api/v1/labels",
    description="Label applications, certification and category benchmarks.",
)


# -- schemas --------------------------------------------------------------------------------------
class BenchmarkCreateSchema(BodySchema):
    category = fields.String(required=True, validate=validate.OneOf(PRODUCT_CATEGORIES))
    kg_per_kg = DecimalString(required=True, validate=positive)
    source = fields.String(required=True, validate=validate.Length(min=1, max=500))
    valid_from = fields.Date(required=True)


class BenchmarkSchema(Schema):
    id = fields.Integer()
    category = fields.String()
    kg_per_kg = DecimalString()
    source = fields.String()
    valid_from = fields.Date()


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
    markets = fields.List(fields.String())
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
    product_id = fields.Integer(validate=validate.Range(min=1, max=ID_MAX))


# -- views ----------------------------------------------------------------------------------------
@blp.route("/benchmarks")
class Benchmarks(MethodView):
    @blp.response(200, BenchmarkSchema(many=True))
    @requires(*STAFF_ROLES)
    def get(self):
        """Low-carbon benchmarks per category, with their sources."""
        return certification.benchmarks_all(get_session())

    @blp.arguments(BenchmarkCreateSchema)
    @blp.response(201, BenchmarkSchema)
    @requires("operator")
    def post(self, body: dict):
        """Set a category's benchmark from a date on (operators)."""
        return certification.benchmark_set(
            get_session(), user_id=authenticated().user_id, now=utcnow(), **body
        )


@blp.route("")
class Labels(MethodView):
    @blp.arguments(LabelQuerySchema, location="query")
    @blp.response(200, LabelSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires(*STAFF_ROLES)
    def get(self, query: dict, pagination_parameters):
        """Label applications: the caller's enterprises', or all for platform staff."""
        statement = certification.labels_visible(authenticated(), **query)
        return paginate(get_session(), statement, pagination_parameters)

    @blp.arguments(LabelCreateSchema)
    @blp.response(201, LabelDetailSchema)
    @requires("enterprise_staff", "operator")
    def post(self, body: dict):
        """Apply for a label scheme on one of a product's footprints."""
        session = get_session()
        principal = authenticated()
        product = services.product_for_reader(session, principal, body["product_id"])
        label = certification.label_apply(
            session,
            principal=principal,
            product=product,
            footprint_id=body["footprint_id"],
            scheme=body["scheme"],
            markets=body["markets"],
            now=utcnow(),
        )
        return certification.label_detail(session, label)


@blp.route("/<id:label_id>")
class LabelItem(MethodView):
    @blp.response(200, LabelDetailSchema)
    @requires(*STAFF_ROLES)
    def get(self, label_id: int):
        """A label with its footprint in full, every transition and its wording."""
        session = get_session()
        label = certification.label_for_reader(session, authenticated(), label_id)
        return certification.label_detail(session, label)


@blp.route("/<id:label_id>/transitions")
class LabelTransitions(MethodView):
    @blp.arguments(TransitionCreateSchema)
    @blp.response(200, LabelDetailSchema)
    @requires("certifier")
    def post(self, body: dict, label_id: int):
        """Move a label along the workflow (certifiers): review, certify (with ``valid_until``),
        reject, suspend, reinstate or revoke; rejecting, suspending and revoking need a reason."""
        session = get_session()
        principal = authenticated()
        label = certification.label_for_reader(session, principal, label_id)
        certification.label_transition(
            session,
            label=label,
            to_status=body["to_status"],
            actor=principal,
            reason=body["reason"],
            valid_until=body.get("valid_until"),
            now=utcnow(),
        )
        return certification.label_detail(session, label)
