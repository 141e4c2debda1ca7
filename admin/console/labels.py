"""Label applications: certifiers decide them, with the footprint and every earlier decision in
view; operators and auditors read them."""

from __future__ import annotations

from datetime import date

from flask import render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from admin.console.blueprint import REASON_MAX_CHARS, blp
from admin.selectors import console as selectors
from admin.web import (
    choice,
    form_action,
    form_text,
    page_principal,
    page_requires,
    paged,
    search_text,
)
from labels import certification
from labels.models import LABEL_STATUSES, Label
from service.base.exceptions import NotFound, ValidationFailed
from service.db import get_session, utcnow


@blp.get("/labels")
@page_requires("certifier", "operator", "auditor")
def labels() -> str:
    status = choice("status", LABEL_STATUSES)
    query = search_text()
    return render_template(
        "console/labels.html",
        page=paged(selectors.labels(status=status, query=query), scalars=False),
        status=status,
        query=query,
        statuses=LABEL_STATUSES,
    )


@blp.get("/labels/<id:label_id>")
@page_requires("certifier", "operator", "auditor")
def label(label_id: int) -> str:
    session = get_session()
    found = selectors.label_with_footprint(session, label_id)
    if found is None:
        raise NotFound()
    record, product, organisation, footprint = found
    moves = [to for (frm, to), role in certification.TRANSITIONS.items()
             if frm == record.status and role is not None]  # fmt: skip
    return render_template(
        "console/label.html",
        label=record,
        product=product,
        organisation=organisation,
        footprint=footprint,
        transitions=selectors.label_transitions(session, record.id),
        moves=moves,
        reason_required=certification.REASON_REQUIRED,
    )


@blp.post("/labels/<id:label_id>/transitions")
@page_requires("certifier")
def label_decide(label_id: int) -> Response:
    session = get_session()
    record = session.get(Label, label_id)
    if record is None:
        raise NotFound()
    to_status = request.form.get("to_status", "")
    back = url_for("console.label", label_id=label_id)

    def work() -> None:
        valid_until = None
        if request.form.get("valid_until"):
            try:
                valid_until = date.fromisoformat(request.form["valid_until"])
            except ValueError:
                raise ValidationFailed.field("valid_until", "Not a valid date.") from None
        certification.label_transition(
            session, label=record, to_status=to_status, actor=page_principal(), now=utcnow(),
            reason=form_text("reason", limit=REASON_MAX_CHARS, required=False),
            valid_until=valid_until,
        )  # fmt: skip

    return form_action(work, done=back, back=back,
                       message=gettext("The decision is recorded."))  # fmt: skip
