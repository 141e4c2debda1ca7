"""Label lots and offline payments: operators confirm a bank transfer for a reserved lot."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask import render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from admin.console.blueprint import blp
from admin.selectors import console as selectors
from admin.web import choice, form_action, form_text, page_requires, paged, safe_next, search_text
from labels import lots
from labels.models import LOT_STATUSES, LabelLot
from service.base.exceptions import NotFound, ValidationFailed
from service.db import get_session, utcnow


@blp.get("/lots")
@page_requires("operator", "auditor")
def lots_list() -> str:
    """Lots by status; reserved ones wait for a payment an operator confirms from the bank."""
    status = choice("status", LOT_STATUSES)
    query = search_text()
    page = paged(selectors.lots(status=status, query=query), scalars=False)
    return render_template("console/lots.html", page=page,
                           status=status, statuses=LOT_STATUSES, query=query)  # fmt: skip


def fen_of(text: str, field: str) -> int:
    """Yuan as people write them (``1,234.5``) in exact fen."""
    try:
        amount = Decimal(text.replace(",", "").replace("¥", "").strip())
    except InvalidOperation:
        raise ValidationFailed.field(field, "Not a valid amount.") from None
    fen = amount * 100
    if not amount.is_finite() or fen != fen.to_integral_value() or fen <= 0:
        raise ValidationFailed.field(field, "A positive amount in yuan, to the fen.")
    return int(fen)


@blp.post("/lots/<id:lot_id>/payment")
@page_requires("operator")
def lot_payment(lot_id: int) -> Response:
    """Confirm a bank transfer for a lot: the lot is paid, backed and issued (the API's rule)."""
    session = get_session()
    lot = session.get(LabelLot, lot_id)
    if lot is None:
        raise NotFound()
    back = safe_next(request.form.get("back"), url_for("console.lots_list"))

    def work() -> None:
        reference = form_text("reference", limit=64)
        amount_fen = fen_of(request.form.get("amount_yuan", ""), "amount_yuan")
        lots.lot_payment_confirm(session, lot=lot, provider="offline", reference=reference,
                                 amount_fen=amount_fen, now=utcnow())  # fmt: skip

    message = gettext(
        "Lot %(lot_number)s is paid and its codes are issued.", lot_number=lot.lot_number
    )
    return form_action(work, done=back, back=back, message=message)
