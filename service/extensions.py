"""Extensions, created unbound here and bound to each app in ``create_app``.

``shared_store(app)`` is the key-value store all workers share (see ``service.store``);
``wechat_client(app)`` is the WeChat adapter configured for the app; ``wechatpay_client(app)``
and ``registry_client(app)`` likewise for WeChat Pay and a registry's API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import redis
from flask import Flask, current_app, request

from service import ratelimits
from service.auth.authz import current_principal
from service.auth.errors import ErrorCode
from service.auth.wechat import WeChatClient
from service.base.config import WECHAT_TOKEN_REFRESH_MARGIN_S
from service.base.exceptions import ServiceError
from service.registry_http import RegistryHttpClient, registry_http_config
from service.store import MemoryStore, Outage, RedisStore, SharedStore, SkippingCache
from service.wechatpay import WeChatPayClient, WeChatPayConfig

F = TypeVar("F", bound=Callable[..., Any])

#: Marks views for rate limiting; ``apply_rate_limits`` reads them into the app's own limits
#: (``service.ratelimits``), so two apps in one process (tests, the CLI) never share their state.
RATE_LIMIT_SETTING_ATTRIBUTE = "_tanhui_rate_limit_setting"
RATE_LIMIT_EXEMPT_ATTRIBUTE = "_tanhui_rate_limit_exempt"


DEVICE_HEADER = "X-Device-Id"
DEVICE_ID_MAX_CHARS = 64


def client_address() -> str:
    return request.remote_addr or "unknown"


def signed_in_user() -> str:
    """The signed-in user, for limits per user (anonymous callers share their address's)."""
    try:
        principal = current_principal(optional=True)
    except ServiceError:
        principal = None
    return f"user:{principal.user_id}" if principal else f"address:{client_address()}"


def client_device() -> str:
    """The device the mini-program names in ``X-Device-Id``, else the client address."""
    device = request.headers.get(DEVICE_HEADER, "")[:DEVICE_ID_MAX_CHARS]
    return f"device:{device}" if device else f"address:{client_address()}"


RATE_LIMIT_KEYS: dict[str, Callable[[], str]] = {
    "address": client_address,
    "user": signed_in_user,
    "device": client_device,
}


def rate_limited(setting: str, *, per: str = "address") -> Callable[[F], F]:
    """Limit a view by the app setting ``setting`` (e.g. ``RATELIMIT_SIGN_IN``), per client
    address, signed-in user or device; marks stack, and every one applies."""
    if per not in RATE_LIMIT_KEYS:
        raise ValueError(f"per is one of {', '.join(RATE_LIMIT_KEYS)}")

    def mark(view: F) -> F:
        marks = [*getattr(view, RATE_LIMIT_SETTING_ATTRIBUTE, []), (setting, per)]
        setattr(view, RATE_LIMIT_SETTING_ATTRIBUTE, marks)
        return view

    return mark


def rate_limit_exempt(view: F) -> F:
    setattr(view, RATE_LIMIT_EXEMPT_ATTRIBUTE, True)
    return view


def init_app(app: Flask) -> None:
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        app.extensions["tanhui.redis"] = client
        app.extensions["tanhui.store"] = RedisStore(client, app.config["CACHE_KEY_PREFIX"])
    else:
        app.extensions["tanhui.redis"] = None
        app.extensions["tanhui.store"] = MemoryStore()
    # One per app: the cache, the scan counter and the rate limits learn of an outage together.
    outage = Outage("redis")
    app.extensions["tanhui.redis_outage"] = outage
    app.extensions["tanhui.cache"] = SkippingCache(app.extensions["tanhui.store"], outage)


def apply_rate_limits(app: Flask) -> None:
    """Read every view's marks (after the blueprints are registered) into the app's limits."""
    marks: dict[str | None, ratelimits.Marks] = {}
    for endpoint, view in app.view_functions.items():
        if getattr(view, RATE_LIMIT_EXEMPT_ATTRIBUTE, False):
            marks[endpoint] = ratelimits.EXEMPT
        elif view_marks := getattr(view, RATE_LIMIT_SETTING_ATTRIBUTE, None):
            marks[endpoint] = tuple(view_marks)
    ratelimits.init_app(
        app,
        client=app.extensions["tanhui.redis"],
        keys=RATE_LIMIT_KEYS,
        marks=marks,
        outage=app.extensions["tanhui.redis_outage"],
    )


def wechatpay_client(app: Flask | None = None) -> WeChatPayClient:
    """The app's WeChat Pay adapter; raises ``wechatpay_not_configured`` when it is not set up."""
    app = app or current_app
    client = app.extensions.get("tanhui.wechatpay")
    if client is None:
        config = app.config
        names = (
            "WECHATPAY_MCHID",
            "WECHATPAY_MERCHANT_SERIAL",
            "WECHATPAY_PRIVATE_KEY",
            "WECHATPAY_APIV3_KEY",
            "WECHATPAY_PLATFORM_SERIAL",
            "WECHATPAY_PLATFORM_PUBLIC_KEY",
            "WECHAT_APPID",
        )
        if not all(config.get(name) for name in names):
            raise ServiceError(code=ErrorCode.WECHATPAY_NOT_CONFIGURED)
        client = WeChatPayClient(
            WeChatPayConfig(
                mchid=config["WECHATPAY_MCHID"],
                appid=config["WECHAT_APPID"],
                merchant_serial=config["WECHATPAY_MERCHANT_SERIAL"],
                merchant_private_key_pem=config["WECHATPAY_PRIVATE_KEY"],
                apiv3_key=config["WECHATPAY_APIV3_KEY"],
                platform_serial=config["WECHATPAY_PLATFORM_SERIAL"],
                platform_public_key_pem=config["WECHATPAY_PLATFORM_PUBLIC_KEY"],
                base_url=config["WECHATPAY_API_BASE_URL"],
                timeout_s=config["WECHAT_HTTP_TIMEOUT_S"],
            )
        )
        app.extensions["tanhui.wechatpay"] = client
    return client


def registry_client(app: Flask | None = None) -> RegistryHttpClient:
    """The app's registry adapter (its API, configured by the ``REGISTRY_*`` settings), to be
    passed to the domain code that retires; raises ``credit_registry_not_configured`` naming the
    missing settings."""
    app = app or current_app
    client = app.extensions.get("tanhui.registry")
    if client is None:
        client = RegistryHttpClient(registry_http_config(app.config))
        app.extensions["tanhui.registry"] = client
    return client


def shared_store(app: Flask | None = None) -> SharedStore:
    return (app or current_app).extensions["tanhui.store"]


def redis_client(app: Flask | None = None) -> redis.Redis | None:
    return (app or current_app).extensions["tanhui.redis"]


def shared_cache(app: Flask | None = None) -> SkippingCache:
    """The shared store as a cache: an outage of the store makes misses, not errors."""
    return (app or current_app).extensions["tanhui.cache"]


def redis_outage(app: Flask | None = None) -> Outage:
    """Whether this process takes Redis to be down just now (see ``service.store.Outage``)."""
    return (app or current_app).extensions["tanhui.redis_outage"]


def wechat_client(app: Flask | None = None) -> WeChatClient:
    """The app's WeChat adapter; raises ``wechat_not_configured`` without an appid and secret."""
    return _wechat(app or current_app, "tanhui.wechat", "WECHAT_APPID", "WECHAT_SECRET")


def wechat_web_client(app: Flask | None = None) -> WeChatClient:
    """The official account's adapter, for web authorisation in WeChat's browser; raises
    ``wechat_not_configured`` without its appid and secret."""
    return _wechat(app or current_app, "tanhui.wechat_web", "WECHAT_WEB_APPID", "WECHAT_WEB_SECRET")


def _wechat(app: Flask, name: str, appid_setting: str, secret_setting: str) -> WeChatClient:
    client = app.extensions.get(name)
    if client is None:
        config = app.config
        client = WeChatClient(
            appid=config[appid_setting],
            secret=config[secret_setting],
            base_url=config["WECHAT_API_BASE_URL"],
            timeout_s=config["WECHAT_HTTP_TIMEOUT_S"],
            store=shared_store(app),
            token_refresh_margin_s=WECHAT_TOKEN_REFRESH_MARGIN_S,
        )
        app.extensions[name] = client
    return client
