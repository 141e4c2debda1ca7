"""Signed checkpoints: the C2SP ``tlog-checkpoint`` body inside a C2SP ``signed-note``, Ed25519.

A checkpoint body is three lines::

    <origin>
    <tree size, decimal>
    <root hash, base64>

and a signed note appends a blank line and one signature line per signer::

    — <key name> <base64(key hash (4 bytes) ‖ Ed25519 signature (64 bytes))>

The key hash is the first four bytes of SHA-256(name ‖ "\\n" ‖ 0x01 ‖ public key). Keys are
written as the Go ``sumdb/note`` package writes them, so its tools can check our checkpoints:
``PRIVATE+KEY+<name>+<hash hex>+<base64(0x01 ‖ seed)>`` and ``<name>+<hash hex>+<base64(0x01 ‖
public key)>``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ALGORITHM_ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash and a space
NOTE_SIZE_MAX_BYTES = 1_000_000
_NAME = re.compile(r"[^\s+]+")


class NoteError(ValueError):
    """A note, key or checkpoint that does not parse or does not verify."""


@dataclass(frozen=True)
class Signer:
    name: str
    private_key: Ed25519PrivateKey

    @property
    def public_key_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.public_key_bytes)

    @property
    def verifier_key(self) -> str:
        return verifier_key(self.name, self.public_key_bytes)

    def verifier(self) -> Verifier:
        return parse_verifier_key(self.verifier_key)


@dataclass(frozen=True)
class Verifier:
    name: str
    key_hash: bytes
    public_key: Ed25519PublicKey


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes


def key_hash(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALGORITHM_ED25519]) + public_key).digest()[
        :4
    ]


def verifier_key(name: str, public_key: bytes) -> str:
    encoded = base64.b64encode(bytes([ALGORITHM_ED25519]) + public_key).decode()
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


def generate_signer_key(name: str) -> str:
    """A new private key string for ``name``."""
    if not _NAME.fullmatch(name):
        raise NoteError("a key name has no spaces or plus signs")
    private_key = Ed25519PrivateKey.generate()
    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    encoded = base64.b64encode(bytes([ALGORITHM_ED25519]) + seed).decode()
    return f"PRIVATE+KEY+{name}+{key_hash(name, public).hex()}+{encoded}"


def parse_signer_key(text: str) -> Signer:
    parts = text.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"] or not _NAME.fullmatch(parts[2]):
        raise NoteError("not a signer key")
    name, hash_hex, encoded = parts[2], parts[3], parts[4]
    raw = _b64(encoded)
    if len(raw) != 33 or raw[0] != ALGORITHM_ED25519:
        raise NoteError("not an Ed25519 signer key")
    signer = Signer(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    if signer.key_hash.hex() != hash_hex.lower():
        raise NoteError("the signer key's hash does not match its key")
    return signer


def parse_verifier_key(text: str) -> Verifier:
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not _NAME.fullmatch(parts[0]):
        raise NoteError("not a verifier key")
    name, hash_hex, encoded = parts
    raw = _b64(encoded)
    if len(raw) != 33 or raw[0] != ALGORITHM_ED25519:
        raise NoteError("not an Ed25519 verifier key")
    if key_hash(name, raw[1:]).hex() != hash_hex.lower():
        raise NoteError("the verifier key's hash does not match its key")
    return Verifier(name, bytes.fromhex(hash_hex), Ed25519PublicKey.from_public_bytes(raw[1:]))


def sign_note(text: str, signer: Signer) -> str:
    """Sign ``text`` (which must end in a newline) and return the note."""
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("note text ends in one newline and has no blank lines")
    signature = signer.private_key.sign(text.encode())
    blob = base64.b64encode(signer.key_hash + signature).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{signer.name} {blob}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """Return the text of ``note`` if ``verifier`` signed it; raise ``NoteError`` otherwise."""
    if len(note.encode()) > NOTE_SIZE_MAX_BYTES or not note.endswith("\n"):
        raise NoteError("malformed note")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("a note has a blank line before its signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    for line in signatures.splitlines():
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("malformed signature line")
        name, _, blob = line[len(SIGNATURE_PREFIX) :].partition(" ")
        raw = _b64(blob)
        if len(raw) < 5:
            raise NoteError("malformed signature")
        if name != verifier.name or raw[:4] != verifier.key_hash:
            continue
        try:
            verifier.public_key.verify(raw[4:], text.encode())
        except InvalidSignature as error:
            raise NoteError("invalid signature") from error
        return text
    raise NoteError("no signature by the expected key")


def checkpoint_text(origin: str, size: int, root_hash: bytes) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root_hash).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not lines[0]:
        raise NoteError("malformed checkpoint")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError("malformed checkpoint size")
    root = _b64(root_text)
    if len(root) != 32:
        raise NoteError("malformed checkpoint root hash")
    return Checkpoint(origin=origin, size=int(size_text), root_hash=root)


def open_checkpoint(note: str, verifier: Verifier, origin: str) -> Checkpoint:
    checkpoint = parse_checkpoint(open_note(note, verifier))
    if checkpoint.origin != origin:
        raise NoteError("checkpoint of another log")
    return checkpoint


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, TypeError) as error:
        raise NoteError("malformed base64") from error
