"""Points over HTTP: a consumer claims scanned units and sees their points; operators publish
rules."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate

from labels.resolver import json_ready
from points import flags, payouts, practices, redemption, services
from points.formulas import AREA_MU_MAX
from points.models import (
    AUDIENCES,
    EVENT_TYPES,
    FORMULA_KINDS,
    ITEM_KINDS,
    OWNER_TYPES,
    PAYOUT_METHODS,
    PRACTICES,
    PayoutExport,
)
from points.redemption import ORDER_QUANTITY_MAX
from points.services import GRANT_POINTS_MAX
from service.auth.authz import authenticated, requires
from service.base.config import PAGE_SIZE_MAX
from service.base.exceptions import NotFound, ValidationFailed
from service.db import get_session, utcnow
from service.extensions import rate_limited
from service.pagination import paginate
from service.schemas import BodySchema

blp = Blueprint(
    "points",
    __name__,
    url_prefix="/api/v1/points",
    description="Carbon points (rewards, not claims).",
)
IDEMPOTENCY_KEY_MAX_CHARS = 128
PAGE_SIZE_DEFAULT = 20


def _rate(value):
    """Decimal rates between 0 and 1000 (a validator of our own: OpenAPI has no decimal ranges)."""
    if not 0 <= value <= 1000:
        raise ValidationError("Must be between 0 and 1000.")


class FormulaSchema(BodySchema):
    kind = fields.String(required=True, validate=validate.OneOf(FORMULA_KINDS))
    points = fields.Integer(strict=True, validate=validate.Range(min=0, max=100_000))
    points_per_kg = fields.Decimal(as_string=True, allow_nan=False, validate=_rate)
    points_per_100_fen = fields.Decimal(as_string=True, allow_nan=False, validate=_rate)
    points_per_mu = fields.Decimal(as_string=True, allow_nan=False, validate=_rate)


class RuleCreateSchema(BodySchema):
    event_type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    formula = fields.Nested(FormulaSchema, required=True)
    cap_per_day = fields.Integer(strict=True, validate=validate.Range(min=1), allow_none=True)
    cap_per_month = fields.Integer(strict=True, validate=validate.Range(min=1), allow_none=True)
    validity_days = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=3660)
    )
    valid_from = fields.AwareDateTime()
    valid_until = fields.AwareDateTime(allow_none=True)


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


class ClaimCreateSchema(BodySchema):
    code = fields.String(
        required=True,
        validate=validate.Length(min=10, max=512),
        metadata={"description": "The scanned GS1 Digital Link (URI or path) of one unit."},
    )
    region = fields.String(
        validate=validate.Regexp(r"^\d{6}$"),
        metadata={"description": "The claimant's GB/T 2260 region code, when the client knows it."},
    )


class ClaimSchema(Schema):
    id = fields.Integer()
    lot_id = fields.Integer()
    unit_index = fields.Integer()
    points = fields.Integer()
    capped_by = fields.String(allow_none=True)
    created_at = fields.DateTime()


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
        return services.rule_publish(
            get_session(),
            event_type=body.pop("event_type"),
            values={**body, "formula": formula},
            user_id=authenticated().user_id,
            now=utcnow(),
        )


def unit_link_parts(code: str) -> tuple[str, str, str]:
    """The GTIN, lot and serial of a unit's GS1 Digital Link (a URI or its path)."""
    parts = urlparse(code).path.strip("/").split("/")
    if len(parts) != 6 or parts[0] != "01" or parts[2] != "10" or parts[4] != "21":
        raise ValidationFailed.field("code", "Not a unit's GS1 Digital Link.")
    return parts[1], parts[3], parts[5]


@blp.route("/claims")
class Claims(MethodView):
    decorators = [
        rate_limited("RATELIMIT_CLAIMS"),
        rate_limited("RATELIMIT_CLAIMS_PER_USER", per="user"),
        rate_limited("RATELIMIT_CLAIMS_PER_DEVICE", per="device"),
    ]

    @blp.arguments(ClaimCreateSchema)
    @blp.response(201, ClaimSchema)
    @blp.alt_response(200, schema=ClaimSchema, description="The same Idempotency-Key again.")
    @requires("consumer")
    def post(self, body: dict):
        """Claim a scanned unit: once per unit, ever. Send an ``Idempotency-Key`` header; a retry
        with it returns the original claim."""
        key = _idempotency_key()
        gtin, lot, serial = unit_link_parts(body["code"])
        user_id = authenticated().user_id
        result = services.claim_unit(
            get_session(),
            user_id=user_id,
            gtin=gtin,
            lot_number=lot,
            serial=serial,
            key=f"user:{user_id}:{key}",
            region_code=body.get("region"),
            master_keys=current_app.config["UNIT_CODE_MASTER_KEYS"],
            now=utcnow(),
        )
        claim = result.claim
        payload = {
            "id": claim.id,
            "lot_id": claim.lot_id,
            "unit_index": claim.unit_index,
            "points": claim.points,
            "capped_by": result.capped_by,
            "created_at": claim.created_at,
        }
        return payload, 201 if result.created else 200


@blp.route("/me")
class Mine(MethodView):
    @blp.response(200, SummarySchema)
    @requires()
    def get(self):
        """The caller's points: balance, lifetime earned and spent, expiring soon, history."""
        return services.summary(get_session(), "user", authenticated().user_id, utcnow())


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
        return services.liability(get_session(), utcnow())


# -- shared ---------------------------------------------------------------------------------------
NOTE_MAX_CHARS = 500


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX_CHARS:
        raise ValidationFailed(
            fields={"Idempotency-Key": [f"Required, 1 to {IDEMPOTENCY_KEY_MAX_CHARS} characters."]}
        )
    return key


class StatusQuerySchema(Schema):
    status = fields.String()


class DecisionSchema(BodySchema):
    decision = fields.String(required=True, validate=validate.OneOf(("verified", "rejected")))
    note = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX_CHARS))


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
        return services.summary(get_session(), "organisation", organisation_id, utcnow())


# -- operator grants ------------------------------------------------------------------------------
class GrantSchema(BodySchema):
    owner_type = fields.String(required=True, validate=validate.OneOf(OWNER_TYPES))
    owner_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    points = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=GRANT_POINTS_MAX),
        metadata={"description": "Defaults to what the operator_grant rule's formula gives."},
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=NOTE_MAX_CHARS))


class EarningSchema(Schema):
    points = fields.Integer()
    requested = fields.Integer()
    capped_by = fields.String(allow_none=True)
    entry_id = fields.Integer(allow_none=True)


@blp.route("/grants")
class Grants(MethodView):
    @blp.arguments(GrantSchema)
    @blp.response(201, EarningSchema)
    @requires("operator")
    def post(self, body: dict):
        """Grant points to a consumer or an organisation under the operator_grant rule (its caps
        and validity apply). Send an ``Idempotency-Key``: a retry grants nothing more."""
        key = _idempotency_key()
        return services.grant(
            get_session(),
            owner_type=body["owner_type"],
            owner_id=body["owner_id"],
            points=body.get("points"),
            reason=body["reason"],
            key=key,
            user_id=authenticated().user_id,
            now=utcnow(),
        )


# -- practice records -----------------------------------------------------------------------------
def _area(value):
    if not value.is_finite() or not 0 < value <= AREA_MU_MAX:
        raise ValidationError(f"Must be more than 0 and at most {AREA_MU_MAX}.")


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


# -- the catalogue --------------------------------------------------------------------------------
class ItemCreateSchema(BodySchema):
    code = fields.String(
        required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$", error="1 to 32 letters, "
                                                 "digits, - or _.")
    )  # fmt: skip
    name_zh = fields.String(required=True, validate=validate.Length(min=1, max=128))
    name_en = fields.String(required=True, validate=validate.Length(min=1, max=128))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    audience = fields.String(required=True, validate=validate.OneOf(AUDIENCES))
    kind = fields.String(required=True, validate=validate.OneOf(ITEM_KINDS))
    price_points = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=10_000_000)
    )
    stock = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10**9))
    per_party_limit = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=10_000), allow_none=True
    )
    offset_g_per_unit = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=10_000_000),
        allow_none=True,
        metadata={"description": "Grams of retired credits one unit offsets (personal offsets)."},
    )
    active = fields.Boolean(load_default=True)


class ItemUpdateSchema(BodySchema):
    name_zh = fields.String(validate=validate.Length(min=1, max=128))
    name_en = fields.String(validate=validate.Length(min=1, max=128))
    description = fields.String(validate=validate.Length(max=1000))
    price_points = fields.Integer(strict=True, validate=validate.Range(min=1, max=10_000_000))
    stock_added = fields.Integer(strict=True, validate=validate.Range(min=1, max=10**9))
    per_party_limit = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=10_000), allow_none=True
    )
    active = fields.Boolean()


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


# -- orders ---------------------------------------------------------------------------------------
class OrderCreateSchema(BodySchema):
    item_id = fields.Integer(required=True, strict=True)
    quantity = fields.Integer(
        load_default=1, strict=True, validate=validate.Range(min=1, max=ORDER_QUANTITY_MAX)
    )
    organisation_id = fields.Integer(
        strict=True,
        allow_none=True,
        metadata={"description": "Order for this enterprise or farm (its staff); else yourself."},
    )
    holder_name = fields.String(
        load_default="",
        validate=validate.Length(max=64),
        metadata={"description": "The name a personal offset's certificate is made out to."},
    )


class OrderSchema(Schema):
    id = fields.Integer()
    item_id = fields.Integer()
    owner_type = fields.String()
    owner_id = fields.Integer()
    quantity = fields.Integer()
    points = fields.Integer()
    status = fields.String()
    certificate_number = fields.String(allow_none=True)
    holder_name = fields.String()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    note = fields.String()


class CancelSchema(BodySchema):
    note = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX_CHARS))


@blp.route("/orders")
class Orders(MethodView):
    @blp.arguments(StatusQuerySchema, location="query")
    @blp.response(200, OrderSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires()
    def get(self, query: dict, pagination_parameters):
        """Orders: the caller's and their organisations', or all for operators and auditors."""
        statement = redemption.orders_visible(authenticated(), query.get("status"))
        return paginate(get_session(), statement, pagination_parameters)

    @blp.arguments(OrderCreateSchema)
    @blp.response(201, OrderSchema)
    @blp.alt_response(200, schema=OrderSchema, description="The same Idempotency-Key again.")
    @requires("consumer", "enterprise_staff", "farm_staff")
    def post(self, body: dict):
        """Order catalogue items with points: the points are held and the stock reserved until
        the order is fulfilled or cancelled. A personal offset is fulfilled at once, with its
        certificate. Send an ``Idempotency-Key``."""
        key = _idempotency_key()
        session = get_session()
        principal = authenticated()
        party = redemption.party_for(session, principal, body.get("organisation_id"))
        order, created = redemption.order_place(
            session,
            party=party,
            item_id=body["item_id"],
            quantity=body["quantity"],
            key=key,
            user_id=principal.user_id,
            holder_name=body["holder_name"],
            now=utcnow(),
        )
        return order, 201 if created else 200


@blp.route("/orders/<int:order_id>")
class OrderItem(MethodView):
    @blp.response(200, OrderSchema)
    @requires()
    def get(self, order_id: int):
        """One order the caller may see."""
        return redemption.order_for_reader(get_session(), authenticated(), order_id)


@blp.route("/orders/<int:order_id>/cancel")
class OrderCancel(MethodView):
    @blp.arguments(CancelSchema)
    @blp.response(200, OrderSchema)
    @requires()
    def post(self, body: dict, order_id: int):
        """Cancel a reserved order (its owner or an operator): points released, stock back."""
        return redemption.order_cancel(
            get_session(),
            order_id=order_id,
            principal=authenticated(),
            note=body["note"],
            now=utcnow(),
        )


@blp.route("/orders/<int:order_id>/fulfil")
class OrderFulfil(MethodView):
    @blp.response(200, OrderSchema)
    @requires("operator")
    def post(self, order_id: int):
        """The goods went out: the held points are spent."""
        return redemption.order_fulfil(
            get_session(), order_id=order_id, user_id=authenticated().user_id, now=utcnow()
        )


class CertificateSchema(Schema):
    certificate_number = fields.String()
    holder_name = fields.String()
    quantity_g = fields.Integer()
    points = fields.Integer()
    issued_at = fields.String(metadata={"description": "ISO 8601, UTC."})
    retirements = fields.List(fields.Dict())
    log = fields.Dict(allow_none=True)
    statement = fields.String()


@blp.route("/offsets/<string:number>")
class OffsetCertificate(MethodView):
    @blp.response(200, CertificateSchema)
    def get(self, number: str):
        """A personal offset's certificate (public): the retired credits behind it, and its
        transparency-log inclusion proof once sequenced."""
        return json_ready(redemption.certificate(get_session(), number))


# -- farm payouts ---------------------------------------------------------------------------------
class PayoutCreateSchema(BodySchema):
    organisation_id = fields.Integer(required=True, strict=True)
    points = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=10**9))
    method = fields.String(required=True, validate=validate.OneOf(PAYOUT_METHODS))
    payee_name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    payee_account = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9_-]{4,64}$", error="4 to 64 letters or digits."),
        metadata={"description": "A bank account number, or the payee's openid for WeChat."},
    )
    bank_name = fields.String(load_default="", validate=validate.Length(max=64))


class PayoutSchema(Schema):
    id = fields.Integer()
    organisation_id = fields.Integer()
    points = fields.Integer()
    fen_per_100_points = fields.Integer()
    amount_fen = fields.Integer()
    method = fields.String()
    payee_name = fields.String()
    payee_account = fields.String()
    bank_name = fields.String()
    status = fields.String()
    requested_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String()
    export_id = fields.Integer(allow_none=True)


class PayoutDecisionSchema(BodySchema):
    decision = fields.String(required=True, validate=validate.OneOf(("approved", "rejected")))
    note = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX_CHARS))


class ExportCreateSchema(BodySchema):
    method = fields.String(required=True, validate=validate.OneOf(PAYOUT_METHODS))


class ExportSchema(Schema):
    id = fields.Integer()
    method = fields.String()
    payouts = fields.Integer()
    total_fen = fields.Integer()
    sha256 = fields.String()
    created_at = fields.DateTime()


@blp.route("/payouts")
class Payouts(MethodView):
    @blp.arguments(StatusQuerySchema, location="query")
    @blp.response(200, PayoutSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires("farm_staff", "operator", "auditor")
    def get(self, query: dict, pagination_parameters):
        """Payouts: the caller's farms', or all for operators and auditors."""
        statement = payouts.payouts_visible(authenticated(), query.get("status"))
        return paginate(get_session(), statement, pagination_parameters)

    @blp.arguments(PayoutCreateSchema)
    @blp.response(201, PayoutSchema)
    @blp.alt_response(200, schema=PayoutSchema, description="The same Idempotency-Key again.")
    @requires("farm_staff")
    def post(self, body: dict):
        """Ask to turn a farm's points into fen at the configured rate; the points are held until
        an operator decides. Send an ``Idempotency-Key``."""
        key = _idempotency_key()
        payout, created = payouts.payout_request(
            get_session(),
            principal=authenticated(),
            organisation_id=body.pop("organisation_id"),
            values=body,
            key=key,
            fen_per_100_points=current_app.config["POINTS_PAYOUT_FEN_PER_100_POINTS"],
            now=utcnow(),
        )
        return payout, 201 if created else 200


@blp.route("/payouts/<int:payout_id>/decision")
class PayoutDecision(MethodView):
    @blp.arguments(PayoutDecisionSchema)
    @blp.response(200, PayoutSchema)
    @requires("operator")
    def post(self, body: dict, payout_id: int):
        """Approve (points spent, fen owed to the farm, through the ledger) or reject (points
        released)."""
        return payouts.payout_decide(
            get_session(),
            payout_id=payout_id,
            decision=body["decision"],
            note=body["note"],
            user_id=authenticated().user_id,
            now=utcnow(),
        )


@blp.route("/payouts/exports")
class PayoutExports(MethodView):
    @blp.arguments(ExportCreateSchema)
    @blp.response(201, ExportSchema)
    @requires("operator")
    def post(self, body: dict):
        """Export the approved payouts not yet exported into one transfer file (bank CSV or
        WeChat Pay batch JSON); download it from ``/payouts/exports/{id}/file``."""
        made = payouts.export_create(
            get_session(), method=body["method"], user_id=authenticated().user_id, now=utcnow()
        )
        if made is None:
            raise NotFound(code="payouts_none_to_export")
        return made[0]


@blp.route("/payouts/exports/<int:export_id>/file")
class PayoutExportFile(MethodView):
    @blp.response(200, description="The transfer file; X-Content-SHA256 is its hash.")
    @requires("operator", "auditor")
    def get(self, export_id: int):
        """An export's transfer file, the same bytes every time."""
        return export_download(*payouts.export_file(get_session(), export_id))


def export_download(export: PayoutExport, content: bytes) -> Response:
    """A transfer file as a download, with its hash (the API and the console serve it alike)."""
    name, mimetype = payouts.export_file_type(export)
    return Response(
        content,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-SHA256": export.sha256,
        },
    )


# -- flags ----------------------------------------------------------------------------------------
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
