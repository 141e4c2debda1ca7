"""What the API accepts as a JSON body, checked once before any schema reads it.

Python's JSON decoder recurses, so a body nested a thousand levels deep raises ``RecursionError``
instead of a decoding error; and JSON's ``\\u`` escapes can spell a lone UTF-16 surrogate, a
string no database can store. Both would reach the client as a 500. Here either is the client's
malformed JSON (``invalid_json``, 400), refused before anything is read or written.
"""

from __future__ import annotations

import json
from typing import Any

from service.base.exceptions import ErrorCode, ServiceError

#: How deeply a body's objects and arrays may nest; the API's own bodies nest three levels.
JSON_NESTING_MAX = 32


def json_body_check(data: bytes) -> None:
    """Refuse a body that is not JSON, nests deeper than :data:`JSON_NESTING_MAX`, or holds a
    string (key or value) with a lone surrogate."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise ServiceError(code=ErrorCode.INVALID_JSON) from None
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth >= JSON_NESTING_MAX:
                raise ServiceError(
                    code=ErrorCode.INVALID_JSON, params={"nesting_max": JSON_NESTING_MAX}
                )
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in items:
                if isinstance(key, str):
                    _text_check(key)
                pending.append((child, depth + 1))
        elif isinstance(value, str):
            _text_check(value)


def _text_check(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ServiceError(code=ErrorCode.INVALID_JSON) from None
