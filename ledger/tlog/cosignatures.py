"""Witness cosignatures (C2SP ``tlog-cosignature``, Ed25519 ``cosignature/v1``) and the body of a
``tlog-witness`` add-checkpoint request. Pure.

A cosignature is one more signature line on a checkpoint's note::

    — <witness name> base64(key ID (4 bytes) ‖ timestamp (u64, big-endian) ‖ Ed25519 signature)

signed over ``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint's body. The key
ID is the first four bytes of SHA-256(name ‖ "\\n" ‖ 0x04 ‖ public key), and a witness's verifier
key is written ``<name>+<key ID hex>+<base64(0x04 ‖ public key)>``, as signed-note vkeys are.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.tlog.note import SIGNATURE_PREFIX, NoteError

ALGORITHM_COSIGNATURE_V1 = 0x04
COSIGNATURE_HEADER = "cosignature/v1"
#: A timestamp is a u64 that must not exceed 2^63 - 1.
TIMESTAMP_MAX = 2**63 - 1
#: The specification's limit on consistency proof lines in one add-checkpoint request.
PROOF_LINES_MAX = 63
_SIGNATURE_BYTES = 4 + 8 + 64


@dataclass(frozen=True)
class WitnessKey:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey

    @property
    def text(self) -> str:
        """The verifier key as configured: ``<name>+<key ID hex>+<base64(0x04 ‖ key)>``."""
        raw = self.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        encoded = base64.b64encode(bytes([ALGORITHM_COSIGNATURE_V1]) + raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"


@dataclass(frozen=True)
class Cosignature:
    witness: str
    timestamp: int
    line: str


def witness_key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name ‖ "\\n" ‖ 0x04 ‖ key)[:4]."""
    return hashlib.sha256(
        name.encode() + b"\n" + bytes([ALGORITHM_COSIGNATURE_V1]) + public_key
    ).digest()[:4]


def parse_witness_key(text: str) -> WitnessKey:
    """A witness's verifier key, ``<name>+<key ID hex>+<base64(0x04 ‖ Ed25519 key)>``."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not parts[0] or any(c.isspace() for c in parts[0]):
        raise NoteError("not a witness key")
    name, id_hex, encoded = parts
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError as error:
        raise NoteError("malformed base64 in a witness key") from error
    if len(raw) != 33 or raw[0] != ALGORITHM_COSIGNATURE_V1:
        raise NoteError("not an Ed25519 cosignature/v1 key")
    key_id = witness_key_id(name, raw[1:])
    if key_id.hex() != id_hex.lower():
        raise NoteError("the witness key's ID does not match its key")
    return WitnessKey(name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:]))


def cosignature_message(body: str, timestamp: int) -> bytes:
    """What a cosigner signs: the header line, the time line, the checkpoint's body."""
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n{body}".encode()


def cosignature_open(line: str, *, body: str, key: WitnessKey) -> Cosignature | None:
    """The cosignature ``line`` makes on ``body`` if it is ``key``'s; ``None`` for another
    signer's line; ``NoteError`` when it names ``key`` but does not verify."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise NoteError("malformed signature line")
    name, _, blob = line[len(SIGNATURE_PREFIX) :].partition(" ")
    try:
        raw = base64.b64decode(blob, validate=True)
    except ValueError as error:
        raise NoteError("malformed base64 in a signature line") from error
    if name != key.name or raw[:4] != key.key_id:
        return None
    if len(raw) != _SIGNATURE_BYTES:
        raise NoteError("a cosignature is a key ID, a timestamp and a signature")
    timestamp = int.from_bytes(raw[4:12], "big")
    if timestamp > TIMESTAMP_MAX or timestamp == 0:
        raise NoteError("a cosignature's timestamp is from 1 to 2^63 - 1")
    try:
        key.public_key.verify(raw[12:], cosignature_message(body, timestamp))
    except InvalidSignature as error:
        raise NoteError(f"{key.name}'s cosignature does not verify") from error
    return Cosignature(key.name, timestamp, line)


def note_split(note: str) -> tuple[str, list[str]]:
    """A signed note's body (ending in its newline) and its signature lines."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise NoteError("a note has a blank line before its signatures")
    return note[: split + 1], note[split + 2 :].splitlines()


def note_with(note: str, lines: Sequence[str]) -> str:
    """``note`` with more signature lines after its own (as a checkpoint is published with
    its witnesses' cosignatures)."""
    return note + "".join(f"{line}\n" for line in lines)


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    """The body of a ``tlog-witness`` add-checkpoint request: ``old <size>``, one base64 line per
    consistency proof hash, a blank line, the checkpoint.

    >>> add_checkpoint_body(0, [], "o\\n1\\nAA==\\n\\n— o AA==\\n")[:8]
    b'old 0\\n\\no'
    """
    if len(proof) > PROOF_LINES_MAX:
        raise NoteError("a consistency proof has at most 63 hashes")
    lines = [f"old {old_size}"] + [base64.b64encode(node).decode() for node in proof]
    return ("\n".join(lines) + "\n\n" + note).encode()


__all__ = [
    "Cosignature",
    "WitnessKey",
    "add_checkpoint_body",
    "cosignature_message",
    "cosignature_open",
    "note_split",
    "note_with",
    "parse_witness_key",
    "witness_key_id",
]
