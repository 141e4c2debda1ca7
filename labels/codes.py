"""Unit codes: stateless serials a lot of a million units needs no million rows for.

A serial is ``K + I + M``:

* ``K``, one character: the id of the master key the lot's key was derived from (so master keys
  can rotate: new lots use the newest, old lots keep verifying with theirs);
* ``I``: the unit's index in the lot, in base 32, ``index_width(units)`` characters;
* ``M``, eight characters: 40 bits of keyed BLAKE2b (RFC 7693) over the GTIN, the lot number and
  ``K + I``, under the lot's key. The lot key is HKDF-SHA256 of the master key, with the GTIN and
  lot number as context, so one lot's key reveals nothing of another's.

The alphabet is RFC 4648 base 32 (``A–Z``, ``2–7``): inside the GS1 AI 21 character set (82
characters) and the WeChat ``scene`` set, unambiguous when read aloud (no 0/O, 1/I), and free of
characters a URI path would escape. A serial is at most 1 + 7 + 8 = 16 characters (GS1 allows 20);
a WeChat scene ``{lot id}.{serial}`` stays within 32.

Pure: keys in, strings out. A forged or altered serial fails ``serial_verify``; revocation is kept
by the lot, as index ranges.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_VALUE = {character: number for number, character in enumerate(ALPHABET)}
MAC_BITS = 40
MAC_CHARS = MAC_BITS // 5
INDEX_WIDTH_MIN = 2
INDEX_WIDTH_MAX = 7
UNITS_PER_LOT_MAX = 32**INDEX_WIDTH_MAX  # 34,359,738,368
SERIAL_MAX_CHARS = 1 + INDEX_WIDTH_MAX + MAC_CHARS
LOT_KEY_BYTES = 32
#: Lot keys one process remembers once derived (least recently used go first).
LOT_KEYS_REMEMBERED_MAX = 4_096
MASTER_KEY_MIN_BYTES = 32
_INFO = b"tanhui unit codes v1"


class CodeInvalid(ValueError):
    """A serial that is malformed, altered or forged: the reason is for logs, never for clients."""


@dataclass(frozen=True)
class LotKey:
    key_id: str
    key: bytes
    gtin: str
    lot: str
    units: int

    @property
    def width(self) -> int:
        return index_width(self.units)


def index_width(units: int) -> int:
    """Base-32 characters needed for indexes 0 … units − 1 (at least ``INDEX_WIDTH_MIN``)."""
    if not 0 < units <= UNITS_PER_LOT_MAX:
        raise ValueError(f"a lot has 1 to {UNITS_PER_LOT_MAX} units")
    width = INDEX_WIDTH_MIN
    while 32**width < units:
        width += 1
    return width


def lot_key(
    master_keys: dict[str, bytes], key_id: str, *, gtin: str, lot: str, units: int
) -> LotKey:
    """Derive the lot's key from master key ``key_id`` (HKDF-SHA256, RFC 5869)."""
    if len(key_id) != 1 or key_id not in _VALUE:
        raise ValueError("a key id is one character of the alphabet")
    index_width(units)  # refuses a lot size outside the limits
    master = master_keys[key_id]
    if len(master) < MASTER_KEY_MIN_BYTES:
        raise ValueError(f"master keys have at least {MASTER_KEY_MIN_BYTES} bytes")
    return _lot_key_derive(master, key_id, gtin, lot, units)


@functools.lru_cache(maxsize=LOT_KEYS_REMEMBERED_MAX)
def _lot_key_derive(master: bytes, key_id: str, gtin: str, lot: str, units: int) -> LotKey:
    """HKDF for one lot, remembered: every scan and claim of the lot derives the same key."""
    info = b"|".join((_INFO, gtin.encode("ascii"), lot.encode("utf-8")))
    key = HKDF(algorithm=hashes.SHA256(), length=LOT_KEY_BYTES, salt=None, info=info).derive(master)
    return LotKey(key_id, key, gtin, lot, units)


def _context(lot: LotKey) -> bytes:
    return b"|".join((lot.gtin.encode("ascii"), lot.lot.encode("utf-8"), b""))


def _index_text(index: int, width: int) -> str:
    characters = []
    for _ in range(width):
        index, digit = divmod(index, 32)
        characters.append(ALPHABET[digit])
    return "".join(reversed(characters))


def _mac(key: bytes, message: bytes) -> str:
    digest = hashlib.blake2b(message, digest_size=MAC_BITS // 8, key=key).digest()
    return base64.b32encode(digest).decode("ascii")


def base32_value(text: str) -> int:
    """The number a text of the alphabet writes (the inverse of unit indexes and lot ids);
    ``ValueError`` for any other character."""
    value = 0
    for character in text:
        if character not in _VALUE:
            raise ValueError("not a character of the alphabet")
        value = value * 32 + _VALUE[character]
    return value


def serial_for(lot: LotKey, index: int) -> str:
    """The serial of unit ``index`` (0-based) of the lot."""
    if not 0 <= index < lot.units:
        raise ValueError(f"unit index outside 0..{lot.units - 1}")
    head = lot.key_id + _index_text(index, lot.width)
    return head + _mac(lot.key, _context(lot) + head.encode("ascii"))


def serial_parse(serial: str) -> tuple[str, str, str]:
    """Split a serial into key id, index text and MAC, refusing anything malformed."""
    if not isinstance(serial, str) or not (
        1 + INDEX_WIDTH_MIN + MAC_CHARS <= len(serial) <= SERIAL_MAX_CHARS
    ):
        raise CodeInvalid("length")
    if any(character not in _VALUE for character in serial):
        raise CodeInvalid("alphabet")
    return serial[0], serial[1:-MAC_CHARS], serial[-MAC_CHARS:]


def serial_verify(lot: LotKey, serial: str) -> int:
    """The unit index a serial names, or ``CodeInvalid`` if it was not issued for this lot."""
    key_id, index_text, mac = serial_parse(serial)
    if key_id != lot.key_id or len(index_text) != lot.width:
        raise CodeInvalid("lot")
    expected = _mac(lot.key, _context(lot) + (key_id + index_text).encode("ascii"))
    if not hmac.compare_digest(expected, mac):
        raise CodeInvalid("mac")
    index = base32_value(index_text)
    if index >= lot.units:
        raise CodeInvalid("index")
    return index


def serials(lot: LotKey, start: int = 0, stop: int | None = None) -> Iterator[str]:
    """Serials of units ``start`` … ``stop − 1``, in order, generated as they are read (the
    export streams them: memory stays flat however large the lot)."""
    stop = lot.units if stop is None else stop
    if not 0 <= start <= stop <= lot.units:
        raise ValueError("range outside the lot")
    width = lot.width
    context = _context(lot)
    key, prefix = lot.key, lot.key_id
    blake2b, b32encode = hashlib.blake2b, base64.b32encode
    digest_size = MAC_BITS // 8
    # Index text from a table of two-character chunks: one lookup per 10 bits.
    pairs = [a + b for a in ALPHABET for b in ALPHABET]
    chunks = (width + 1) // 2
    odd = width % 2
    for index in range(start, stop):
        parts = []
        value = index
        for _ in range(chunks):
            value, low = divmod(value, 1024)
            parts.append(pairs[low])
        text = "".join(reversed(parts))
        head = prefix + (text[1:] if odd else text)
        mac = b32encode(blake2b(context + head.encode(), digest_size=digest_size, key=key).digest())
        yield head + mac.decode()


def scene_for(lot_id: int, serial: str) -> str:
    """The WeChat mini-program ``scene`` of a unit (≤ 32 characters): ``{lot id}.{serial}``."""
    scene = f"{_index_text(lot_id, index_width(max(lot_id + 1, 2)))}.{serial}"
    if len(scene) > 32:
        raise ValueError("scene longer than 32 characters")
    return scene
