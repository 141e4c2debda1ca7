"""What the labels API's resource modules share: who counts as staff, page sizes, row ids, and
the exact decimal fields footprints and benchmarks are written in."""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Any

from marshmallow import ValidationError, fields

PAGE_SIZE_DEFAULT = 20
STAFF_ROLES = ("enterprise_staff", "operator", "certifier", "auditor")
#: Row ids are 32-bit integers.
ID_MAX = 2**31 - 1


def positive(value: Any) -> None:
    if value <= 0:
        raise ValidationError("Must be greater than 0.")


def non_negative(value: Any) -> None:
    if value < 0:
        raise ValidationError("Must be greater than or equal to 0.")


def entries(low: int, high: int) -> Callable[[Sized], None]:
    """A validator for a mapping of ``low`` to ``high`` entries."""

    def check(value: Sized) -> None:
        if not low <= len(value) <= high:
            raise ValidationError(f"Length must be between {low} and {high}.")

    return check


class DecimalString(fields.Decimal):
    """A decimal given as a JSON string or number, rendered as a string (exact)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(places=4, as_string=True, allow_nan=False, **kwargs)
