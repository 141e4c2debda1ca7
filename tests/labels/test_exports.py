"""Print exports, checked by an independent GS1 parser (biip): every URI carries a GTIN with a
valid check digit, AIs 01, 10 and 21 in that order, and values in the GS1 character sets."""

import io
import string
import xml.etree.ElementTree as ET

import pytest
from biip import parse
from PIL import Image

from labels.codes import lot_key, serial_for
from labels.exports import (
    CSV_HEADER,
    SHEET_CODES_MAX,
    csv_chunks,
    digital_link,
    qr_png,
    qr_svg,
    sheet_svg,
)

BASE = "https://tanhui.example.cn"
GS1_AI_82 = set(string.ascii_letters + string.digits + "!\"%&'()*+,-./:;<=>?_")


def lianta(units):
    return lot_key(
        {"A": bytes(range(32))}, "A", gtin="06901234567892", lot="LT-2026.A_1", units=units
    )


def gs1_values(uri):
    result = parse(uri)
    assert result.gs1_digital_link_uri_error is None, result.gs1_digital_link_uri_error
    strings = result.gs1_digital_link_uri.element_strings
    return [(element.ai.ai, element.value) for element in strings], strings[0].gtin


def test_every_uri_of_a_csv_export_parses_as_gs1_digital_link():
    text = "".join(csv_chunks(BASE, lianta(3_000)))
    lines = text.splitlines()
    assert lines[0] + "\n" == CSV_HEADER
    assert len(lines) == 3_001
    key = lianta(3_000)
    for line in lines[1::97]:
        index, serial, uri = line.split(",")
        assert serial == serial_for(key, int(index))
        values, gtin = gs1_values(uri)
        assert [ai for ai, _ in values] == ["01", "10", "21"]
        assert values[0][1] == "06901234567892" and gtin.check_digit == 2
        assert values[1][1] == "LT-2026.A_1" and values[2][1] == serial
        assert set(values[1][1]) <= GS1_AI_82 and set(serial) <= GS1_AI_82
        assert len(serial) <= 20


def test_a_lot_level_uri_names_gtin_and_lot():
    values, _ = gs1_values(digital_link(BASE, "06901234567892", "LT2026A"))
    assert values == [("01", "06901234567892"), ("10", "LT2026A")]


def test_export_is_streamed_in_chunks():
    chunks = csv_chunks(BASE, lianta(50_000))
    sizes = [len(chunk) for chunk in chunks]
    assert len(sizes) > 10
    assert max(sizes) < 70 * 1024


def test_single_codes_as_svg_and_png():
    uri = digital_link(BASE, "06901234567892", "LT2026A", serial_for(lianta(10), 3))
    svg = ET.fromstring(qr_svg(uri, "caption & co"))  # noqa: S314 - our own output
    assert svg.tag.endswith("svg")
    image = Image.open(io.BytesIO(qr_png(uri)))
    assert image.format == "PNG" and image.size[0] == image.size[1] >= 200


def test_a_sheet_is_svg_and_bounded():
    key = lianta(600)
    items = [(digital_link(BASE, key.gtin, key.lot, serial_for(key, i)), str(i)) for i in range(12)]
    svg = ET.fromstring("".join(sheet_svg(items)))  # noqa: S314 - our own output
    paths = [element for element in svg if element.tag.endswith("path")]
    assert len(paths) == 12
    with pytest.raises(ValueError):
        list(sheet_svg(items * (SHEET_CODES_MAX // 12 + 1)))
