"""A consumer's own pages at ``/me``, for a scan opened in WeChat's browser rather than in the
mini-program: sign in silently through the official account's web authorisation, claim the
scanned unit, see one's points, and redeem them.

The pages call the same services as the mini-program's API (``claim_unit``, ``summary``,
``order_place``); a form carries a key made when the page was drawn, so sending it twice claims
or orders once.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import urlparse

from flask import current_app, g, redirect, render_template, request, url_for
from flask import session as cookie
from flask_babel import gettext
from werkzeug.wrappers import Response

from admin.selectors import points as selectors
from admin.web import (
    form_action,
    form_load,
    form_text,
    page_principal,
    pages_blueprint,
    safe_next,
    sign_in_remember,
)
from points import claims, idempotency, redemption
from points import selectors as points_selectors
from points.claims import unit_link_parts
from points.schemas import ClaimCreateSchema, OrderCreateSchema
from service.auth.services import sign_in_wechat_web
from service.base.exceptions import RoleRequired, ValidationFailed
from service.db import get_session, utcnow
from service.extensions import rate_limited, wechat_web_client

blp = pages_blueprint("mine", "/me", console=True)
#: How long a reader stays signed in on our pages in WeChat's browser.
READER_SESSION_TTL_S = 30 * 24 * 3600
#: The key a form carries (``secrets.token_urlsafe(24)`` makes 32 characters).
FORM_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
ORDERS_SHOWN = 20
CONSUMER_ROLES = ("consumer",)


def _reader():
    """The signed-in reader, or a redirect to sign in and come back here."""
    principal = page_principal()
    if principal is None:
        return None, redirect(url_for("mine.sign_in", next=request.full_path.rstrip("?")))
    return principal, None


def _consumer():
    """The signed-in consumer for a form that writes: claiming and redeeming are a consumer's
    acts, as in the API, so staff signed in to the console are refused (403)."""
    principal, elsewhere = _reader()
    if principal is not None and not principal.has_any_role(CONSUMER_ROLES):
        raise RoleRequired(CONSUMER_ROLES)
    return principal, elsewhere


def _web_sign_in_configured() -> bool:
    config = current_app.config
    return bool(config["WECHAT_WEB_APPID"] and config["WECHAT_WEB_SECRET"])


# -- signing in -----------------------------------------------------------------------------------
@blp.get("/sign-in")
@rate_limited("RATELIMIT_SIGN_IN")
def sign_in() -> Response | str:
    target = safe_next(request.args.get("next"), url_for("mine.home"))
    if page_principal() is not None:
        return redirect(target)
    if not _web_sign_in_configured():
        return render_template("mine/sign_in.html", target=target), 503
    state = secrets.token_urlsafe(24)
    cookie["oauth_state"], cookie["oauth_next"] = state, target
    callback = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + url_for("mine.sign_in_wechat")
    authorize = wechat_web_client().authorize_url(
        current_app.config["WECHAT_OAUTH_BASE_URL"], redirect_uri=callback, state=state
    )
    return redirect(authorize)


@blp.get("/sign-in/wechat")
@rate_limited("RATELIMIT_SIGN_IN")
def sign_in_wechat() -> Response:
    """WeChat sends the reader back here with ``code`` and our ``state``."""
    expected, target = cookie.pop("oauth_state", None), cookie.pop("oauth_next", None)
    state, code = request.args.get("state", ""), request.args.get("code", "")
    if not isinstance(expected, str) or not hmac.compare_digest(expected, state):
        raise ValidationFailed.field("state", "This sign-in was not started here, or has expired.")
    if not code or len(code) > 512:
        raise ValidationFailed.field("code", "Missing data for required field.")
    user, session_id = sign_in_wechat_web(
        get_session(), client=wechat_web_client(), code=code, now=utcnow(),
        ttl_s=READER_SESSION_TTL_S,
    )  # fmt: skip
    sign_in_remember(session_id, user.id)
    g.commit_read = True  # WeChat's redirect is a GET, and it signs the reader in
    return redirect(safe_next(target, url_for("mine.home")))


# -- points and redemption ------------------------------------------------------------------------
@blp.get("/")
def home() -> Response | str:
    principal, elsewhere = _reader()
    if elsewhere:
        return elsewhere
    session, now = get_session(), utcnow()
    mine = points_selectors.summary(session, "user", principal.user_id, now)
    items = redemption.items_for(session, "consumer")
    orders = selectors.orders_of_reader(session, user_id=principal.user_id, limit=ORDERS_SHOWN)
    return render_template(
        "mine/home.html", mine=mine, items=items, orders=orders, form_key=_form_key()
    )


def _form_key() -> str:
    return secrets.token_urlsafe(24)


def _key_of_form() -> str:
    key = request.form.get("key", "")
    if not FORM_KEY.fullmatch(key):
        raise ValidationFailed.field("key", "Reload the page and try again.")
    return key


def _form_sha256(body: dict) -> str:
    """The form's fingerprint (its fields as loaded, without its key), kept with its key."""
    return idempotency.request_sha256(method=request.method, path=request.path, query={}, body=body)


@blp.post("/orders")
def order() -> Response:
    principal, elsewhere = _consumer()
    if elsewhere:
        return elsewhere
    back = url_for("mine.home")

    def work() -> None:
        body = form_load(OrderCreateSchema())
        session = get_session()
        redemption.order_place(
            session,
            party=redemption.party_for(session, principal, None),
            item_id=body["item_id"],
            quantity=body["quantity"],
            key=f"web:{_key_of_form()}",
            request_sha256=_form_sha256(body),
            user_id=principal.user_id,
            holder_name=body["holder_name"],
            now=utcnow(),
        )

    return form_action(work, done=back, back=back, message=gettext("Redeemed."))


# -- claiming a scanned unit ----------------------------------------------------------------------
@blp.get("/claim")
def claim_page() -> Response | str:
    """Confirm the claim of the unit whose scan page sent the reader here."""
    principal, elsewhere = _reader()
    if elsewhere:
        return elsewhere
    code = request.args.get("code", "")[:512]
    gtin, lot_number, _ = unit_link_parts(code)
    product = selectors.product_and_lot(get_session(), gtin=gtin, lot_number=lot_number)
    return render_template(
        "mine/claim.html", code=code, found=product, form_key=_form_key(), path=urlparse(code).path
    )


@blp.post("/claim")
@rate_limited("RATELIMIT_CLAIMS")
@rate_limited("RATELIMIT_CLAIMS_PER_DEVICE", per="device")
def claim() -> Response:
    principal, elsewhere = _consumer()
    if elsewhere:
        return elsewhere
    code = form_text("code", limit=512)
    back = url_for("mine.claim_page", code=code)

    def work() -> claims.ClaimResult:
        body = form_load(ClaimCreateSchema())
        gtin, lot_number, serial = unit_link_parts(body["code"])
        return claims.claim_unit(
            get_session(),
            user_id=principal.user_id,
            gtin=gtin,
            lot_number=lot_number,
            serial=serial,
            key=f"user:{principal.user_id}:web:{_key_of_form()}",
            request_sha256=_form_sha256(body),
            region_code=body.get("region"),
            master_keys=current_app.config["UNIT_CODE_MASTER_KEYS"],
            now=utcnow(),
        )

    def message(result: claims.ClaimResult) -> str:
        earned = result.claim.points
        return gettext("Claimed: %(earned)s points.", earned=earned)

    return form_action(work, done=url_for("mine.home"), back=back, message=message)
