"""Unified social credit codes, GB/T 2260 region codes and mobile numbers."""

import pytest

from service.base.parties.identifiers import (
    PILOT_REGION_CODES,
    REGION_NAMES_ZH,
    normalise_mobile,
    normalise_region_code,
    normalise_uscc,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("91110000600037341L", "91110000600037341L"),
        (" 91310118ma1fl4xq09 ", "91310118MA1FL4XQ09"),
        ("91320509-MA1NQ7K2TQ", "91320509MA1NQ7K2TQ"),
    ],
)
def test_valid_unified_social_credit_codes(raw, expected):
    assert normalise_uscc(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "91110000600037341A",  # wrong check character
        "9111000060003734",  # too short
        "91110000600037341LX",  # too long
        "I1110000600037341L",  # I is not in the alphabet
        "",
    ],
)
def test_invalid_unified_social_credit_codes(raw):
    with pytest.raises(ValueError, match="unified social credit code"):
        normalise_uscc(raw)


def test_the_pilot_areas_are_known_regions():
    assert PILOT_REGION_CODES == ("310118", "320509", "330421")
    assert REGION_NAMES_ZH["310118"] == "上海市青浦区"
    assert REGION_NAMES_ZH["320509"] == "江苏省苏州市吴江区"
    assert REGION_NAMES_ZH["330421"] == "浙江省嘉兴市嘉善县"
    for code in PILOT_REGION_CODES:
        assert normalise_region_code(code) == code


@pytest.mark.parametrize("raw", ["310199", "999999", "31011", "abcdef", ""])
def test_unknown_region_codes(raw):
    with pytest.raises(ValueError, match="GB/T 2260"):
        normalise_region_code(raw)


def test_every_region_code_is_well_formed():
    for code in REGION_NAMES_ZH:
        assert len(code) == 6 and code.isdigit()
        assert code[:2] in {"31", "32", "33", "34"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13800138000", "13800138000"),
        ("+86 138-0013-8000", "13800138000"),
        ("008613800138000", "13800138000"),
    ],
)
def test_mobile_numbers(raw, expected):
    assert normalise_mobile(raw) == expected


@pytest.mark.parametrize("raw", ["12800138000", "1380013800", "+1 415 555 0100", ""])
def test_invalid_mobile_numbers(raw):
    with pytest.raises(ValueError):
        normalise_mobile(raw)
