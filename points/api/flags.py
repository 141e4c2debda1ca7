"""Flags over HTTP: suspicious claim patterns for operators, and their resolution."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from points import flags
from points.api.common import PAGE_SIZE_DEFAULT, StatusQuerySchema, blp
from points.schemas import NOTE_MAX_CHARS
from service.auth.authz import authenticated, requires
from service.base.config import PAGE_SIZE_MAX
from service.base.schemas import BodySchema
from service.db import get_session, utcnow
from service.pagination import paginate


class FlagSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    user_id = fields.Integer()
    day = fields.String()
    details = fields.Dict()
    status = fields.String()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    resolution_note = fields.String()


class FlagResolutionSchema(BodySchema):
    status = fields.String(required=True, validate=validate.OneOf(("dismissed", "confirmed")))
    note = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX_CHARS))


@blp.route("/flags")
class Flags(MethodView):
    @blp.arguments(StatusQuerySchema, location="query")
    @blp.response(200, FlagSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires("operator", "auditor")
    def get(self, query: dict, pagination_parameters):
        """Suspicious claim patterns for operators: many provinces in a day, bursts of claims."""
        statement = flags.flags_query(query.get("status"))
        rows = paginate(get_session(), statement, pagination_parameters)
        return [flags.flag_view(flag) for flag in rows]


@blp.route("/flags/<int:flag_id>/resolution")
class FlagResolution(MethodView):
    @blp.arguments(FlagResolutionSchema)
    @blp.response(200, FlagSchema)
    @requires("operator")
    def post(self, body: dict, flag_id: int):
        """Close a flag: dismissed (nothing wrong) or confirmed (abuse)."""
        flag = flags.flag_resolve(
            get_session(),
            flag_id=flag_id,
            status=body["status"],
            note=body["note"],
            user_id=authenticated().user_id,
            now=utcnow(),
        )
        return flags.flag_view(flag)
