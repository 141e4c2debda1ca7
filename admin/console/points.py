"""The console's points pages: rule versions, the catalogue and its orders, farm payouts and
their transfer files.

Forms load through the API's own schemas (``admin.web.form_load``), so a page keeps the API's
limits and messages, and each form calls the same service function the API does.
"""

from __future__ import annotations

from flask import Response, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response as BaseResponse

from admin.console.blueprint import REASON_MAX_CHARS, blp
from admin.selectors import points as selectors
from admin.web import (
    choice,
    form_action,
    form_load,
    form_text,
    page_requires,
    paged,
    safe_next,
    signed_in,
)
from points import payouts as farm_payouts
from points import redemption
from points import rules as points
from points.models import (
    AUDIENCES,
    EVENT_TYPES,
    FORMULA_KINDS,
    ITEM_KINDS,
    ORDER_STATUSES,
    PAYOUT_METHODS,
    PAYOUT_STATUSES,
)
from points.payouts import export_download
from points.schemas import (
    ExportCreateSchema,
    ItemCreateSchema,
    ItemUpdateSchema,
    PayoutDecisionSchema,
    RuleCreateSchema,
)
from service.base.exceptions import NotFound, ValidationFailed
from service.db import get_session, utcnow


# -- rules ----------------------------------------------------------------------------------------
@blp.get("/points/rules")
@page_requires("operator", "auditor")
def point_rules() -> str:
    """Every version of every rule, newest first; the one in force for each event is marked."""
    event_type = choice("event_type", EVENT_TYPES)
    return render_template(
        "console/rules.html",
        page=paged(selectors.rules(event_type=event_type)),
        current=selectors.rule_ids_in_force(get_session(), now=utcnow()),
        event_type=event_type,
        event_types=EVENT_TYPES,
        formula_kinds=FORMULA_KINDS,
    )


@blp.post("/points/rules")
@page_requires("operator")
def point_rule_publish() -> BaseResponse:
    back = url_for("console.point_rules")

    def work() -> None:
        body = form_load(RuleCreateSchema())
        formula = {
            key: (value if isinstance(value, int | str) else str(value))
            for key, value in body["formula"].items()
        }
        points.rule_publish(
            get_session(),
            event_type=body.pop("event_type"),
            values={**body, "formula": formula},
            user_id=signed_in().user_id,
            now=utcnow(),
        )

    message = gettext("The new version is published.")
    return form_action(work, done=back, back=back, message=message)


# -- the catalogue and its orders -----------------------------------------------------------------
@blp.get("/points/catalogue")
@page_requires("operator", "auditor")
def catalogue() -> str:
    audience = choice("audience", AUDIENCES)
    status = choice("status", ORDER_STATUSES)
    return render_template(
        "console/catalogue.html",
        items=paged(selectors.catalogue_items(audience=audience), argument="items_page"),
        orders=paged(selectors.orders(status=status), scalars=False),
        audience=audience,
        audiences=AUDIENCES,
        kinds=ITEM_KINDS,
        status=status,
        statuses=ORDER_STATUSES,
    )


@blp.post("/points/catalogue")
@page_requires("operator")
def catalogue_item_create() -> BaseResponse:
    back = url_for("console.catalogue")
    return form_action(
        lambda: redemption.item_create(
            get_session(), values=form_load(ItemCreateSchema()), now=utcnow()
        ),
        done=back,
        back=back,
        message=gettext("The item is in the catalogue."),
    )


@blp.post("/points/catalogue/<id:item_id>")
@page_requires("operator")
def catalogue_item_update(item_id: int) -> BaseResponse:
    back = url_for("console.catalogue")
    return form_action(
        lambda: redemption.item_update(
            get_session(), item_id=item_id, values=form_load(ItemUpdateSchema()), now=utcnow()
        ),
        done=back,
        back=back,
        message=gettext("Updated."),
    )


@blp.post("/points/orders/<id:order_id>")
@page_requires("operator")
def order_resolve(order_id: int) -> BaseResponse:
    """Fulfil a reserved order (the goods went out) or cancel it (points and stock back)."""
    back = safe_next(request.form.get("back"), url_for("console.catalogue"))
    action = request.form.get("action")

    def work() -> None:
        session, principal = get_session(), signed_in()
        if action == "fulfil":
            redemption.order_fulfil(session, order_id=order_id, user_id=principal.user_id,
                                    now=utcnow())  # fmt: skip
        elif action == "cancel":
            redemption.order_cancel(
                session, order_id=order_id, principal=principal, now=utcnow(),
                note=form_text("note", limit=REASON_MAX_CHARS, required=False),
            )  # fmt: skip
        else:
            raise ValidationFailed.field("action", "Must be one of: fulfil, cancel.")

    message = gettext("The order is settled.")
    return form_action(work, done=back, back=back, message=message)


# -- farm payouts ---------------------------------------------------------------------------------
@blp.get("/points/payouts")
@page_requires("operator", "auditor")
def payouts() -> str:
    status = choice("status", PAYOUT_STATUSES)
    page = paged(selectors.payouts(status=status), scalars=False)
    waiting = selectors.payouts_waiting(get_session())
    exports = paged(selectors.payout_exports(), argument="exports_page")
    return render_template(
        "console/payouts.html",
        page=page,
        status=status,
        statuses=PAYOUT_STATUSES,
        methods=PAYOUT_METHODS,
        waiting=waiting,
        exports=exports,
    )


@blp.post("/points/payouts/<id:payout_id>")
@page_requires("operator")
def payout_decide(payout_id: int) -> BaseResponse:
    back = safe_next(request.form.get("back"), url_for("console.payouts"))

    def work() -> None:
        body = form_load(PayoutDecisionSchema())
        farm_payouts.payout_decide(
            get_session(),
            payout_id=payout_id,
            decision=body["decision"],
            note=body["note"],
            user_id=signed_in().user_id,
            now=utcnow(),
        )

    return form_action(work, done=back, back=back,
                       message=gettext("The decision is recorded."))  # fmt: skip


@blp.post("/points/payouts/exports")
@page_requires("operator")
def payout_export() -> BaseResponse:
    """Put the approved payouts of one method into a transfer file."""
    back = url_for("console.payouts")

    def work() -> None:
        body = form_load(ExportCreateSchema())
        made = farm_payouts.export_create(get_session(), method=body["method"],
                                          user_id=signed_in().user_id, now=utcnow())  # fmt: skip
        if made is None:
            raise NotFound(code="payouts_none_to_export")

    return form_action(work, done=back, back=back,
                       message=gettext("The transfer file is ready."))  # fmt: skip


@blp.get("/points/payouts/exports/<id:export_id>")
@page_requires("operator", "auditor")
def payout_export_file(export_id: int) -> Response:
    """The same bytes the API serves: a bank CSV or a WeChat Pay batch transfer document."""
    return export_download(*farm_payouts.export_file(get_session(), export_id))
