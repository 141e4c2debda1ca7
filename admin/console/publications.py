"""Policies and announcements: operators write them and publish or withdraw them on the
portal."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from admin import publications as publishing
from admin.console.blueprint import blp
from admin.selectors import console as selectors
from admin.web import choice, form_action, form_text, page_requires, paged, signed_in
from service.base.exceptions import NotFound
from service.db import get_session, utcnow
from service.models import (
    BODY_MAX_CHARS,
    PUBLICATION_KINDS,
    SLUG_MAX_CHARS,
    TITLE_MAX_CHARS,
    Publication,
)


@blp.get("/publications")
@page_requires("operator")
def publications() -> str:
    kind = choice("kind", PUBLICATION_KINDS)
    return render_template(
        "console/publications.html",
        page=paged(selectors.publications(kind=kind)),
        kind=kind,
        kinds=PUBLICATION_KINDS,
    )


@blp.post("/publications")
@page_requires("operator")
def publication_create() -> Response:
    principal = signed_in()
    back = url_for("console.publications")

    def work() -> None:
        publishing.publication_create(
            get_session(),
            kind=request.form.get("kind", ""),
            slug=form_text("slug", limit=SLUG_MAX_CHARS),
            title_zh=form_text("title_zh", limit=TITLE_MAX_CHARS),
            title_en=form_text("title_en", limit=TITLE_MAX_CHARS),
            body_zh=form_text("body_zh", limit=BODY_MAX_CHARS),
            body_en=form_text("body_en", limit=BODY_MAX_CHARS),
            publish=request.form.get("publish") == "1",
            user_id=principal.user_id,
            now=utcnow(),
        )

    return form_action(work, done=back, back=back, message=gettext("Saved."))


@blp.post("/publications/<id:publication_id>/status")
@page_requires("operator")
def publication_status(publication_id: int) -> Response:
    session = get_session()
    publication = session.get(Publication, publication_id)
    if publication is None:
        raise NotFound()
    back = url_for("console.publications")
    return form_action(
        lambda: publishing.publication_set_status(
            session, publication=publication, status=request.form.get("status", ""), now=utcnow()
        ),
        done=back,
        back=back,
        message=gettext("Status updated."),
    )
