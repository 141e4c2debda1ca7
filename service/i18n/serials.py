"""The words for the serials an allocation part took: "serials 1000001–1000006 and 0.25 t of
1000007" ("序列号 1000001–1000006 及 1000007 的 0.25 t"), never a retirement's whole range.

A pure function of the part and a gettext catalogue (anything with ``pgettext``): a part is at
most three pieces, the grams of a partial first serial, the whole serials, the grams of a partial
last serial; each piece and each way of joining them is a msgid, so the Chinese can order its
words its own way (the whole serials say 序列号 only when they come first). Tonnes are exact
decimals of the grams: 250,000 g is 0.25 t, 1 g is 0.000001 t.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

from service.base.units import GRAMS_PER_TONNE
from service.i18n.names import NP_

#: The gettext context of the msgids here, and of whole serials after a partial one (the same
#: English, their own Chinese).
CONTEXT = "serials"
CONTEXT_AFTER = "serials after a part"
#: Whole serials that begin the text, and those that follow a partial serial.
WHOLE_FIRST = {
    "one": NP_("serials", "serial {serial}"),
    "many": NP_("serials", "serials {first}–{last}"),
}
WHOLE_AFTER = {
    "one": NP_("serials after a part", "serial {serial}"),
    "many": NP_("serials after a part", "serials {first}–{last}"),
}
PARTIAL = NP_("serials", "{tonnes} t of {serial}")
#: Pieces joined: two, or three.
JOIN_TWO = NP_("serials", "{one} and {two}")
JOIN_THREE = NP_("serials", "{one}, {two} and {three}")


class Catalogue(Protocol):
    def pgettext(self, context: str, message: str) -> str: ...


def tonnes(grams: int) -> str:
    """Grams as exact tonnes: ``250000`` → ``"0.25"``, ``3000000`` → ``"3"``."""
    value = Decimal(grams) / GRAMS_PER_TONNE
    return format(value.normalize(), "f")


def serials_words(part: Mapping[str, int], catalogue: Catalogue) -> str:
    """The serials of ``part`` (``serial_start``, ``serial_end``, ``first_serial_g``,
    ``last_serial_g``, as ``ledger.credits.disclosure.part_serials`` gives them) in words.

    >>> import gettext
    >>> part = {"serial_start": 1000001, "serial_end": 1000007,
    ...         "first_serial_g": 1000000, "last_serial_g": 250000}
    >>> serials_words(part, gettext.NullTranslations())
    'serials 1000001–1000006 and 0.25 t of 1000007'
    """

    def say(message: str, context: str = CONTEXT, **params: object) -> str:
        return catalogue.pgettext(context, message).format(**params)

    first, last = part["serial_start"], part["serial_end"]
    first_g, last_g = part["first_serial_g"], part["last_serial_g"]
    if first == last:
        if first_g == GRAMS_PER_TONNE:
            return say(WHOLE_FIRST["one"], serial=first)
        return say(PARTIAL, tonnes=tonnes(first_g), serial=first)
    head = first_g < GRAMS_PER_TONNE
    tail = last_g < GRAMS_PER_TONNE
    whole_first, whole_last = first + head, last - tail
    pieces = []
    if head:
        pieces.append(say(PARTIAL, tonnes=tonnes(first_g), serial=first))
    if whole_first <= whole_last:
        table, context = (WHOLE_AFTER, CONTEXT_AFTER) if head else (WHOLE_FIRST, CONTEXT)
        if whole_first == whole_last:
            pieces.append(say(table["one"], context, serial=whole_first))
        else:
            pieces.append(say(table["many"], context, first=whole_first, last=whole_last))
    if tail:
        pieces.append(say(PARTIAL, tonnes=tonnes(last_g), serial=last))
    if len(pieces) == 1:
        return pieces[0]
    if len(pieces) == 2:
        return say(JOIN_TWO, one=pieces[0], two=pieces[1])
    return say(JOIN_THREE, one=pieces[0], two=pieces[1], three=pieces[2])
