"""Point rules over HTTP: operators publish a new version of an event type's rule."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from points import rules
from points.api.common import blp
from points.schemas import RuleCreateSchema
from service.auth.authz import authenticated, requires
from service.db import get_session, utcnow


class RuleSchema(Schema):
    id = fields.Integer()
    event_type = fields.String()
    version = fields.Integer()
    formula = fields.Dict()
    cap_per_day = fields.Integer(allow_none=True)
    cap_per_month = fields.Integer(allow_none=True)
    validity_days = fields.Integer()
    valid_from = fields.DateTime()
    valid_until = fields.DateTime(allow_none=True)


@blp.route("/rules")
class Rules(MethodView):
    @blp.arguments(RuleCreateSchema)
    @blp.response(201, RuleSchema)
    @requires("operator")
    def post(self, body: dict):
        """Publish a new version of an event type's rule (operators)."""
        formula = {
            k: (str(v) if not isinstance(v, int | str) else v) for k, v in body["formula"].items()
        }
        return rules.rule_publish(
            get_session(),
            event_type=body.pop("event_type"),
            values={**body, "formula": formula},
            user_id=authenticated().user_id,
            now=utcnow(),
        )
