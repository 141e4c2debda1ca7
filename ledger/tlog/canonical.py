"""Canonical JSON: the exact bytes that idempotency comparisons and log leaves are made of."""

from __future__ import annotations

import json
from typing import Any

_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text as is.

    >>> canonical_json({"b": 1, "a": ["碳", 2]})
    '{"a":["碳",2],"b":1}'
    """
    return _ENCODER.encode(value)
