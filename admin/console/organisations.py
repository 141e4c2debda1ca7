"""Organisations: operators approve or suspend enterprises, cooperatives and farms."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from admin.console.blueprint import blp
from admin.selectors import console as selectors
from admin.web import choice, form_action, page_requires, paged, safe_next, search_text, signed_in
from service.base.exceptions import NotFound, ValidationFailed
from service.base.parties.models import ORGANISATION_KINDS, ORGANISATION_STATUSES, Organisation
from service.base.parties.services import organisation_set_status
from service.db import get_session, utcnow

#: The kinds an operator approves (the platform is always approved).
PARTY_KINDS = tuple(kind for kind in ORGANISATION_KINDS if kind != "platform")


@blp.get("/organisations")
@page_requires("operator", "auditor")
def organisations() -> str:
    status = choice("status", ORGANISATION_STATUSES)
    kind = choice("kind", PARTY_KINDS)
    query = search_text()
    return render_template(
        "console/organisations.html",
        page=paged(selectors.organisations(status=status, kind=kind, query=query)),
        status=status,
        kind=kind,
        query=query,
        statuses=ORGANISATION_STATUSES,
        kinds=PARTY_KINDS,
    )


@blp.post("/organisations/<id:organisation_id>/status")
@page_requires("operator")
def organisation_status(organisation_id: int) -> Response:
    session = get_session()
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound()
    status = request.form.get("status")
    if status not in ("approved", "suspended"):
        raise ValidationFailed.field("status", "Must be one of: approved, suspended.")
    principal = signed_in()
    back = safe_next(request.form.get("back"), url_for("console.organisations"))
    return form_action(
        lambda: organisation_set_status(
            session, organisation=organisation, status=status, operator_id=principal.user_id,
            now=utcnow(),
        ),
        done=back,
        back=back,
        message=(
            gettext("%(name)s is now approved.", name=organisation.name)
            if status == "approved"
            else gettext("%(name)s is now suspended.", name=organisation.name)
        ),
    )  # fmt: skip
