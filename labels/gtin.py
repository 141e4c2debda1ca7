"""GTINs: validated by their check digit and kept in the 14-digit form GS1 Digital Link uses.

GTIN-8, -12 and -13 are the same number padded with leading zeros (GS1 General Specifications
§3.4.2: a GTIN in a 14-digit field is right-justified and zero-filled). Pure functions.
"""

from __future__ import annotations

from stdnum import ean

from service.base.exceptions import FieldMessage

GTIN_LENGTHS = (8, 12, 13, 14)
GTIN_MESSAGE = FieldMessage("Not a valid GTIN (8, 12, 13 or 14 digits with a correct check digit).")


def normalise_gtin(value: str) -> str:
    """Return the GTIN-14, or raise ``ValueError``.

    >>> normalise_gtin("6 901234 567892")
    '06901234567892'
    >>> normalise_gtin("96385074")
    '00000096385074'
    """
    compact = "".join((value or "").split()).replace("-", "")
    if not compact.isascii() or not compact.isdigit() or len(compact) not in GTIN_LENGTHS:
        raise ValueError(GTIN_MESSAGE)
    if not ean.is_valid(compact):
        raise ValueError(GTIN_MESSAGE)
    return compact.rjust(14, "0")


def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit of ``digits`` (everything but the check digit).

    >>> check_digit("690123456789")
    '2'
    """
    return ean.calc_check_digit(digits)
