"""Signing in and out of the console, and its home page: what waits for staff."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask import session as cookie
from flask_babel import gettext
from werkzeug.wrappers import Response

from admin.console.blueprint import STAFF_ROLES, blp
from admin.selectors import console as selectors
from admin.web import (
    form_action,
    form_text,
    page_principal,
    page_requires,
    safe_next,
    sign_in_remember,
    signed_in,
)
from service.auth.authz import password_policy
from service.auth.challenges import ANSWER_MAX_LENGTH_CHARS, CHALLENGE_MAX_LENGTH_CHARS
from service.auth.services import (
    PasswordTry,
    browser_session_open,
    password_check,
    session_revoke,
)
from service.db import get_session, utcnow
from service.extensions import client_address, rate_limited


@blp.route("/login", methods=["GET", "POST"])
@rate_limited("RATELIMIT_SIGN_IN")
def sign_in() -> Response | str:
    target = safe_next(request.values.get("next"), url_for("console.home"))
    if request.method == "GET":
        if page_principal() is not None:
            return redirect(target)
        return render_template("console/login.html", target=target)
    config = current_app.config

    def work() -> None:
        session = get_session()
        attempt = PasswordTry(
            username=form_text("username", limit=64),
            password=request.form.get("password", ""),
            address=client_address(),
            challenge=form_text("challenge", limit=CHALLENGE_MAX_LENGTH_CHARS, required=False),
            challenge_answer=form_text(
                "challenge_answer", limit=ANSWER_MAX_LENGTH_CHARS, required=False
            ),
        )
        user = password_check(session, attempt=attempt, policy=password_policy(), now=utcnow())
        lifetime_s = int(config["PERMANENT_SESSION_LIFETIME"].total_seconds())
        session_id = browser_session_open(session, user=user, now=utcnow(), ttl_s=lifetime_s)
        sign_in_remember(session_id, user.id)

    back = url_for("console.sign_in", next=target)
    return form_action(work, done=target, back=back, message=gettext("Signed in."))


@blp.post("/logout")
def sign_out() -> Response:
    principal = page_principal()
    if principal is not None and principal.session_id:
        session_revoke(get_session(), session_id=principal.session_id, reason="signed_out",
                       now=utcnow())  # fmt: skip
    cookie.clear()
    return redirect(safe_next(request.form.get("next"), url_for("console.sign_in")), code=303)


@blp.get("/")
@page_requires()
def home() -> Response | str:
    principal = signed_in()
    if not principal.has_any_role(STAFF_ROLES) and principal.organisation_ids("enterprise_staff"):
        return redirect(url_for("desk.home"))
    return render_template("console/home.html", counts=selectors.home_counts(get_session()))
