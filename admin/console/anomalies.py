"""Anomalies: codes scanned too often or from provinces far apart, and the claim patterns the
points flags catch; operators close the flags."""

from __future__ import annotations

from flask import current_app, render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from admin.console.blueprint import REASON_MAX_CHARS, blp
from admin.selectors import console as selectors
from admin.web import choice, form_action, form_text, page_requires, paged, signed_in
from points.flags import flag_resolve, flags_query
from points.models import FLAG_STATUSES
from service.db import get_session, utcnow


@blp.get("/anomalies")
@page_requires("operator", "auditor")
def anomalies() -> str:
    """Suspicious codes (scanned too often, or from provinces far apart) and suspicious claims
    (the points flags)."""
    view = choice("view", ("codes", "claims")) or "codes"
    config = current_app.config
    if view == "codes":
        warning_count = config["RESOLVER_SCAN_WARNING_COUNT"]
        statement = selectors.scan_anomalies(get_session(), warning_count=warning_count)
        page = paged(statement, scalars=False)
        return render_template(
            "console/anomalies.html",
            view=view,
            page=page,
            warning_count=warning_count,
        )
    status = choice("status", FLAG_STATUSES)
    return render_template("console/anomalies.html", view=view, page=paged(flags_query(status)),
                  status=status, statuses=FLAG_STATUSES)  # fmt: skip


@blp.post("/anomalies/flags/<id:flag_id>")
@page_requires("operator")
def flag_close(flag_id: int) -> Response:
    principal = signed_in()
    back = url_for("console.anomalies", view="claims")
    return form_action(
        lambda: flag_resolve(
            get_session(), flag_id=flag_id, status=request.form.get("status", ""),
            note=form_text("note", limit=REASON_MAX_CHARS, required=False),
            user_id=principal.user_id, now=utcnow(),
        ),
        done=back, back=back, message=gettext("Closed."),
    )  # fmt: skip
