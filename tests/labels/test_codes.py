"""Unit codes: stateless serials that verify for their lot only, fit GS1 AI 21 and the WeChat
scene, and reject every single-character alteration."""

import string

import pytest

from labels.codes import (
    ALPHABET,
    MAC_BITS,
    SERIAL_MAX_CHARS,
    CodeInvalid,
    index_width,
    lot_key,
    scene_for,
    serial_for,
    serial_verify,
    serials,
)

MASTERS = {"A": bytes(range(32)), "B": bytes(range(32, 64))}
GTIN = "06901234567892"
#: GS1 General Specifications Figure 7.11-1: the 82 characters AI 21 may use.
GS1_AI_21 = set(string.ascii_letters + string.digits + "!\"%&'()*+,-./:;<=>?_")
#: WeChat getwxacodeunlimit: the characters a scene may use.
WECHAT_SCENE = set(string.ascii_letters + string.digits + "!#$&'()*+,/:;=?@-._~")


def lianta_lot(units=1_000, lot="LT2026A", key_id="A"):
    return lot_key(MASTERS, key_id, gtin=GTIN, lot=lot, units=units)


def test_a_serial_names_its_unit_and_only_for_its_lot():
    lot = lianta_lot()
    serial = serial_for(lot, 417)
    assert serial_verify(lot, serial) == 417
    with pytest.raises(CodeInvalid):
        serial_verify(lianta_lot(lot="LT2026B"), serial)
    with pytest.raises(CodeInvalid):
        serial_verify(
            lot_key(MASTERS, "A", gtin="00000096385074", lot="LT2026A", units=1_000), serial
        )


def test_every_single_character_alteration_is_rejected():
    lot = lianta_lot()
    serial = serial_for(lot, 5)
    altered = 0
    for position in range(len(serial)):
        for character in ALPHABET:
            if character == serial[position]:
                continue
            forged = serial[:position] + character + serial[position + 1 :]
            with pytest.raises(CodeInvalid):
                serial_verify(lot, forged)
            altered += 1
    assert altered == len(serial) * 31


@pytest.mark.parametrize(
    "forged", ["", "A", "AAB", "a" * 11, "AB0CDEFGHIJK", "AB" + "A" * 20, 12345]
)
def test_malformed_serials_are_rejected(forged):
    with pytest.raises(CodeInvalid):
        serial_verify(lianta_lot(), forged)


def test_the_mac_has_40_bits_and_the_serial_fits_gs1_and_wechat():
    assert MAC_BITS >= 40
    biggest = lianta_lot(units=10_000_000)
    for index in (0, 1, 9_999_999):
        serial = serial_for(biggest, index)
        assert len(serial) <= 20 and len(serial) <= SERIAL_MAX_CHARS
        assert set(serial) <= GS1_AI_21 & WECHAT_SCENE
        scene = scene_for(2_000_000, serial)
        assert len(scene) <= 32 and set(scene) <= WECHAT_SCENE


def test_bulk_generation_matches_one_at_a_time():
    for units in (5, 32, 33, 1_024, 1_025, 40_000):
        lot = lianta_lot(units=units)
        generated = list(serials(lot))
        assert len(generated) == units
        for index in {0, 1, units // 2, units - 1}:
            assert generated[index] == serial_for(lot, index)
            assert serial_verify(lot, generated[index]) == index
        assert len(set(generated)) == units
    lot = lianta_lot(units=100)
    assert list(serials(lot, 10, 13)) == [serial_for(lot, i) for i in (10, 11, 12)]


def test_master_keys_rotate_by_key_id():
    old, new = lianta_lot(key_id="A"), lianta_lot(key_id="B")
    serial = serial_for(new, 7)
    assert serial.startswith("B")
    assert serial_verify(new, serial) == 7
    with pytest.raises(CodeInvalid):
        serial_verify(old, serial)


def test_an_index_beyond_the_lot_is_rejected_even_with_a_valid_mac():
    serial = serial_for(lianta_lot(units=100), 99)
    with pytest.raises(CodeInvalid):
        serial_verify(lianta_lot(units=50), serial)


def test_index_widths_and_limits():
    assert [index_width(n) for n in (1, 1024, 1025, 32**3, 32**3 + 1)] == [2, 2, 3, 3, 4]
    with pytest.raises(ValueError):
        lianta_lot(units=0)
    with pytest.raises(ValueError):
        lot_key({"A": b"short"}, "A", gtin=GTIN, lot="x", units=1)
    with pytest.raises(ValueError):
        lot_key(MASTERS, "0", gtin=GTIN, lot="x", units=1)
