"""The words for an allocation part's serials, worked through in both languages: the exact
serials taken, with the tonnes of a partial first or last serial, never a retirement's range."""

import gettext

import pytest
from babel.support import Translations

from service.i18n import CHINESE, TRANSLATIONS, compile_catalogues
from service.i18n.serials import serials_words, tonnes

T = 1_000_000


@pytest.fixture(scope="module")
def chinese():
    compile_catalogues()
    return Translations.load(str(TRANSLATIONS), [CHINESE])


def part(serial_start, serial_end, first_serial_g, last_serial_g):
    return {
        "serial_start": serial_start,
        "serial_end": serial_end,
        "first_serial_g": first_serial_g,
        "last_serial_g": last_serial_g,
    }


# (the part, in Chinese, in English)
WORKED_EXAMPLES = [
    # A 6.25 t lot from the start of a retirement's range.
    (
        part(1_000_001, 1_000_007, T, 250_000),
        "序列号 1000001–1000006 及 1000007 的 0.25 t",
        "serials 1000001–1000006 and 0.25 t of 1000007",
    ),
    # Inside one serial.
    (part(1_000_007, 1_000_007, 250_000, 250_000), "1000007 的 0.25 t", "0.25 t of 1000007"),
    # Starting partway through a serial, ending on a whole one.
    (
        part(1_000_007, 1_000_010, 750_000, T),
        "1000007 的 0.75 t 及 1000008–1000010",
        "0.75 t of 1000007 and serials 1000008–1000010",
    ),
    # Partial at both ends, whole serials between.
    (
        part(1_000_007, 1_000_010, 750_000, 250_000),
        "1000007 的 0.75 t、1000008–1000009 及 1000010 的 0.25 t",
        "0.75 t of 1000007, serials 1000008–1000009 and 0.25 t of 1000010",
    ),
    # Partial at both ends, one whole serial between.
    (
        part(1_000_007, 1_000_009, 750_000, 250_000),
        "1000007 的 0.75 t、1000008 及 1000009 的 0.25 t",
        "0.75 t of 1000007, serial 1000008 and 0.25 t of 1000009",
    ),
    # Partial at both ends, nothing whole: two neighbouring serials.
    (
        part(1_000_007, 1_000_008, 750_000, 250_000),
        "1000007 的 0.75 t 及 1000008 的 0.25 t",
        "0.75 t of 1000007 and 0.25 t of 1000008",
    ),
    # Whole serials only: one, and many.
    (part(1_000_001, 1_000_001, T, T), "序列号 1000001", "serial 1000001"),
    (part(1_000_001, 1_000_300, T, T), "序列号 1000001–1000300", "serials 1000001–1000300"),
    # One whole serial, then part of the next.
    (
        part(1_000_001, 1_000_002, T, 1),
        "序列号 1000001 及 1000002 的 0.000001 t",
        "serial 1000001 and 0.000001 t of 1000002",
    ),
    # The 625,000 g of a 100-bag lot of 6.25 kg.
    (part(1_000_001, 1_000_001, 625_000, 625_000), "1000001 的 0.625 t", "0.625 t of 1000001"),
]


@pytest.mark.parametrize(("given", "zh", "en"), WORKED_EXAMPLES)
def test_the_serials_of_a_part_in_words(chinese, given, zh, en):
    assert serials_words(given, chinese) == zh
    assert serials_words(given, gettext.NullTranslations()) == en


@pytest.mark.parametrize(
    ("grams", "shown"),
    [(250_000, "0.25"), (3 * T, "3"), (1, "0.000001"), (6_250_000, "6.25"), (10 * T, "10")],
)
def test_grams_are_shown_as_exact_tonnes(grams, shown):
    assert tonnes(grams) == shown
