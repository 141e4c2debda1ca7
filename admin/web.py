"""What every page shares: the language, the console's sign-in cookie, CSRF, forms that call a
service, and errors as pages.

Pages speak the reader's language: their pick (``?lang=en`` once; a cookie keeps it), else their
browser's ``Accept-Language``, else zh-CN. Templates write English msgids in ``_()`` and the
gettext catalogues translate them (see ``service.i18n``); enums show through ``| name("enum")``
and times through ``| beijing_time``.

The console signs staff in with their password (the same lockout as the API) into a sign-in
session of method ``console``; Flask's signed session cookie names it, and every page request
checks it is still open, as a bearer token's is. Every form that changes something carries the
session's CSRF token, and a POST without it changes nothing.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    flash,
    g,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from marshmallow import Schema
from marshmallow import fields as ma_fields
from marshmallow.exceptions import ValidationError as MarshmallowError

from service.auth.authz import READ_METHODS
from service.auth.services import session_principal
from service.base.exceptions import (
    AuthenticationFailed,
    FieldMessage,
    ServiceError,
    ValidationFailed,
)
from service.base.parties.services import Principal
from service.db import get_session, utcnow
from service.errors import flatten_messages
from service.i18n import (
    error_message,
    field_label,
    field_message,
    negotiate_locale,
    use_locale,
)
from service.pagination import PAGE_NUMBER_MAX, row_count

LANGUAGES = ("zh-CN", "en")
LANGUAGE_COOKIE = "lang"
LANGUAGE_COOKIE_MAX_AGE_S = 365 * 24 * 3600
CONSOLE_SESSION_TTL_S = 12 * 3600
CSRF_FIELD = "csrf_token"
#: Rows per page in every list.
PAGE_ROWS = 20
SEARCH_MAX_CHARS = 64

F = TypeVar("F", bound=Callable[..., Any])


# -- language -------------------------------------------------------------------------------------
def page_language() -> str:
    """The reader's pick (``?lang=``, then the cookie), else what their browser asks for, as the
    scan pages do; zh-CN when nothing matches."""
    chosen = request.args.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return negotiate_locale(
        request.accept_languages if request.headers.get("Accept-Language") else None
    )


def _remember_language(response: Response) -> Response:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES and chosen != request.cookies.get(LANGUAGE_COOKIE):
        response.set_cookie(
            LANGUAGE_COOKIE, chosen, max_age=LANGUAGE_COOKIE_MAX_AGE_S, samesite="Lax"
        )
    response.headers["Content-Language"] = g.get("lang", "zh-CN")
    return response


def url_with(**changes: Any) -> str:
    """This page's URL with some query arguments changed (``None`` drops one)."""
    arguments = request.args.to_dict()
    for name, value in changes.items():
        if value is None:
            arguments.pop(name, None)
        else:
            arguments[name] = value
    return url_for(request.endpoint or "portal.home", **(request.view_args or {}), **arguments)


# -- the signed-in member of staff ----------------------------------------------------------------
def page_principal() -> Principal | None:
    """Who is signed in to the console, if anyone (the sign-in session must still be open)."""
    if "page_principal" in g:
        return g.page_principal
    principal = None
    session_id, user_id = session.get("sid"), session.get("uid")
    if isinstance(session_id, str) and isinstance(user_id, int):
        try:
            principal = session_principal(
                get_session(), session_id=session_id, user_id=user_id, now=utcnow()
            )
        except AuthenticationFailed:
            session.clear()
    g.page_principal = principal
    return principal


def signed_in() -> Principal:
    """The signed-in member of staff, in a view ``page_requires`` guards."""
    principal = page_principal()
    assert principal is not None  # page_requires sent everyone else to sign in
    return principal


def sign_in_remember(session_id: str, user_id: int) -> None:
    session.clear()
    session["sid"], session["uid"] = session_id, user_id
    session["csrf"] = secrets.token_urlsafe(32)
    session.permanent = True


def page_requires(*roles: str) -> Callable[[F], F]:
    """Send visitors to the sign-in page; refuse staff without one of ``roles``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            principal = page_principal()
            if principal is None:
                return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")))
            if roles and not principal.has_any_role(roles):
                raise ServiceError(code="forbidden")
            if request.method not in READ_METHODS:
                principal.write_check(roles)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorator


def safe_next(target: str | None, default: str) -> str:
    """Only a path on this site: never another host (an open redirect)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


# -- CSRF -----------------------------------------------------------------------------------------
def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _csrf_check() -> None:
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    expected, sent = session.get("csrf"), request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        raise ServiceError(code="csrf_failed")


# -- forms ----------------------------------------------------------------------------------------
def form_action(
    work: Callable[[], Any],
    *,
    done: str | Callable[[Any], str],
    back: str,
    message: str | Callable[[Any], str],
) -> Response:
    """Run ``work`` (one service call) for a form, then redirect: to ``done`` with ``message``
    when it succeeds (either may be a function of what ``work`` returned), else back to the form
    with the error, localised, naming its fields. A failure changes nothing (unless the error
    says its changes stand, like a failed sign-in's count)."""
    try:
        result = work()
    except ServiceError as error:
        if not error.persist_changes:
            get_session().rollback()
        flash_error(error)
        return redirect(back, code=303)
    flash(message(result) if callable(message) else message, "ok")
    return redirect(done(result) if callable(done) else done, code=303)


def flash_error(error: ServiceError) -> None:
    text = error_message(error.code, error.params)
    details = [
        f"{field_label(name)}{gettext(': ')}{field_message(message)}"
        for name, messages in error.fields.items()
        for message in messages
    ]
    flash(" ".join([text, *details]), "error")


def form_load(schema: Schema, *, prefix: str = "") -> dict[str, Any]:
    """The form loaded through an API schema, so a page keeps the API's limits and messages.

    Empty fields count as missing, integer fields are parsed (a field that is not a number
    fails the schema's own check), and ``formula.kind`` fills the nested ``formula``.
    """
    return schema_load(schema, _form_data(schema, prefix))


def schema_load(schema: Schema, data: Any) -> dict[str, Any]:
    """``data`` loaded through ``schema``; its messages, by field, as a ``ValidationFailed``."""
    try:
        return schema.load(data)
    except MarshmallowError as error:
        fields: dict[str, list[str]] = {}
        for row in flatten_messages(error.messages):
            fields.setdefault(row["field"], []).append(row["message"])
        raise ValidationFailed(fields=fields) from None


def _form_data(schema: Schema, prefix: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, field in schema.fields.items():
        key = prefix + name
        if isinstance(field, ma_fields.Nested):
            nested = _form_data(field.schema, key + ".")
            if nested:
                data[name] = nested
            continue
        if isinstance(field, ma_fields.List):  # a multiple choice: each chosen value
            values = [value.strip() for value in request.form.getlist(key) if value.strip()]
            if values:
                data[name] = values
            continue
        value = request.form.get(key, "").strip()
        if not value:
            continue
        if isinstance(field, ma_fields.Integer) and _INTEGER.fullmatch(value):
            data[name] = int(value)
        elif isinstance(field, ma_fields.Boolean):
            data[name] = value in ("1", "on", "true")
        else:
            data[name] = value
    return data


_INTEGER = re.compile(r"-?\d{1,18}")


def form_text(name: str, *, limit: int, required: bool = True) -> str:
    value = request.form.get(name, "").strip()
    if required and not value:
        raise ValidationFailed.field(name, "Missing data for required field.")
    if len(value) > limit:
        raise ValidationFailed.field(
            name, FieldMessage("Longer than maximum length {limit}.", limit=limit)
        )
    return value


# -- lists ----------------------------------------------------------------------------------------
class Page:
    """One page of a list: its rows, its number and whether others follow."""

    def __init__(
        self, rows: list[Any], number: int, total: int, size: int, argument: str = "page"
    ) -> None:
        self.rows, self.number, self.total, self.size = rows, number, total, size
        #: The query argument that names this list's page (two lists on a page use two).
        self.argument = argument

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(argument: str = "page") -> int:
    try:
        number = int(request.args.get(argument, "1"))
    except ValueError:
        number = 1
    return min(max(number, 1), PAGE_NUMBER_MAX)


def paged(
    statement: Any, *, size: int = PAGE_ROWS, scalars: bool = True, argument: str = "page"
) -> Page:
    """The requested page of ``statement``'s rows, with the total count; ``argument`` names the
    page in the query when a page shows two lists."""
    db = get_session()
    total = row_count(db, statement)
    number = page_number(argument)
    limited = statement.limit(size).offset((number - 1) * size)
    rows = list(db.scalars(limited)) if scalars else list(db.execute(limited))
    return Page(rows, number, total, size, argument)


def search_text() -> str:
    return request.args.get("q", "").strip()[:SEARCH_MAX_CHARS]


def choice(name: str, allowed: Iterable[str]) -> str | None:
    value = request.args.get(name) or None
    return value if value in set(allowed) else None


# -- rendering ------------------------------------------------------------------------------------
def _context() -> dict[str, Any]:
    return {
        "lang": g.get("lang", "zh-CN"),
        "principal": page_principal() if g.get("console") else None,
        "messages": get_flashed_messages(with_categories=True),
    }


def error_page(code: str, status: int, message: str, fields: list[dict[str, str]]) -> Response:
    """An error as a page, for the page blueprints (the API keeps its JSON)."""
    body = render_template(
        "error.html", status=status, code=code, message=message, fields=fields, **_context()
    )
    return Response(body, status=status, mimetype="text/html")


def pages_blueprint(name: str, url_prefix: str | None, *, console: bool) -> Blueprint:
    """A blueprint of pages: language, CSRF and HTML errors on every request."""
    blueprint = Blueprint(
        name, __name__, url_prefix=url_prefix, template_folder="templates", static_folder=None
    )

    @blueprint.before_request
    def _before() -> None:
        g.page = True
        g.console = console
        use_locale(page_language())
        _csrf_check()

    blueprint.after_request(_remember_language)
    return blueprint


def init_app(app: Flask) -> None:
    """Set up what every page needs (the console's cookie, the templates' globals, HTML errors)
    and serve the pages' static files; the composition root registers the pages themselves."""
    # Flask's defaults are set already, so these are assigned, not defaulted.
    public_base_url = str(app.config.get("PUBLIC_BASE_URL") or "")
    app.config.update(
        SESSION_COOKIE_NAME="tanhui_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure wherever the service is served over HTTPS, as it is in production.
        SESSION_COOKIE_SECURE=public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=CONSOLE_SESSION_TTL_S),
    )
    app.context_processor(lambda: _context() if g.get("page") else {})
    # Globals, not context, so imported macros see them too.
    app.jinja_env.globals.update(url_with=url_with, csrf_token=csrf_token)
    app.extensions["tanhui.error_page"] = error_page
    static = Blueprint("pages_static", __name__, static_folder="static", static_url_path="/static")
    app.register_blueprint(static)
