"""The points blueprint, and what its resources share: the Idempotency-Key header and the
fingerprint of the request it was sent with, page sizes, the status filter."""

from __future__ import annotations

from flask import request
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from points import idempotency
from service.base.exceptions import FieldMessage, ValidationFailed

blp = Blueprint(
    "points",
    "points.api",
    url_prefix="/api/v1/points",
    description="Carbon points (rewards, not claims).",
)
IDEMPOTENCY_KEY_MAX_CHARS = 128
PAGE_SIZE_DEFAULT = 20


def idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "")
    if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX_CHARS:
        raise ValidationFailed(
            fields={
                "Idempotency-Key": [
                    FieldMessage(
                        "Required, 1 to {idempotency_key_max_chars} characters.",
                        idempotency_key_max_chars=IDEMPOTENCY_KEY_MAX_CHARS,
                    )
                ]
            }
        )
    return key


def request_sha256() -> str:
    """The fingerprint of this request (method, path, query, parsed body), stored with its
    Idempotency-Key so that the key answers the same request only."""
    return idempotency.request_sha256(
        method=request.method,
        path=request.path,
        query=request.args.to_dict(flat=False),
        body=request.get_json(silent=True),
    )


class StatusQuerySchema(Schema):
    status = fields.String()
