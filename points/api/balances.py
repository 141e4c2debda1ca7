"""What parties hold over HTTP: a consumer's points, an organisation's, and the platform's
liability."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from points import selectors
from points.api.common import blp
from service.auth.authz import authenticated, requires
from service.base.exceptions import NotFound
from service.db import get_session, utcnow


class HistorySchema(Schema):
    kind = fields.String()
    points = fields.Integer()
    at = fields.DateTime()


class SummarySchema(Schema):
    balance = fields.Integer()
    available = fields.Integer()
    lifetime_earned = fields.Integer()
    lifetime_spent = fields.Integer()
    lifetime_expired = fields.Integer()
    expiring_30d = fields.Integer(metadata={"description": "Points whose lots end within 30 days."})
    history = fields.List(fields.Nested(HistorySchema))


@blp.route("/me")
class Mine(MethodView):
    @blp.response(200, SummarySchema)
    @requires()
    def get(self):
        """The caller's points: balance, lifetime earned and spent, expiring soon, history."""
        return selectors.summary(get_session(), "user", authenticated().user_id, utcnow())


class LiabilitySchema(Schema):
    as_of = fields.DateTime()
    outstanding_by_party_type = fields.Dict(keys=fields.String(), values=fields.Integer())
    outstanding_total = fields.Integer()
    expiry_schedule = fields.List(fields.Dict())
    by_month = fields.List(fields.Dict())


@blp.route("/liability")
class Liability(MethodView):
    @blp.response(200, LiabilitySchema)
    @requires("operator", "auditor")
    def get(self):
        """Points outstanding by party type, their expiry schedule, and points earned, spent and
        expired per month (Asia/Shanghai months)."""
        return selectors.liability(get_session(), utcnow())


@blp.route("/organisations/<int:organisation_id>")
class OrganisationPoints(MethodView):
    @blp.response(200, SummarySchema)
    @requires()
    def get(self, organisation_id: int):
        """An enterprise's or farm's points (its staff, operators and auditors)."""
        principal = authenticated()
        if not (
            principal.has_any_role(("operator", "auditor"))
            or organisation_id in principal.organisation_ids("enterprise_staff", "farm_staff")
        ):
            raise NotFound()
        return selectors.summary(get_session(), "organisation", organisation_id, utcnow())
