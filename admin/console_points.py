"""The console's points pages: rule versions, the catalogue and its orders, farm payouts and
their transfer files.

Forms load through the API's own schemas (``admin.web.form_load``), so a page keeps the API's
limits and messages, and each form calls the same service function the API does.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Response, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from admin.console import REASON_MAX_CHARS, blp
from admin.web import (
    choice,
    form_action,
    form_load,
    form_text,
    page_requires,
    paged,
    safe_next,
    signed_in,
    t,
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
    CatalogueItem,
    FarmPayout,
    PayoutExport,
    PointRule,
    RedemptionOrder,
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
from service.base.parties.models import Organisation
from service.db import get_session, utcnow


# -- rules ----------------------------------------------------------------------------------------
@blp.get("/points/rules")
@page_requires("operator", "auditor")
def point_rules() -> str:
    """Every version of every rule, newest first; the one in force for each event is marked."""
    event_type = choice("event_type", EVENT_TYPES)
    statement = sa.select(PointRule).order_by(PointRule.event_type, PointRule.version.desc())
    if event_type:
        statement = statement.where(PointRule.event_type == event_type)
    session, now = get_session(), utcnow()
    current = {
        rule.id
        for rule in (points.rule_current(session, kind, now) for kind in EVENT_TYPES)
        if rule is not None
    }
    return render_template(
        "console/rules.html",
        page=paged(statement),
        current=current,
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

    message = t("新版本规则已发布。", "The new version is published.")
    return form_action(work, done=back, back=back, message=message)


# -- the catalogue and its orders -----------------------------------------------------------------
@blp.get("/points/catalogue")
@page_requires("operator", "auditor")
def catalogue() -> str:
    audience = choice("audience", AUDIENCES)
    status = choice("status", ORDER_STATUSES)
    items = sa.select(CatalogueItem).order_by(CatalogueItem.id.desc())
    if audience:
        items = items.where(CatalogueItem.audience == audience)
    orders = (
        sa.select(RedemptionOrder, CatalogueItem)
        .join(CatalogueItem, CatalogueItem.id == RedemptionOrder.item_id)
        .order_by(RedemptionOrder.id.desc())
    )
    if status:
        orders = orders.where(RedemptionOrder.status == status)
    return render_template(
        "console/catalogue.html",
        items=paged(items, argument="items_page"),
        orders=paged(orders, scalars=False),
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
        message=t("已上架。", "The item is in the catalogue."),
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
        message=t("已更新。", "Updated."),
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

    message = t("订单已处理。", "The order is settled.")
    return form_action(work, done=back, back=back, message=message)


# -- farm payouts ---------------------------------------------------------------------------------
@blp.get("/points/payouts")
@page_requires("operator", "auditor")
def payouts() -> str:
    status = choice("status", PAYOUT_STATUSES)
    statement = (
        sa.select(FarmPayout, Organisation)
        .join(Organisation, Organisation.id == FarmPayout.organisation_id)
        .order_by(FarmPayout.id.desc())
    )
    if status:
        statement = statement.where(FarmPayout.status == status)
    session = get_session()
    waiting = {
        method: total or 0
        for method, total in session.execute(
            sa.select(FarmPayout.method, sa.func.count())
            .where(FarmPayout.status == "approved")
            .group_by(FarmPayout.method)
        )
    }
    exports = paged(
        sa.select(PayoutExport).order_by(PayoutExport.id.desc()), argument="exports_page"
    )
    return render_template(
        "console/payouts.html",
        page=paged(statement, scalars=False),
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
                       message=t("决定已记录。", "The decision is recorded."))  # fmt: skip


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
                       message=t("转账文件已生成。", "The transfer file is ready."))  # fmt: skip


@blp.get("/points/payouts/exports/<id:export_id>")
@page_requires("operator", "auditor")
def payout_export_file(export_id: int) -> Response:
    """The same bytes the API serves: a bank CSV or a WeChat Pay batch transfer document."""
    return export_download(*farm_payouts.export_file(get_session(), export_id))
