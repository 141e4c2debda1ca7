"""Who is asking, for the request layer: bearer-token authentication and role checks.

``requires()`` guards a view and documents its bearer security in OpenAPI; object-level checks
(may this principal see or change that organisation?) live with the objects' services and are
called by the views. ``authenticate_first`` runs the same guard before the view, so a protected
endpoint answers an anonymous caller 401 before its body is read: what a malformed body would
be told (422, naming the fields) is for callers who may send it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request

from service.auth.attempts import PasswordPolicy
from service.auth.errors import ErrorCode
from service.auth.services import principal_load
from service.auth.tokens import TokenSettings, access_token_decode, bearer_challenge
from service.base.exceptions import AuthenticationFailed, RoleRequired
from service.base.parties.services import Principal
from service.db import get_session, utcnow

F = TypeVar("F", bound=Callable[..., Any])
BEARER_SECURITY = [{"bearerAuth": []}]
#: The methods that only read: every other one is a write, which a suspended organisation's
#: staff may not make.
READ_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


def token_settings() -> TokenSettings:
    config = current_app.config
    return TokenSettings(
        secret=config["JWT_SECRET_KEY"],
        issuer=config["JWT_ISSUER"],
        audience=config["JWT_AUDIENCE"],
        access_ttl_s=config["ACCESS_TOKEN_TTL_S"],
        refresh_ttl_s=config["REFRESH_TOKEN_TTL_S"],
    )


def password_policy() -> PasswordPolicy:
    return PasswordPolicy.from_config(current_app.config)


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return None
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(code=ErrorCode.TOKEN_INVALID, headers=bearer_challenge())
    return token.strip()


def current_principal(*, optional: bool = False) -> Principal | None:
    """The signed-in principal of this request, authenticated once and kept on ``g``."""
    if "principal" in g:
        return g.principal
    token = bearer_token()
    if token is None:
        if optional:
            return None
        raise AuthenticationFailed(headers=bearer_challenge())
    claims = access_token_decode(token_settings(), token)
    principal = principal_load(get_session(), claims=claims, now=utcnow())
    g.principal = principal
    g.user_id = principal.user_id
    return principal


def authenticated() -> Principal:
    principal = current_principal()
    assert principal is not None
    return principal


def _guard(roles: tuple[str, ...]) -> None:
    principal = authenticated()
    if roles and not principal.has_any_role(roles):
        raise RoleRequired(roles)
    if request.method not in READ_METHODS:
        principal.write_check(roles)


def requires(*roles: str) -> Callable[[F], F]:
    """Require a signed-in user, holding one of ``roles`` when any are given. The mark it leaves
    (``required_roles``) is copied outwards by every ``functools.wraps`` above it, so
    ``authenticate_first`` finds it on the view however it is decorated."""

    def decorator(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            _guard(roles)
            return view(*args, **kwargs)

        guarded.required_roles = roles  # type: ignore[attr-defined]
        apidoc = dict(getattr(guarded, "_apidoc", {}))
        manual = dict(apidoc.get("manual_doc", {}))
        manual["security"] = BEARER_SECURITY
        if roles:
            roles_text = f"Roles: {', '.join(roles)}."
            manual["description"] = (manual.get("description", "") + "\n\n" + roles_text).strip()
        apidoc["manual_doc"] = manual
        guarded._apidoc = apidoc  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorator


def required_roles(view: Callable[..., Any], method: str) -> tuple[str, ...] | None:
    """The roles ``requires`` asks of ``method`` on a view (empty: any signed-in user), or
    ``None`` when the view is open to anyone."""
    view_class = getattr(view, "view_class", None)
    handler = getattr(view_class, method.lower(), None) if view_class is not None else view
    return getattr(handler, "required_roles", None)


def authenticate_first() -> None:
    """Before any view reads its body: a view guarded by ``requires`` refuses an anonymous or
    unauthorised caller here (401, 403), before its schema could tell them what it expects."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None:
        return
    roles = required_roles(view, request.method)
    if roles is not None:
        _guard(roles)
