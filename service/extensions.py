"""Extensions, created unbound here and bound to each app in ``create_app``.

``shared_store(app)`` is the key-value store all workers share (see ``service.store``);
``wechat_client(app)`` is the WeChat adapter configured for the app.
"""

from __future__ import annotations

import redis
from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_smorest import Api

from service.auth.wechat import WeChatClient
from service.config import WECHAT_TOKEN_REFRESH_MARGIN_S
from service.store import MemoryStore, RedisStore, SharedStore

api = Api()
limiter = Limiter(key_func=lambda: request.remote_addr or "unknown")

def init_app(app: Flask) -> None:
    redis_url = app.config.get("REDIS_URL")
    if redis_url:
        client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        app.extensions["tanhui.redis"] = client
        app.extensions["tanhui.store"] = RedisStore(client, app.config["CACHE_KEY_PREFIX"])
        app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url)
    else:
        app.extensions["tanhui.redis"] = None
        app.extensions["tanhui.store"] = MemoryStore()
        app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    # The error handler owns Retry-After, so the header and the message agree.
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter.init_app(app)


def shared_store(app: Flask | None = None) -> SharedStore:
    return (app or current_app).extensions["tanhui.store"]


def redis_client(app: Flask | None = None) -> redis.Redis | None:
    return (app or current_app).extensions["tanhui.redis"]


def wechat_client(app: Flask | None = None) -> WeChatClient:
    """The app's WeChat adapter; raises ``wechat_not_configured`` without an appid and secret."""
    app = app or current_app
    client = app.extensions.get("tanhui.wechat")
    if client is None:
        config = app.config
        client = WeChatClient(
            appid=config["WECHAT_APPID"],
            secret=config["WECHAT_SECRET"],
            base_url=config["WECHAT_API_BASE_URL"],
            timeout_s=config["WECHAT_HTTP_TIMEOUT_S"],
            store=shared_store(app),
            token_refresh_margin_s=WECHAT_TOKEN_REFRESH_MARGIN_S,
        )
        app.extensions["tanhui.wechat"] = client
    return client
