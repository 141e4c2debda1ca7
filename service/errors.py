"""Every failure leaves as one JSON shape, localised by ``Accept-Language``::

    {"code": "validation_failed", "status": 422, "message": "Some fields are invalid.",
     "fields": [{"field": "code", "location": "json", "message": "Missing data for required…"}],
     "request_id": "9f0c..."}

``code`` is a closed set (see ``service.i18n.MESSAGES``); ``fields`` is present only when fields are
to blame. Messages are gettext msgids, translated here, at the edge, in the request's language.
Stack traces go to the log under the request id, never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from flask import Flask, Response, current_app, g, jsonify
from marshmallow import Schema, fields
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from labels.errors import ErrorCode as LabelsCode
from ledger.errors import ErrorCode as LedgerCode
from points.errors import ErrorCode as PointsCode
from service.auth.errors import ErrorCode as SignInCode
from service.base.exceptions import ErrorCode as GroundCode
from service.base.exceptions import ServiceError, Upstream
from service.i18n import error_message, field_message, request_locale

log = logging.getLogger("tanhui.errors")

# -- the one table from error codes to HTTP statuses ----------------------------------------------
# A section per package; a test checks that every code of every package's enum has a status and
# that no code appears in two sections.
_GROUND: dict[str, int] = {
    GroundCode.BAD_REQUEST: 400,
    GroundCode.INVALID_JSON: 400,
    GroundCode.AUTHENTICATION_REQUIRED: 401,
    GroundCode.FORBIDDEN: 403,
    GroundCode.ROLE_REQUIRED: 403,
    GroundCode.ORGANISATION_SUSPENDED: 403,
    GroundCode.NOT_FOUND: 404,
    GroundCode.METHOD_NOT_ALLOWED: 405,
    GroundCode.CONFLICT: 409,
    GroundCode.ALREADY_EXISTS: 409,
    GroundCode.ORGANISATION_NOT_APPROVED: 409,
    GroundCode.INVITATION_NOT_PENDING: 409,
    GroundCode.INVITATIONS_TOO_MANY: 409,
    GroundCode.PAYLOAD_TOO_LARGE: 413,
    GroundCode.UNSUPPORTED_MEDIA_TYPE: 415,
    GroundCode.VALIDATION_FAILED: 422,
    GroundCode.RATE_LIMITED: 429,
    GroundCode.INTERNAL_ERROR: 500,
    GroundCode.SERVICE_UNAVAILABLE: 503,
}
_SIGN_IN: dict[str, int] = {
    SignInCode.TOKEN_INVALID: 401,
    SignInCode.TOKEN_EXPIRED: 401,
    SignInCode.SESSION_REVOKED: 401,
    SignInCode.REFRESH_TOKEN_INVALID: 401,
    SignInCode.REFRESH_TOKEN_REUSED: 401,
    SignInCode.INVALID_CREDENTIALS: 401,
    SignInCode.SIGN_IN_THROTTLED: 429,
    SignInCode.CHALLENGE_REQUIRED: 401,
    SignInCode.ACCOUNT_DISABLED: 403,
    SignInCode.PHONE_TAKEN: 409,
    SignInCode.WECHAT_NOT_CONFIGURED: 503,
    SignInCode.WECHAT_CODE_INVALID: 400,
    SignInCode.WECHAT_CODE_USED: 400,
    SignInCode.WECHAT_RATE_LIMITED: 429,
    SignInCode.WECHAT_HIGH_RISK_USER: 403,
    SignInCode.WECHAT_BUSY: 503,
    SignInCode.WECHAT_PHONE_CODE_INVALID: 400,
    SignInCode.WECHAT_MISCONFIGURED: 502,
    SignInCode.WECHAT_ERROR: 502,
    SignInCode.WECHAT_UNAVAILABLE: 502,
    SignInCode.WECHAT_SCENE_INVALID: 400,
    SignInCode.WECHAT_PAGE_INVALID: 400,
    SignInCode.WECHATPAY_NOT_CONFIGURED: 503,
    SignInCode.WECHATPAY_UNAVAILABLE: 502,
}
_LEDGER: dict[str, int] = {
    LedgerCode.IDEMPOTENCY_CONFLICT: 409,
    LedgerCode.ACCOUNT_NOT_FOUND: 404,
    LedgerCode.ACCOUNT_CONFLICT: 409,
    LedgerCode.ASSET_MISMATCH: 422,
    LedgerCode.UNBALANCED: 422,
    LedgerCode.AMOUNT_INVALID: 422,
    LedgerCode.ENTRY_INVALID: 422,
    LedgerCode.INSUFFICIENT_FUNDS: 409,
    LedgerCode.LOT_INVALID: 422,
    LedgerCode.HOLD_NOT_FOUND: 404,
    LedgerCode.HOLD_NOT_PENDING: 409,
    LedgerCode.HOLD_EXPIRED: 409,
    LedgerCode.HOLD_AMOUNT_EXCEEDED: 422,
    LedgerCode.ENTRY_NOT_FOUND: 404,
    LedgerCode.ALREADY_REVERSED: 409,
    LedgerCode.BATCH_TOO_LARGE: 413,
    LedgerCode.CREDIT_IMPORT_REJECTED: 422,
    LedgerCode.CREDIT_REGISTRY_NOT_FOUND: 404,
    LedgerCode.CREDIT_BATCH_NOT_FOUND: 404,
    LedgerCode.CREDIT_RETIREMENT_INVALID: 422,
    LedgerCode.CREDIT_RETIREMENT_NOT_FOUND: 404,
    LedgerCode.CREDITS_INSUFFICIENT: 409,
    LedgerCode.CREDIT_ALLOCATION_INVALID: 422,
    LedgerCode.CREDIT_FINDING_NOT_FOUND: 404,
    LedgerCode.CREDIT_FINDING_RESOLVED: 409,
    LedgerCode.CREDIT_REGISTRY_REFUSED: 409,
    # Answered by its cause (502, 503 or 504) when the error names one.
    LedgerCode.CREDIT_REGISTRY_UNAVAILABLE: 503,
    LedgerCode.CREDIT_REGISTRY_NOT_CONFIGURED: 503,
    LedgerCode.LOG_TREE_SIZE_INVALID: 422,
    LedgerCode.LOG_LEAF_NOT_FOUND: 404,
}
_LABELS: dict[str, int] = {
    LabelsCode.GTIN_TAKEN: 409,
    LabelsCode.LABEL_TRANSITION_REFUSED: 409,
    LabelsCode.LABEL_BENCHMARK_NOT_MET: 409,
    LabelsCode.LABEL_NOT_CERTIFIED: 409,
    LabelsCode.LOT_STATE_CONFLICT: 409,
    LabelsCode.LABEL_CLAIM_BANNED_IN_MARKET: 422,
}
_POINTS: dict[str, int] = {
    PointsCode.CLAIM_CODE_INVALID: 422,
    PointsCode.CLAIM_CODE_REVOKED: 409,
    PointsCode.CLAIM_ENTERPRISE_SUSPENDED: 409,
    PointsCode.FARM_SHARES_PAID: 409,
    PointsCode.UNIT_ALREADY_CLAIMED: 409,
    PointsCode.POINTS_RULE_MISSING: 503,
    PointsCode.PRACTICE_DUPLICATE: 409,
    PointsCode.PRACTICE_DECIDED: 409,
    PointsCode.ITEM_CODE_TAKEN: 409,
    PointsCode.ITEM_UNAVAILABLE: 409,
    PointsCode.ITEM_NOT_FOR_PARTY: 403,
    PointsCode.REDEMPTION_LIMIT_REACHED: 409,
    PointsCode.POINTS_INSUFFICIENT: 409,
    PointsCode.OUT_OF_STOCK: 409,
    PointsCode.ORDER_STATE_CONFLICT: 409,
    PointsCode.PAYOUT_STATE_CONFLICT: 409,
    PointsCode.PAYOUTS_NONE_TO_EXPORT: 404,
    PointsCode.FLAG_RESOLVED: 409,
}
_PAGES: dict[str, int] = {
    "csrf_failed": 400,
    "publication_status_refused": 409,
}
SECTIONS = (_GROUND, _SIGN_IN, _LEDGER, _LABELS, _POINTS, _PAGES)
STATUS_BY_CODE: dict[str, int] = {
    code: status for section in SECTIONS for code, status in section.items()
}
#: An external service's failure, by its cause (RFC 9110 section 15.6).
STATUS_BY_UPSTREAM = {Upstream.BAD_ANSWER: 502, Upstream.UNREACHABLE: 503, Upstream.TIMEOUT: 504}


def status_of(error: ServiceError) -> int:
    """The HTTP status of a raised error: by its cause when an external service failed, else by
    its code."""
    if error.upstream is not None:
        return STATUS_BY_UPSTREAM[error.upstream]
    return STATUS_BY_CODE[error.code]


HTTP_CODES = {
    400: "bad_request",
    401: "authentication_required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "service_unavailable",
}
BODY_LOCATIONS = {"json", "form", "files"}


class FieldErrorSchema(Schema):
    field = fields.String(required=True, metadata={"description": "Dotted path of the field."})
    location = fields.String(metadata={"description": "json, query, path or headers."})
    message = fields.String(required=True)


class ErrorSchema(Schema):
    """The one error shape."""

    code = fields.String(required=True, metadata={"description": "Machine-readable error code."})
    status = fields.Integer(required=True)
    message = fields.String(required=True, metadata={"description": "zh-CN or en."})
    request_id = fields.String()
    field_errors = fields.List(fields.Nested(FieldErrorSchema), data_key="fields")


def error_response(
    code: str,
    status: int,
    *,
    params: Mapping[str, object] | None = None,
    field_errors: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    locale = request_locale()
    body: dict[str, Any] = {
        "code": code,
        "status": status,
        "message": error_message(code, params),
        "request_id": g.get("request_id", ""),
    }
    if field_errors:
        body["fields"] = [
            {**error, "message": field_message(error["message"])} for error in field_errors
        ]
    page = current_app.extensions.get("tanhui.error_page") if g.get("page") else None
    if page is not None:  # a page, not the API: the same error as HTML
        response = page(code, status, body["message"], body.get("fields", []))
    else:
        response = jsonify(body)
        response.status_code = status
    response.headers["Content-Language"] = locale
    response.headers["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def flatten_messages(
    messages: Any, location: str | None = None, prefix: str = ""
) -> Iterator[dict[str, str]]:
    """Turn marshmallow/webargs nested messages into ``{field, location, message}`` rows."""
    if isinstance(messages, str):
        name = prefix or ("body" if location in BODY_LOCATIONS else location or "body")
        row = {"field": name, "message": messages}
        if location:
            row["location"] = location
        yield row
    elif isinstance(messages, list | tuple):
        for message in messages:
            yield from flatten_messages(message, location, prefix)
    elif isinstance(messages, Mapping):
        for key, value in messages.items():
            key = str(key)
            child = prefix if key == "_schema" else (f"{prefix}.{key}" if prefix else key)
            yield from flatten_messages(value, location, child)


def _service_error(error: ServiceError) -> Response:
    if error.persist_changes:
        g.persist_on_error = True
    rows = [
        {"field": name, "message": message}
        for name, messages in error.fields.items()
        for message in messages
    ]
    return error_response(
        error.code, status_of(error), params=error.params, field_errors=rows, headers=error.headers
    )


def _http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    code = HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    params: dict[str, object] = {}
    rows: list[dict[str, str]] = []
    data = getattr(error, "data", None) or {}
    messages = data.get("messages")
    if status == 413:
        params["limit_bytes"] = current_app.config["MAX_CONTENT_LENGTH"]
    if messages:
        for location, location_messages in messages.items():
            rows.extend(flatten_messages(location_messages, location))
        if status == 400 and any("Invalid JSON body" in row["message"] for row in rows):
            code, rows = "invalid_json", []
    headers: dict[str, str] = {}
    valid_methods = getattr(error, "valid_methods", None)
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(sorted(valid_methods))
    headers.update(data.get("headers") or {})
    return error_response(code, status, params=params, field_errors=rows, headers=headers)


def _integrity_error(error: IntegrityError) -> Response:
    log.warning("integrity error mapped to 409", extra={"error": str(error.orig)[:500]})
    return error_response("conflict", 409)


def _data_error(error: DataError) -> Response:
    """A value the database cannot hold slipped past validation: the client's input, not a crash."""
    log.warning("data error mapped to 400", extra={"error": str(error.orig)[:500]})
    return error_response("bad_request", 400)


def _operational_error(error: OperationalError) -> Response:
    log.exception("database unavailable")
    return error_response("service_unavailable", 503, headers={"Retry-After": "5"})


def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return _http_exception(error)
    log.exception("unhandled error")
    return error_response("internal_error", 500)


def commit_error_response(error: Exception) -> Response:
    """The response when the request layer's single commit fails."""
    if isinstance(error, IntegrityError):
        return _integrity_error(error)
    if isinstance(error, DataError):
        return _data_error(error)
    if isinstance(error, OperationalError):
        return _operational_error(error)
    return _unexpected(error)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(HTTPException, _http_exception)
    app.register_error_handler(IntegrityError, _integrity_error)
    app.register_error_handler(DataError, _data_error)
    app.register_error_handler(OperationalError, _operational_error)
    app.register_error_handler(Exception, _unexpected)
