"""Farm practice records over HTTP: farms record a season's practice; operators decide."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate

from points import practices
from points.api.common import PAGE_SIZE_DEFAULT, StatusQuerySchema, blp
from points.formulas import AREA_MU_MAX
from points.models import PRACTICES
from points.schemas import NOTE_MAX_CHARS
from service.auth.authz import authenticated, requires
from service.base.config import PAGE_SIZE_MAX
from service.base.exceptions import FieldMessage
from service.base.schemas import BodySchema
from service.db import get_session, utcnow
from service.pagination import paginate


def _area(value):
    if not value.is_finite() or not 0 < value <= AREA_MU_MAX:
        raise ValidationError(
            FieldMessage("Must be more than 0 and at most {area_mu_max}.", area_mu_max=AREA_MU_MAX)
        )


class PracticeCreateSchema(BodySchema):
    organisation_id = fields.Integer(required=True, strict=True)
    practice = fields.String(required=True, validate=validate.OneOf(PRACTICES))
    season_year = fields.Integer(required=True, strict=True)
    plot_ref = fields.String(required=True, validate=validate.Length(min=1, max=64))
    area_mu = fields.Decimal(required=True, as_string=True, allow_nan=False, validate=_area)
    inputs = fields.Dict(
        required=True,
        metadata={
            "description": "intermittent_irrigation: cultivation_days, project_regime "
            "(single_drainage, multiple_drainage), baseline_regime, pre_season, straw_t_per_ha, "
            "synthetic_n_kg_per_ha, gwp_set. straw_handling: cultivation_days, straw_t_per_ha, "
            "project (straw_early, removed), water_regime, pre_season, gwp_set. nitrogen_rate: "
            "baseline_n_kg_per_ha, project_n_kg_per_ha, water_regime, gwp_set."
        },
    )
    evidence = fields.String(load_default="", validate=validate.Length(max=1000))


class PracticeSchema(Schema):
    id = fields.Integer()
    organisation_id = fields.Integer()
    practice = fields.String()
    season_year = fields.Integer()
    plot_ref = fields.String()
    area_mu = fields.Decimal(as_string=True)
    inputs = fields.Dict()
    reduction_kg_co2e = fields.Decimal(
        as_string=True, metadata={"description": "Information only: never a carbon claim."}
    )
    basis = fields.Dict()
    status = fields.String()
    points = fields.Integer()
    evidence = fields.String()
    submitted_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String()


class DecisionSchema(BodySchema):
    decision = fields.String(required=True, validate=validate.OneOf(("verified", "rejected")))
    note = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX_CHARS))


@blp.route("/practices")
class Practices(MethodView):
    @blp.arguments(StatusQuerySchema, location="query")
    @blp.response(200, PracticeSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires("farm_staff", "operator", "auditor")
    def get(self, query: dict, pagination_parameters):
        """Practice records: the caller's farms', or all for operators and auditors."""
        statement = practices.practices_visible(authenticated(), query.get("status"))
        return paginate(get_session(), statement, pagination_parameters)

    @blp.arguments(PracticeCreateSchema)
    @blp.response(201, PracticeSchema)
    @requires("farm_staff")
    def post(self, body: dict):
        """Record a season's low-carbon practice on a plot. The reduction shown is computed with
        the IPCC rice formulas as information only; points follow an operator's verification."""
        organisation_id = body.pop("organisation_id")
        return practices.practice_submit(
            get_session(),
            principal=authenticated(),
            organisation_id=organisation_id,
            values=body,
            now=utcnow(),
        )


@blp.route("/practices/<int:record_id>/decision")
class PracticeDecision(MethodView):
    @blp.arguments(DecisionSchema)
    @blp.response(200, PracticeSchema)
    @requires("operator")
    def post(self, body: dict, record_id: int):
        """Verify (the farm earns points by the farm_practice rule) or reject a record."""
        return practices.practice_decide(
            get_session(),
            record_id=record_id,
            decision=body["decision"],
            note=body["note"],
            user_id=authenticated().user_id,
            now=utcnow(),
        )
