"""The composition root: the app factory, the only way to get an app (gunicorn, the ``tanhui``
command and the tests all come through here), and the one module that imports every web face.

Extensions, then the API's blueprints and the pages, then the error handlers and the commands.
A package's web face joins here with two lines: its import, and its place in the list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, request
from flask_smorest import Api
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, Map

from admin import web as pages
from admin.api.credits import blp as credits_blp
from admin.api.log import blp as log_blp
from admin.api.log import tiles_blp as log_tiles_blp
from admin.console import blp as console_blp
from admin.desk import blp as desk_blp
from admin.mine import blp as mine_blp
from admin.portal import blp as portal_blp
from labels.api import BLUEPRINTS as LABELS_BLUEPRINTS
from points.api import blp as points_blp
from service import commands, db, extensions, headers, i18n, observability
from service.auth import authz
from service.auth_api import blp as auth_blp
from service.auth_api import me_blp
from service.base.exceptions import ServiceError
from service.bodies import ChunkedBodyLimit, chunked_body_check, json_body_check
from service.config import load_config
from service.errors import ErrorSchema, commit_error_response, register_error_handlers
from service.ops_api import blp as ops_blp
from service.parties.api import blp as organisations_blp
from service.parties.api import my_invitations_blp

API_TITLE = "Tanhui 碳汇 API"
API_VERSION = "v1"
JSON_MIMETYPES = frozenset({"application/json"})
ID_MAX = 2**31 - 1


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build an app from the environment, with ``config`` overriding single settings."""
    settings = load_config(overrides=config)
    app = Flask(
        "service",
        instance_path=settings["INSTANCE_PATH"],
        instance_relative_config=False,
        static_folder=None,  # the pages serve their own (admin/static)
    )
    app.config.update(settings)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.url_map.converters["id"] = IdConverter
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, limit_bytes=app.config["MAX_CONTENT_LENGTH"])  # type: ignore[method-assign]
    proxies = int(app.config.get("TRUSTED_PROXY_COUNT", 0) or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    register_extensions(app)
    register_blueprints(app)
    register_request_checks(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


class IdConverter(IntegerConverter):
    """Row ids in paths: 1 to the largest 32-bit integer, so no id reaches the database as an
    overflow; anything else does not match the route (404)."""

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=ID_MAX)


def register_extensions(app: Flask) -> None:
    observability.init_app(app)
    headers.init_app(app)
    db.init_app(app, on_commit_error=commit_error_response)
    extensions.init_app(app)
    i18n.init_app(app)


class TanhuiApi(Api):
    ERROR_SCHEMA = ErrorSchema


def register_blueprints(app: Flask) -> None:
    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    api = TanhuiApi(
        app,
        spec_kwargs={
            "info": {
                "description": (
                    "Carbon labels, carbon points and QR traceability backed by retired "
                    "agricultural sink credits. Errors share one JSON shape (see Error)."
                )
            }
        },
    )
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    for blueprint in (
        ops_blp,
        auth_blp,
        me_blp,
        organisations_blp,
        my_invitations_blp,
        credits_blp,
        log_blp,
        *LABELS_BLUEPRINTS,
        points_blp,
    ):
        api.register_blueprint(blueprint)
    app.extensions["tanhui.api"] = api
    pages.init_app(app)
    for page_blueprint in (portal_blp, console_blp, desk_blp, mine_blp, log_tiles_blp):
        app.register_blueprint(page_blueprint)
    extensions.apply_rate_limits(app)


def register_request_checks(app: Flask) -> None:
    """What every request passes before its view, in this order, after the rate limits (which
    ``register_blueprints`` set, so floods are counted whoever sends them): a chunked body within
    the size limit, then who asks (protected views: before what they sent is read), then a JSON
    body the service can hold."""
    app.before_request(_chunked_body_check)
    app.before_request(authz.authenticate_first)
    app.before_request(_require_json_body)


def register_errorhandlers(app: Flask) -> None:
    register_error_handlers(app)


def register_commands(app: Flask) -> None:
    commands.register(app)


def _chunked_body_check() -> None:
    chunked_body_check(request.environ)


def _require_json_body() -> None:
    """Write requests to the API that carry a body must say it is JSON, and be JSON we can hold
    (``service.bodies``)."""
    if request.method not in db.WRITE_METHODS or not request.path.startswith("/api/"):
        return
    has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get(
        "Transfer-Encoding", ""
    ).lower()
    if has_body and request.mimetype not in JSON_MIMETYPES:
        raise ServiceError(code="unsupported_media_type")
    if has_body:
        json_body_check(request.get_data(cache=True))
