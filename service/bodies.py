"""What the API accepts as a JSON body, checked once before any schema reads it; and a body
sent in chunks held to the same size limit as one with a length.

Python's JSON decoder recurses, so a body nested a thousand levels deep raises ``RecursionError``
instead of a decoding error; and JSON's ``\\u`` escapes can spell a lone UTF-16 surrogate, a
string no database can store. Both would reach the client as a 500. Here either is the client's
malformed JSON (``invalid_json``, 400), refused before anything is read or written.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from werkzeug.exceptions import RequestEntityTooLarge

from service.base.exceptions import ErrorCode, ServiceError

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

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


#: Set in the WSGI environment when a chunked body went past the limit.
CHUNKED_TOO_LARGE = "tanhui.chunked_body_too_large"
_CHUNK_READ_BYTES = 64 * 1024


class ChunkedBodyLimit:
    """WSGI middleware: a body sent with ``Transfer-Encoding: chunked`` and no Content-Length
    is read here, at most ``limit_bytes`` and one more, and handed on with its length.

    Werkzeug stops reading such a body at ``MAX_CONTENT_LENGTH`` without saying so, so a body
    over the limit reached the views cut short, and answered 400 (broken JSON) or 401 (a
    signature over other bytes). Over the limit it is now marked, and ``chunked_body_check``
    answers 413 in the error shape before anything reads it. Only servers that end the stream
    themselves (``wsgi.input_terminated``: gunicorn, werkzeug's) hand such a body on at all."""

    def __init__(self, app: WSGIApplication, *, limit_bytes: int) -> None:
        self.app = app
        self.limit_bytes = limit_bytes

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            data = _read_at_most(environ["wsgi.input"], self.limit_bytes + 1)
            if len(data) > self.limit_bytes:
                environ[CHUNKED_TOO_LARGE] = True
                data = b""
            environ["wsgi.input"] = io.BytesIO(data)
            environ["CONTENT_LENGTH"] = str(len(data))
        return self.app(environ, start_response)


def _read_at_most(stream: IO[bytes], limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < limit:
        part = stream.read(min(_CHUNK_READ_BYTES, limit - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def chunked_body_check(environ: WSGIEnvironment) -> None:
    """413 for a chunked body ``ChunkedBodyLimit`` found over the limit."""
    if environ.get(CHUNKED_TOO_LARGE):
        raise RequestEntityTooLarge()
