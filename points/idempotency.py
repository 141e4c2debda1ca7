"""A request's fingerprint, stored where its Idempotency-Key is stored.

A key used again answers the original only when the whole request is the same: the method, the
path, the query and every field of the body, as canonical JSON (``ledger.tlog.canonical``), so
key order and spacing do not matter and anything else does. A key sent with another request is
refused with ``idempotency_conflict`` naming the header, and nothing is written. Pure: the web
face hands in what it parsed.
"""

from __future__ import annotations

import hashlib

from ledger.tlog.canonical import canonical_json
from points.errors import IdempotencyConflict

#: A fingerprint is a SHA-256 in hex.
REQUEST_SHA256_CHARS = 64


def request_sha256(*, method: str, path: str, query: dict[str, list[str]], body: object) -> str:
    """The fingerprint of a request: SHA-256 of the canonical JSON of its parts.

    >>> a = request_sha256(method="POST", path="/p", query={}, body={"a": 1, "b": 2})
    >>> a == request_sha256(method="post", path="/p", query={}, body={"b": 2, "a": 1})
    True
    >>> a == request_sha256(method="POST", path="/p", query={}, body={"a": 1, "b": 3})
    False
    """
    whole = {"method": method.upper(), "path": path, "query": query, "body": body}
    return hashlib.sha256(canonical_json(whole).encode("utf-8", "surrogatepass")).hexdigest()


def request_same_check(stored: str | None, given: str) -> None:
    """Refuse a key used before for another request. Rows stored before fingerprints were kept
    (``None``) are compared by their own fields only, as they were."""
    if stored is not None and stored != given:
        raise IdempotencyConflict("Idempotency-Key", "Used for another request.")
