"""The GS1 Digital Link resolver: the path printed in every QR code, for phone browsers (HTML,
zh-CN by default, en on request), mini-programs (JSON, or a WeChat ``scene``) and GS1 clients
(``?linkType=all`` as an RFC 9264 linkset; a single link type as a 307 to its target).

Forged and unknown codes get a page (or JSON) that says so, with 404; a revoked unit or label is
shown as revoked, never as genuine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, current_app, g, jsonify, redirect, render_template, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from labels.lots import LOT_NUMBER_MAX_CHARS
from labels.resolver import Outcome, Resolution, json_ready, resolve, resolve_scene
from labels.scans import scan_counter
from service.auth.authz import current_principal
from service.base.exceptions import ServiceError
from service.base.units import SHANGHAI
from service.db import get_session, utcnow
from service.extensions import rate_limited, redis_client, redis_outage, shared_cache
from service.i18n import use_locale
from service.signing import log_signer

#: The package's templates (labels/templates), beside its domain modules, not this web face.
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
blp = Blueprint(
    "resolver",
    __name__,
    description="GS1 Digital Link resolution of printed codes.",
    template_folder=str(TEMPLATES),
    # The scan page's stylesheet (labels/static), a file because the CSP allows no inline style.
    static_folder=str(TEMPLATES.parent / "static"),
    static_url_path="/static/labels",
)
LINK_TYPES = {
    "gs1:pip": ("https://gs1.org/voc/pip", "", "产品信息", "Product information"),
    "gs1:certificationInfo": (
        "https://gs1.org/voc/certificationInfo",
        "#certification",
        "标签认证",
        "Label certification",
    ),
    "gs1:sustainabilityInfo": (
        "https://gs1.org/voc/sustainabilityInfo",
        "#footprint",
        "碳足迹",
        "Carbon footprint",
    ),
    "gs1:traceability": (
        "https://gs1.org/voc/traceability",
        "#backing",
        "碳汇来源",
        "Credits behind this product",
    ),
}
LINKSET_TYPE = "application/linkset+json"
#: A unit's page changes with every scan (its count), so caches must revalidate it; a linkset
#: names only links and may be kept a while.
PAGE_CACHE_CONTROL = "private, no-cache"
LINKSET_MAX_AGE_S = 300
LANGUAGES = ("zh-CN", "en")


class ResolveQuerySchema(Schema):
    linkType = fields.String(validate=validate.Length(max=64))  # noqa: N815 - GS1's name
    lang = fields.String(validate=validate.OneOf(LANGUAGES))
    region = fields.String(
        validate=validate.Regexp(r"^\d{6}$"),
        metadata={"description": "The scanner's GB/T 2260 region code, when the client knows it."},
    )


class SceneQuerySchema(Schema):
    scene = fields.String(required=True, validate=validate.Length(min=1, max=32))
    region = fields.String(validate=validate.Regexp(r"^\d{6}$"))


def _language(query: dict) -> str:
    if "lang" in query:
        return query["lang"]
    return (
        request.accept_languages.best_match(["zh-CN", "zh", "en"], default="zh-CN")
        .replace("zh", "zh-CN")
        .replace("zh-CN-CN", "zh-CN")
    )


def _user_id() -> int | None:
    try:
        principal = current_principal(optional=True)
    except ServiceError:
        return None
    return principal.user_id if principal else None


def _options(region: str | None) -> dict[str, Any]:
    """What resolving takes from the app and the request besides the code itself."""
    counter = scan_counter(redis_client(), current_app.config["CACHE_KEY_PREFIX"], redis_outage())
    # A scan writes (its count embedded, its event in production), though this is a GET: it is
    # committed before the answer, so an answered scan is never lost.
    g.commit_read = True
    return {
        "master_keys": current_app.config["UNIT_CODE_MASTER_KEYS"],
        "now": utcnow(),
        "region_code": region,
        "user_id": _user_id(),
        "warning_count": current_app.config["RESOLVER_SCAN_WARNING_COUNT"],
        "cache": shared_cache(),
        "counter": counter,
    }


def _resolve(gtin: str, lot: str, serial: str | None, region: str | None) -> Resolution:
    return resolve(get_session(), gtin=gtin, lot_number=lot, serial=serial, **_options(region))


def _linkset(anchor: str, resolution: Resolution) -> Response:
    links: dict[str, Any] = {"anchor": anchor}
    for _name, (relation, fragment, title_zh, title_en) in LINK_TYPES.items():
        links[relation] = [
            {
                "href": anchor + fragment,
                "title": title_zh,
                "hreflang": ["zh-CN"],
                "type": "text/html",
            },
            {
                "href": anchor + "?lang=en" + fragment,
                "title": title_en,
                "hreflang": ["en"],
                "type": "text/html",
            },
        ]
    # What the scan found rides on the default link as an extension target attribute (RFC 9264
    # section 4.2.4.3), so a client reading only the linkset still sees revoked or suspended.
    links["https://gs1.org/voc/defaultLink"] = [
        {"href": anchor, "type": "text/html", "outcome": [resolution.outcome.value]}
    ]
    response = jsonify({"linkset": [links]})
    response.mimetype = LINKSET_TYPE
    response.headers["Cache-Control"] = f"public, max-age={LINKSET_MAX_AGE_S}"
    return _conditional(response)


def _conditional(response: Response) -> Response:
    """An ETag over the body, and 304 when the client holds it already."""
    response.add_etag()
    return response.make_conditional(request)


def _answer(anchor: str, resolution: Resolution, query: dict) -> Response:
    status = 404 if resolution.outcome in (Outcome.FORGED, Outcome.UNKNOWN) else 200
    link_type = query.get("linkType")
    if link_type == "all" or (request.accept_mimetypes.best == LINKSET_TYPE and status == 200):
        if status == 404:
            return _not_found_json(resolution)
        return _linkset(anchor, resolution)
    if link_type and status == 200:
        _, fragment, _, _ = LINK_TYPES.get(link_type, LINK_TYPES["gs1:pip"])
        return redirect(anchor + fragment, code=307)
    best = request.accept_mimetypes.best_match(["text/html", "application/json"], "text/html")
    if (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    ):
        response = jsonify(json_ready(resolution.record))
        response.status_code = status
        response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
        response.headers["Vary"] = "Accept"
        return _conditional(response) if status == 200 else response
    language = _language(query)
    use_locale(language)
    record = json_ready(resolution.record)
    if record.get("scans"):
        first = resolution.record["scans"]["first_scan_at"]
        record["scans"]["first_scan_local"] = first.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    html = render_template(
        "resolver.html",
        record=record,
        outcome=resolution.outcome.value,
        lang=language,
        anchor=anchor,
        verifier_key=log_signer().verifier_key,
    )
    response = Response(html, status=status, mimetype="text/html")
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept, Accept-Language"
    response.headers["Cache-Control"] = PAGE_CACHE_CONTROL
    return _conditional(response) if status == 200 else response


def _not_found_json(resolution: Resolution) -> Response:
    response = jsonify(resolution.record)
    response.status_code = 404
    return response


def _anchor(path: str) -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


#: GS1 AI 21 (serial) is at most 20 characters, like AI 10 (lot).
SERIAL_MAX_CHARS = 20
LOT_PATH = f"/01/<string(length=14):gtin>/10/<string(maxlength={LOT_NUMBER_MAX_CHARS}):lot>"


@blp.route(f"{LOT_PATH}/21/<string(maxlength={SERIAL_MAX_CHARS}):serial>")
class UnitLink(MethodView):
    decorators = [rate_limited("RATELIMIT_RESOLVER")]

    @blp.arguments(ResolveQuerySchema, location="query")
    @blp.response(200, description="The unit's page, record or linkset (by Accept and linkType).")
    @blp.alt_response(307, description="A single link type's target.")
    @blp.alt_response(404, description="A forged or unknown code.")
    def get(self, query: dict, gtin: str, lot: str, serial: str):
        """Resolve a unit's code: HTML for people, JSON for mini-programs, a linkset for GS1."""
        resolution = _resolve(gtin, lot, serial, query.get("region"))
        return _answer(_anchor(f"/01/{gtin}/10/{lot}/21/{serial}"), resolution, query)


@blp.route(LOT_PATH)
class LotLink(MethodView):
    decorators = [rate_limited("RATELIMIT_RESOLVER")]

    @blp.arguments(ResolveQuerySchema, location="query")
    @blp.response(200, description="The lot's page, record or linkset.")
    @blp.alt_response(307, description="A single link type's target.")
    @blp.alt_response(404, description="An unknown lot.")
    def get(self, query: dict, gtin: str, lot: str):
        """Resolve a lot-level code."""
        resolution = _resolve(gtin, lot, None, query.get("region"))
        return _answer(_anchor(f"/01/{gtin}/10/{lot}"), resolution, query)


@blp.route("/api/v1/scan")
class Scene(MethodView):
    decorators = [rate_limited("RATELIMIT_RESOLVER")]

    @blp.arguments(SceneQuerySchema, location="query")
    @blp.response(200, description="The same record the Digital Link gives, as JSON.")
    @blp.alt_response(404, description="A forged or unknown code.")
    def get(self, query: dict):
        """Resolve a WeChat mini-program code's ``scene`` (``{lot id}.{serial}``)."""
        resolution = resolve_scene(
            get_session(), scene=query["scene"], **_options(query.get("region"))
        )
        response = jsonify(json_ready(resolution.record))
        response.status_code = (
            404 if resolution.outcome in (Outcome.FORGED, Outcome.UNKNOWN) else 200
        )
        return response
