"""GTINs: every length GS1 issues is accepted and kept as GTIN-14; a wrong check digit is not."""

import pytest

from labels.gtin import GTIN_MESSAGE, check_digit, normalise_gtin


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("96385074", "00000096385074"),  # GTIN-8
        ("036000291452", "00036000291452"),  # GTIN-12 (UPC-A)
        ("6901234567892", "06901234567892"),  # GTIN-13, a Chinese prefix
        ("14006381333938", "14006381333938"),  # GTIN-14
        (" 6 901234 567892 ", "06901234567892"),  # spaces as printed under a barcode
        ("690-1234-567892", "06901234567892"),
    ],
)
def test_valid_gtins_are_normalised_to_14_digits(given, stored):
    assert normalise_gtin(given) == stored


@pytest.mark.parametrize(
    "given",
    [
        "6901234567891",  # check digit off by one
        "690123456789",  # 12 digits whose last is not their check digit
        "1234567",  # 7 digits
        "123456789012345",  # 15 digits
        "69012345678a2",
        "６９０１２３４５６７８９２",  # full-width digits
        "",
    ],
)
def test_invalid_gtins_are_refused(given):
    with pytest.raises(ValueError, match="Not a valid GTIN"):
        normalise_gtin(given)
    assert GTIN_MESSAGE.startswith("Not a valid GTIN")


def test_the_check_digit_is_gs1_mod_10():
    # 6 9 0 1 2 3 4 5 6 7 8 9 weighted 1,3,1,3… from the left for 12 digits: sum 108 → 2.
    assert check_digit("690123456789") == "2"
