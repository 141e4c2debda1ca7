#!/usr/bin/env python3
"""Check Tanhui's transparency log yourself, trusting nothing the server says that its log key
(and, if you name them, its witnesses' keys) did not sign.

What it checks, written from the specifications' text (RFC 9162 §2.1; C2SP signed-note,
tlog-checkpoint, tlog-cosignature and tlog-tiles):

* ``unit SCAN_URL``: the unit's record names retired credits; their allocation is a leaf of a
  checkpoint the log signed (inclusion proof); the leaf is the record's allocation (its serials
  and grams); and the log's current checkpoint, cosigned by a quorum of the witnesses given,
  extends that checkpoint (consistency proof). A log that showed this unit one tree and everyone
  else another would have to fool the witnesses too.
* ``mirror LOG_URL DIR``: copies every tile and entry bundle of the log's current checkpoint into
  DIR, laid out as the log serves them (so DIR can be served as static files), checking that each
  entry hashes into its tile, each tile into the one above and the tiles into the signed root.
  Every checkpoint verified before (kept in DIR/checkpoints) must be a prefix of the new tree.
* ``cosignatures CHECKPOINT``: which of the given witnesses cosigned a checkpoint, and when.

It needs Python 3.11 or later and the ``cryptography`` package (``pip install cryptography``)::

    python3 tanhui-verify.py unit 'https://tanhui.example/01/06901234567892/10/L1/21/AB3K' \\
        --key 'tanhui.example/log+1a2b3c4d+AU...' --witness 'witness.example/w1+5e6f...+BA...'
    python3 tanhui-verify.py mirror https://tanhui.example/log ./mirror --key ... --jobs 8
    python3 tanhui-verify.py cosignatures https://tanhui.example/log/checkpoint --key ... \\
        --witness ... --quorum 1

The log's origin is its key's name unless ``--origin`` says otherwise. Exit status: 0 when
everything verifies, 1 when a check fails (the message names it), 2 on a usage or network error.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import hashlib
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HASH_SIZE_BYTES = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
TILE_SIZE_BYTES = TILE_WIDTH * HASH_SIZE_BYTES
ENTRY_SIZE_MAX_BYTES = 0xFFFF
BUNDLE_SIZE_MAX_BYTES = TILE_WIDTH * (2 + ENTRY_SIZE_MAX_BYTES)
NOTE_SIZE_MAX_BYTES = 1_000_000
#: signed-note: verifiers must accept at least 16 signatures.
NOTE_SIGNATURES_MAX = 64
JSON_SIZE_MAX_BYTES = 10_000_000
#: A proof of a tree of 2**64 leaves has at most 64 hashes.
PROOF_HASHES_MAX = 64
KEY_ID_BYTES = 4
TIMESTAMP_BYTES = 8
ED25519_SIGNATURE_BYTES = 64
ED25519_PUBLIC_KEY_BYTES = 32
TIMESTAMP_MAX = 2**63 - 1
ALGORITHM_ED25519 = 0x01
ALGORITHM_COSIGNATURE_V1 = 0x04
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
HTTP_TIMEOUT_S = 30.0
HTTP_ATTEMPTS = 3
HTTP_REDIRECTS_MAX = 5
#: A server that asks us to slow down (429, or 503 with Retry-After) is obeyed this many times,
#: waiting what it asks, at most RETRY_AFTER_MAX_S each time.
HTTP_SLOW_DOWNS_MAX = 20
RETRY_AFTER_MAX_S = 120.0
JOBS_DEFAULT = 8
#: Tiles fetched ahead of the one being stored, per job: enough to keep every connection busy.
PREFETCH_PER_JOB = 4
ENTRIES = "entries"
CONSISTENCY_PATH = "/api/v1/log/proofs/consistency"
USER_AGENT = "tanhui-verify/1"
EXIT_VERIFIED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class VerificationError(Exception):
    """A check failed (exit 1); ``check`` names it, the message says why."""

    def __init__(self, check: str, reason: str) -> None:
        super().__init__(f"{check}: {reason}")
        self.check = check


class UsageError(Exception):
    """Bad arguments, or a server that cannot be reached or answers nonsense (exit 2)."""


# -- Merkle trees (RFC 9162 §2.1) -----------------------------------------------------------------
def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _are_hashes(*values: object) -> bool:
    return all(isinstance(value, bytes) and len(value) == HASH_SIZE_BYTES for value in values)


def _shift_to_set_bit(fn: int, sn: int) -> tuple[int, int]:
    """Right-shift both until LSB(fn) is set or fn is 0 (a no-op when LSB(fn) is set)."""
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2 step by step: is ``leaf`` (a leaf hash) leaf ``index`` of ``root``'s tree
    of ``size`` leaves? False on any malformed input, so callers need no checks of their own."""
    if not _are_hashes(leaf, root, *path) or not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_to_set_bit(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 step by step: is ``old_root``'s tree a prefix of ``new_root``'s? The RFC
    leaves the edges to the caller; as C2SP tlog-witness has it, the empty tree (root SHA-256 of
    nothing) and an equal size need an empty proof, and an equal size the same root."""
    if not _are_hashes(old_root, new_root, *path) or not 0 <= old_size <= new_size:
        return False
    if old_size == 0:
        return not path and old_root == EMPTY_ROOT
    if old_size == new_size:
        return not path and old_root == new_root
    if not path:
        return False
    hashes = [old_root, *path] if old_size & (old_size - 1) == 0 else list(path)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = hashes[0]
    for c in hashes[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_to_set_bit(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == old_root and sr == new_root and sn == 0


# -- tiles (C2SP tlog-tiles) ----------------------------------------------------------------------
def encode_index(index: int) -> str:
    """Zero-padded 3-digit path elements, all but the last prefixed ``x``: 1234067 is
    ``x001/x234/067``, so a directory never shares its name with a tile."""
    elements = [f"{index % 1000:03d}"]
    while index >= 1000:
        index //= 1000
        elements.append(f"x{index % 1000:03d}")
    return "/".join(reversed(elements))


def tile_path(level: int | str, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``; ``level`` ``ENTRIES`` names the entry bundle."""
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(index)}{suffix}"


def level_layout(size: int) -> Iterator[tuple[int, int, int]]:
    """(level, full tiles, partial tile width) at each level of a tree of ``size``, level 0
    first; the partial tile's index is the number of full tiles (width 0: there is none)."""
    level = 0
    while hashes := size >> (TILE_HEIGHT * level):
        yield level, hashes // TILE_WIDTH, hashes % TILE_WIDTH
        level += 1


def hashes_of(data: bytes) -> list[bytes]:
    return [data[i : i + HASH_SIZE_BYTES] for i in range(0, len(data), HASH_SIZE_BYTES)]


def perfect_root(hashes: list[bytes]) -> bytes:
    """MTH of a power-of-two count of adjacent subtree hashes, folded a level at a time."""
    while len(hashes) > 1:
        hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def tile_hash(data: bytes) -> bytes:
    """The hash a full tile has in the tile above it: MTH of its 256 hashes."""
    if len(data) != TILE_SIZE_BYTES:
        raise ValueError("a full tile has 256 hashes")
    return perfect_root(hashes_of(data))


def root_from_tiles(size: int, read: Callable[[int, int, int], bytes]) -> bytes:
    """MTH of a tree of ``size`` from each level's partial tile; ``read(level, index, width)``
    returns that tile's first ``width`` hashes (a prefix of a wider tile will do). RFC 9162
    splits at powers of two, so the tree is one complete subtree per set bit of ``size``, left to
    right; bits 8l to 8l+7 are subtrees of the hashes in level l's partial tile."""
    subtrees = []
    for level, index, width in reversed(list(level_layout(size))):
        hashes = hashes_of(read(level, index, width)[: width * HASH_SIZE_BYTES])
        if len(hashes) != width:
            raise VerificationError("tiles", f"{tile_path(level, index, width)} is too short")
        start = 0
        for bit in reversed(range(TILE_HEIGHT)):
            if width >> bit & 1:
                subtrees.append(perfect_root(hashes[start : start + (1 << bit)]))
                start += 1 << bit
    root = subtrees.pop() if subtrees else EMPTY_ROOT
    for left in reversed(subtrees):
        root = node_hash(left, root)
    return root


def bundle_entries(data: bytes) -> list[bytes]:
    """The entries of a bundle: each a big-endian uint16 length, then that many bytes."""
    entries, offset = [], 0
    while offset < len(data):
        end = offset + 2 + int.from_bytes(data[offset : offset + 2], "big")
        if end > len(data):
            raise ValueError("a truncated entry")
        entries.append(data[offset + 2 : end])
        offset = end
    return entries


def check_bundle(bundle: bytes, tile: bytes, path: str) -> None:
    """Every entry of ``bundle`` hashes to its hash in the level-0 ``tile``, one entry a hash."""
    try:
        entries = bundle_entries(bundle)
    except ValueError as error:
        raise VerificationError("entries", f"{path}: {error}") from error
    hashes = [leaf_hash(entry) for entry in entries]
    if len(hashes) * HASH_SIZE_BYTES != len(tile):
        count = len(tile) // HASH_SIZE_BYTES
        raise VerificationError("entries", f"{path}: {len(hashes)} entries for {count} hashes")
    if b"".join(hashes) != tile:
        expected = hashes_of(tile)
        wrong = next(i for i, found in enumerate(hashes) if found != expected[i])
        raise VerificationError("entries", f"{path}: entry {wrong} does not hash into its tile")


# -- keys, notes, checkpoints and cosignatures (C2SP signed-note, tlog-checkpoint, ...) ---------
@dataclass(frozen=True)
class Key:
    name: str
    key_id: bytes
    algorithm: int
    public_key: Ed25519PublicKey


@dataclass(frozen=True)
class Note:
    text: str
    #: (key name, key id ‖ signature) of each signature line, in order.
    signatures: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: str
    #: The given witnesses that validly cosigned it: name → POSIX timestamp.
    cosigned: dict[str, int] = field(default_factory=dict)


def key_id(name: str, algorithm: int, public_key: bytes) -> bytes:
    """SHA-256(name ‖ "\\n" ‖ signature type ‖ public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([algorithm]) + public_key).digest()[:4]


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"{what} is not base64") from error


def _is_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def parse_vkey(text: str, algorithm: int) -> Key:
    """A verifier key ``<name>+<key id hex>+<base64(type ‖ Ed25519 public key)>``."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not _is_key_name(parts[0]):
        raise ValueError(f"not a verifier key: {text!r}")
    name, id_hex, raw = parts[0], parts[1].lower(), _b64(parts[2], "the verifier key")
    if len(raw) != 1 + ED25519_PUBLIC_KEY_BYTES or raw[0] != algorithm:
        raise ValueError(f"{name}: not a key of signature type {algorithm:#04x}")
    if key_id(name, algorithm, raw[1:]).hex() != id_hex:
        raise ValueError(f"{name}: the key id {id_hex} is not the key's")
    return Key(name, bytes.fromhex(id_hex), algorithm, Ed25519PublicKey.from_public_bytes(raw[1:]))


def parse_note(note: str) -> Note:
    """signed-note: text ending in a newline, a blank line (the last one), signature lines."""
    if len(note.encode()) > NOTE_SIZE_MAX_BYTES or not note.endswith("\n"):
        raise VerificationError("note", "too large, or not ending in a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise VerificationError("note", "control characters")
    split = note.rfind("\n\n")
    lines = note[split + 2 : -1].split("\n") if split >= 0 else []
    if not lines or len(lines) > NOTE_SIGNATURES_MAX:
        raise VerificationError("note", f"a blank line and 1 to {NOTE_SIGNATURES_MAX} signatures")
    signatures = []
    for line in lines:
        name, _, blob = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
        try:
            raw = _b64(blob, "a signature")
        except ValueError:
            raw = b""
        if (
            not line.startswith(SIGNATURE_PREFIX)
            or not _is_key_name(name)
            or len(raw) <= KEY_ID_BYTES
        ):
            raise VerificationError("note", f"malformed signature line {line!r}")
        signatures.append((name, raw))
    return Note(note[: split + 1], tuple(signatures))


def signed_by(note: Note, key: Key) -> bool:
    """Whether the log key ``key`` signed ``note``. Lines of other keys (even sharing its name or
    id, not both) are ignored; a line of ``key`` that fails is a failure, not a line to skip."""
    found = False
    for name, raw in note.signatures:
        if name == key.name and raw[:KEY_ID_BYTES] == key.key_id:
            try:
                key.public_key.verify(raw[KEY_ID_BYTES:], note.text.encode())
            except InvalidSignature as error:
                raise VerificationError("signature", f"{name}'s signature fails") from error
            found = True
    return found


def cosignature_message(text: str, timestamp: int) -> bytes:
    """tlog-cosignature's Ed25519 signed message over the checkpoint ``text``."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def verify_cosignatures(note: Note, witnesses: Sequence[Key]) -> dict[str, int]:
    """Each given witness that validly cosigned ``note``, with the time it says it did."""
    cosigned: dict[str, int] = {}
    for name, raw in note.signatures:
        for witness in witnesses:
            if name != witness.name or raw[:KEY_ID_BYTES] != witness.key_id:
                continue
            timestamp = int.from_bytes(raw[KEY_ID_BYTES : KEY_ID_BYTES + TIMESTAMP_BYTES], "big")
            signature = raw[KEY_ID_BYTES + TIMESTAMP_BYTES :]
            try:
                if len(signature) != ED25519_SIGNATURE_BYTES or timestamp > TIMESTAMP_MAX:
                    raise InvalidSignature
                witness.public_key.verify(signature, cosignature_message(note.text, timestamp))
            except InvalidSignature as error:
                raise VerificationError("cosignature", f"{name}'s cosignature fails") from error
            cosigned[name] = max(timestamp, cosigned.get(name, 0))
    return cosigned


def parse_checkpoint_text(text: str) -> tuple[str, int, bytes]:
    """tlog-checkpoint: origin, decimal size (no leading zeroes), base64 root, extension lines."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] or not all(lines[:-1]):
        raise VerificationError("checkpoint", "not three or more non-empty lines")
    origin, size_text, root_text = lines[:3]
    if not (size_text.isascii() and size_text.isdigit()) or size_text != str(int(size_text)):
        raise VerificationError("checkpoint", f"malformed tree size {size_text!r}")
    try:
        root = _b64(root_text, "the root hash")
    except ValueError as error:
        raise VerificationError("checkpoint", str(error)) from error
    if len(root) != HASH_SIZE_BYTES:
        raise VerificationError("checkpoint", "the root hash is not 32 bytes")
    return origin, int(size_text), root


def verify_checkpoint(
    note_text: str,
    log_key: Key,
    *,
    origin: str | None = None,
    witnesses: Sequence[Key] = (),
    quorum: int | None = None,
) -> Checkpoint:
    """A checkpoint of the log ``origin`` (the key's name unless given), signed by ``log_key``
    and cosigned by ``quorum`` of ``witnesses`` (all of them unless given)."""
    note = parse_note(note_text)
    if not signed_by(note, log_key):
        raise VerificationError("signature", f"not signed by {log_key.name}+{log_key.key_id.hex()}")
    found_origin, size, root = parse_checkpoint_text(note.text)
    if found_origin != (origin or log_key.name):
        raise VerificationError("origin", f"a checkpoint of {found_origin!r}")
    if size == 0 and root != EMPTY_ROOT:
        raise VerificationError("checkpoint", "an empty tree with a root other than SHA-256('')")
    cosigned = verify_cosignatures(note, witnesses)
    needed = len(witnesses) if quorum is None else quorum
    if len(cosigned) < needed:
        names = ", ".join(sorted(cosigned)) or "none"
        raise VerificationError("witnesses", f"{len(cosigned)} cosigned ({names}), {needed} needed")
    return Checkpoint(found_origin, size, root, note_text, cosigned)


def utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- HTTP ------------------------------------------------------------------------------------------
class Http:
    """GETs over keep-alive connections (one per host and thread); gzip is decoded here, since
    ``urllib`` would not. Close it to close every connection."""

    def __init__(self, timeout_s: float = HTTP_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[http.client.HTTPConnection] = []

    def __enter__(self) -> Http:
        return self

    def __exit__(self, *_: object) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()

    def _connection(self, scheme: str, host: str) -> http.client.HTTPConnection:
        pool = self._local.__dict__.setdefault("pool", {})
        if (scheme, host) not in pool:
            kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            pool[scheme, host] = kind(host, timeout=self.timeout_s)
            with self._lock:
                self._connections.append(pool[scheme, host])
        return pool[scheme, host]

    def get(self, url: str, *, limit_bytes: int, accept: str = "*/*") -> bytes:
        """The body of a 200 answer (following redirects), at most ``limit_bytes`` decoded."""
        redirects = slow_downs = 0
        while redirects <= HTTP_REDIRECTS_MAX:
            status, headers, body = self._request(url, accept, limit_bytes)
            if status in (301, 302, 303, 307, 308) and "location" in headers:
                url = urllib.parse.urljoin(url, headers["location"])
                redirects += 1
                continue
            wait_s = _retry_after_s(status, headers)
            if wait_s is not None and slow_downs < HTTP_SLOW_DOWNS_MAX:
                slow_downs += 1
                time.sleep(wait_s)
                continue
            if status != 200:
                raise UsageError(f"GET {url}: HTTP {status} {body[:200].decode(errors='replace')}")
            return _decoded(url, body, headers.get("content-encoding", ""), limit_bytes)
        raise UsageError(f"GET {url}: too many redirects")

    def _request(self, url: str, accept: str, limit_bytes: int) -> tuple[int, dict, bytes]:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"not an http(s) URL: {url}")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {"Accept": accept, "Accept-Encoding": "gzip, identity", "User-Agent": USER_AGENT}
        for attempt in range(HTTP_ATTEMPTS):
            connection = self._connection(parts.scheme, parts.netloc)
            try:
                connection.request("GET", target, headers=headers)
                response = connection.getresponse()
                body = response.read(limit_bytes + 1)
                if response.will_close or len(body) > limit_bytes:
                    connection.close()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, body
            except (OSError, http.client.HTTPException) as error:
                connection.close()  # the next request opens it again
                if attempt + 1 == HTTP_ATTEMPTS:
                    raise UsageError(f"GET {url}: {error or type(error).__name__}") from error
        raise AssertionError("unreachable")

    def json(self, url: str) -> Any:
        body = self.get(url, limit_bytes=JSON_SIZE_MAX_BYTES, accept="application/json")
        try:
            return json.loads(body)
        except ValueError as error:
            raise UsageError(f"GET {url}: not JSON") from error


def _retry_after_s(status: int, headers: dict) -> float | None:
    """How long a 429 (or a 503 with Retry-After) asks us to wait; ``None`` for other answers."""
    if status not in (429, 503) or (status == 503 and "retry-after" not in headers):
        return None
    try:
        asked_s = float(headers.get("retry-after", "1"))
    except ValueError:
        asked_s = 1.0
    return min(max(asked_s, 0.1), RETRY_AFTER_MAX_S)


def _decoded(url: str, body: bytes, encoding: str, limit_bytes: int) -> bytes:
    if encoding.lower() in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(body, limit_bytes + 1)
        except zlib.error as error:
            raise UsageError(f"GET {url}: broken gzip ({error})") from error
        if not inflater.eof and len(data) <= limit_bytes:
            raise UsageError(f"GET {url}: truncated gzip")
    elif encoding.lower() in ("", "identity"):
        data = body
    else:
        raise UsageError(f"GET {url}: unasked-for Content-Encoding {encoding}")
    if len(data) > limit_bytes:
        raise UsageError(f"GET {url}: larger than {limit_bytes} bytes")
    return data


def fetch_checkpoint(http_: Http, log_url: str, log_key: Key, **options: Any) -> Checkpoint:
    """``<log>/checkpoint``, verified (``options`` are :func:`verify_checkpoint`'s)."""
    body = http_.get(f"{log_url.rstrip('/')}/checkpoint", limit_bytes=NOTE_SIZE_MAX_BYTES)
    try:
        return verify_checkpoint(body.decode(), log_key, **options)
    except UnicodeDecodeError as error:
        raise VerificationError("note", "not UTF-8") from error


def _proof_hashes(values: Any, check: str) -> list[bytes]:
    if not isinstance(values, list) or len(values) > PROOF_HASHES_MAX:
        raise VerificationError(check, f"not a list of at most {PROOF_HASHES_MAX} hashes")
    try:
        return [_b64(value, "a proof hash") for value in values]
    except (ValueError, TypeError) as error:
        raise VerificationError(check, str(error)) from error


def check_consistent(http_: Http, log_url: str, first: Checkpoint, second: Checkpoint) -> None:
    """Ask the log for a consistency proof between two signed trees and check it here."""
    first, second = sorted((first, second), key=lambda checkpoint: checkpoint.size)
    if first.size in (0, second.size):
        if verify_consistency(first.size, second.size, first.root, second.root, []):
            return
        raise VerificationError("consistency", f"two roots for the tree of {second.size}: a fork")
    parts = urllib.parse.urlsplit(log_url)
    query = urllib.parse.urlencode({"first": first.size, "second": second.size})
    answer = http_.json(f"{parts.scheme}://{parts.netloc}{CONSISTENCY_PATH}?{query}")
    hashes = answer.get("consistency_path") if isinstance(answer, dict) else None
    path = _proof_hashes(hashes, "consistency")
    if not verify_consistency(first.size, second.size, first.root, second.root, path):
        raise VerificationError(
            "consistency",
            f"the tree of {first.size} is not shown a prefix of that of {second.size}",
        )


# -- unit: one label's credits ---------------------------------------------------------------------
@dataclass(frozen=True)
class UnitReport:
    record: dict[str, Any]
    #: The leaf: the allocation as the log holds it.
    allocation: dict[str, Any]
    leaf_index: int
    proved: Checkpoint
    current: Checkpoint


def _backing(record: Any) -> dict[str, Any]:
    """The record's backing with its proof, or why there is nothing in the log to check."""
    if not isinstance(record, dict):
        raise VerificationError("record", "not a JSON object")
    if record.get("outcome") in ("forged", "unknown"):
        raise VerificationError("record", f"the service says the code is {record['outcome']}")
    backing = record.get("backing")
    if backing is None:
        raise VerificationError("backing", "the label is not carbon-neutral: no credits back it")
    if not isinstance(backing, dict) or backing.get("proof") is None:
        raise VerificationError(
            "backing", "the credits' allocation is not in the log yet (not sequenced): try later"
        )
    return backing


def verify_leaf(proof: Any, log_key: Key, **options: Any) -> tuple[Checkpoint, int, dict]:
    """A proof bundle's checkpoint and the inclusion of its leaf (RFC 9162 §2.1.3.2); returns
    the checkpoint, the leaf's index and the leaf's JSON."""
    try:
        index, size, data = proof["leaf_index"], proof["tree_size"], proof["leaf_data"]
        note_text, path = proof["checkpoint"], _proof_hashes(proof["inclusion_path"], "inclusion")
        if not (type(index) is int and type(size) is int and isinstance(data, str)):
            raise TypeError("leaf_index, tree_size, leaf_data")
    except (KeyError, TypeError) as error:
        raise VerificationError("proof", f"malformed proof ({error})") from error
    checkpoint = verify_checkpoint(note_text, log_key, **options)
    if size != checkpoint.size:
        raise VerificationError("inclusion", f"a proof in {size} leaves, a checkpoint of another")
    if not verify_inclusion(leaf_hash(data.encode()), index, size, path, checkpoint.root):
        raise VerificationError("inclusion", f"leaf {index} is not in the signed tree of {size}")
    try:
        allocation = json.loads(data)
    except ValueError as error:
        raise VerificationError("leaf", "the leaf is not JSON") from error
    if json.dumps(allocation, sort_keys=True, separators=(",", ":"), ensure_ascii=False) != data:
        raise VerificationError("leaf", "the leaf is not canonical JSON")
    return checkpoint, index, allocation


def _serials(ranges: Sequence[dict[str, Any]], grams: str) -> Counter:
    return Counter(
        (r["serial_start"], r["serial_end"], r["from_g"], r["to_g"], r[grams]) for r in ranges
    )


def check_allocation(allocation: dict[str, Any], backing: dict[str, Any]) -> None:
    """The leaf is the record's allocation: its id (where the leaf holds one), its serials (each
    first and last serial, where in them the grams begin and end) and its grams."""
    try:
        if allocation["type"] != "credits.allocation":
            raise VerificationError("allocation", f"the leaf is a {allocation['type']!r} event")
        if allocation.get("allocation_id", backing["allocation_id"]) != backing["allocation_id"]:
            raise VerificationError("allocation", "the leaf is another allocation")
        leaf = _serials(allocation["parts"], "quantity_g")
        shown = [r for retired in backing["retirements"] for r in retired["ranges"]]
        record, grams = _serials(shown, "grams"), allocation["quantity_g"]
    except (AttributeError, KeyError, TypeError) as error:
        raise VerificationError("allocation", f"a malformed leaf or record ({error!r})") from error
    if sum(serials[4] * count for serials, count in leaf.items()) != grams:
        raise VerificationError("allocation", "the leaf's serials do not add up to its grams")
    if leaf - record:
        raise VerificationError("serials", f"the record does not show {sorted(leaf - record)}")
    if grams == backing.get("grams_allocated") and leaf != record:
        raise VerificationError("serials", f"the leaf does not hold {sorted(record - leaf)}")


def unit(
    http_: Http, scan_url: str, log_key: Key, *, log_url: str | None = None, **options: Any
) -> UnitReport:
    """Everything ``unit`` checks (``options``: ``origin``, ``witnesses``, ``quorum`` as
    :func:`verify_checkpoint` takes them); the log is ``<scheme>://<host>/log`` of the scan URL
    unless ``log_url`` says otherwise. The witnesses' quorum is required of the current
    checkpoint; the proof's may be older than any cosignature."""
    record = http_.json(scan_url)
    backing = _backing(record)
    proved, index, allocation = verify_leaf(backing["proof"], log_key, **{**options, "quorum": 0})
    check_allocation(allocation, backing)
    parts = urllib.parse.urlsplit(scan_url)
    log_url = log_url or f"{parts.scheme}://{parts.netloc}/log"
    current = fetch_checkpoint(http_, log_url, log_key, **options)
    check_consistent(http_, log_url, proved, current)
    return UnitReport(record, allocation, index, proved, current)


def describe_unit(report: UnitReport) -> list[str]:
    record, allocation, current = report.record, report.allocation, report.current
    backing = record["backing"]
    lines = [
        f"unit: {record.get('outcome')}; {(record.get('product') or {}).get('name')},"
        f" lot {(record.get('lot') or {}).get('lot_number')}",
        f"allocation {backing.get('allocation_id')}: {allocation['quantity_g']} g of retired"
        f" credits ({backing.get('grams_per_unit')} g a unit)",
    ]
    for part in allocation["parts"]:
        lines.append(
            f"  retirement {part.get('retirement_id')}: serials {part['serial_start']} to"
            f" {part['serial_end']} (from {part['from_g']} g to {part['to_g']} g),"
            f" {part['quantity_g']} g"
        )
    lines.append(f"included: leaf {report.leaf_index} of the signed tree of {report.proved.size}")
    witnesses = ", ".join(f"{name} at {utc(t)}" for name, t in sorted(current.cosigned.items()))
    lines.append(f"consistent: with the log's current tree of {current.size} ({current.origin})")
    lines.append(f"cosigned: {witnesses or 'no witness given'}")
    return lines


# -- mirror: the whole log -------------------------------------------------------------------------
@dataclass
class MirrorReport:
    checkpoint: Checkpoint
    files_fetched: int
    bytes_fetched: int
    seconds: float


class Mirror:
    """DIR laid out as the log serves it, and ``checkpoints/<size>``, each checkpoint verified.

    Nothing unverified is written: the partial tiles are checked against the signed root first,
    then each full tile (top down) against its hash in the verified tile above, each bundle
    against its tile. A file already in DIR is read instead of fetched and checked the same way.
    """

    def __init__(self, http_: Http, log_url: str, directory: Path, jobs: int) -> None:
        self.http, self.log_url, self.directory, self.jobs = http_, log_url, directory, jobs
        self.files_fetched = self.bytes_fetched = 0
        self._lock = threading.Lock()
        #: Per level, the partial tile and the full tile last verified: (index, hashes).
        self._partials: dict[int, tuple[int, bytes]] = {}
        self._full: dict[int, tuple[int, bytes]] = {}

    def _obtain(self, path: str, limit_bytes: int) -> tuple[bytes, bool]:
        """The file from DIR, or else from the log; and whether it was fetched."""
        try:
            return (self.directory / path).read_bytes(), False
        except FileNotFoundError:
            return self.http.get(f"{self.log_url}/{path}", limit_bytes=limit_bytes), True

    def _store(self, level: int | str, index: int, width: int, data: bytes) -> None:
        """Write a verified tile or bundle; the partial ones it replaces must be its prefixes."""
        path = self.directory / tile_path(level, index, width)
        partials = self.directory / f"{tile_path(level, index)}.p"
        older = [p for p in partials.glob("[0-9]*") if p.name != str(width)]
        for old in older:
            short, long = sorted((old.read_bytes(), data), key=len)
            if long[: len(short)] != short:
                raise VerificationError(
                    "fork",
                    f"DIR's {tile_path(level, index, int(old.name))} is not a prefix of"
                    f" the log's {tile_path(level, index, width)}: the log rewrote its history",
                )
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        for old in older:
            old.unlink()
        if width == TILE_WIDTH and older:
            with contextlib.suppress(OSError):  # not empty: leave it
                partials.rmdir()
        with self._lock:
            self.files_fetched += 1
            self.bytes_fetched += len(data)

    def _tile(self, level: int, index: int) -> bytes:
        """Tile ``index`` of ``level``, verified; a full one against the tile above it."""
        for held in (self._partials.get(level), self._full.get(level)):
            if held and held[0] == index:
                return held[1]
        data, fetched = self._obtain(tile_path(level, index), TILE_SIZE_BYTES)
        self._check_full(level, index, data, self._hash_above(level, index), fetched)
        if fetched:
            self._store(level, index, TILE_WIDTH, data)
        self._full[level] = (index, data)
        return data

    def _hash_above(self, level: int, index: int) -> bytes:
        slot = index % TILE_WIDTH * HASH_SIZE_BYTES
        return self._tile(level + 1, index // TILE_WIDTH)[slot : slot + HASH_SIZE_BYTES]

    @staticmethod
    def _check_full(level: int, index: int, data: bytes, expected: bytes, fetched: bool) -> None:
        if len(data) != TILE_SIZE_BYTES or tile_hash(data) != expected:
            where = "the log's" if fetched else "DIR's (the log forked, or DIR was altered)"
            raise VerificationError(
                "tiles", f"{where} {tile_path(level, index)} does not hash into the tile above"
            )

    def _level0(self, index: int, width: int, expected: bytes, tile: bytes | None) -> None:
        """Level-0 tile ``index`` (unless given, verified) and its entry bundle, checked."""
        fetched = False
        if tile is None:
            tile, fetched = self._obtain(tile_path(0, index), TILE_SIZE_BYTES)
            self._check_full(0, index, tile, expected, fetched)
        bundle, bundle_fetched = self._obtain(
            tile_path(ENTRIES, index, width), BUNDLE_SIZE_MAX_BYTES
        )
        check_bundle(bundle, tile, tile_path(ENTRIES, index, width))
        if fetched:
            self._store(0, index, TILE_WIDTH, tile)
        if bundle_fetched:
            self._store(ENTRIES, index, width, bundle)

    def sync(self, checkpoint: Checkpoint) -> None:
        """Fetch and verify everything the tree of ``checkpoint`` needs that DIR lacks."""
        layout = list(level_layout(checkpoint.size))
        fetched, held = [], False
        for level, index, width in layout:
            if width:
                path = tile_path(level, index, width)
                data, was_fetched = self._obtain(path, width * HASH_SIZE_BYTES)
                if len(data) != width * HASH_SIZE_BYTES:
                    raise VerificationError("tiles", f"{path} is not {width} hashes")
                self._partials[level] = (index, data)
                fetched += [(level, index, width, data)] if was_fetched else []
                held |= not was_fetched
        root = root_from_tiles(checkpoint.size, lambda level, *_: self._partials[level][1])
        if root != checkpoint.root:
            why = ", with DIR's (the log forked, or DIR was altered)" if held else ""
            raise VerificationError("root", f"the log's tiles do not hash to its signed root{why}")
        for tile in fetched:
            self._store(*tile)
        full, width = layout[0][1:] if layout else (0, 0)
        tasks: Iterator[Callable[[], None]] = (
            partial(self._level0, index, TILE_WIDTH, self._hash_above(0, index), None)
            for index in range(full)
        )
        self._run(tasks)
        if width:
            self._level0(full, width, b"", self._partials[0][1])

    def _run(self, tasks: Iterator[Callable[[], None]]) -> None:
        """Run ``tasks`` on ``jobs`` threads, a bounded window ahead, so memory stays flat."""
        window: deque = deque()
        with ThreadPoolExecutor(self.jobs) as pool:
            try:
                for task in tasks:
                    window.append(pool.submit(task))
                    if len(window) >= self.jobs * PREFETCH_PER_JOB:
                        window.popleft().result()
                while window:
                    window.popleft().result()
            finally:
                for future in window:
                    future.cancel()

    def local_hashes(self, level: int, index: int, width: int) -> bytes:
        """At least ``width`` hashes of a tile from DIR: the full tile or the partial held."""
        full = self.directory / tile_path(level, index)
        if full.is_file():
            return full.read_bytes()
        held = sorted(int(p.name) for p in full.with_name(f"{full.name}.p").glob("[0-9]*"))
        for found in held:
            if found >= width:
                return (self.directory / tile_path(level, index, found)).read_bytes()
        raise VerificationError("mirror", f"DIR has no {tile_path(level, index, width)}")

    def history(self, log_key: Key, origin: str | None) -> list[Checkpoint]:
        """Every checkpoint verified before, verified again (DIR might have been altered)."""
        checkpoints = []
        for path in sorted((self.directory / "checkpoints").glob("[0-9]*")):
            try:
                checkpoint = verify_checkpoint(path.read_text(), log_key, origin=origin)
            except (VerificationError, UnicodeDecodeError) as error:
                raise VerificationError("mirror", f"{path}: {error}") from error
            if str(checkpoint.size) != path.name:
                raise VerificationError("mirror", f"{path} holds the tree of {checkpoint.size}")
            checkpoints.append(checkpoint)
        return checkpoints

    def remember(self, checkpoint: Checkpoint, *, newest: bool) -> None:
        folder = self.directory / "checkpoints"
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / str(checkpoint.size)] + [self.directory / "checkpoint"] * newest
        for path in paths:
            temporary = path.with_name(f".{path.name}.tmp")
            temporary.write_text(checkpoint.note)
            os.replace(temporary, path)


def mirror(
    http_: Http,
    log_url: str,
    directory: Path,
    log_key: Key,
    *,
    jobs: int = JOBS_DEFAULT,
    **options: Any,
) -> MirrorReport:
    """Bring DIR up to the log's current checkpoint, verified (``options`` as for :func:`unit`),
    and check every checkpoint verified before is a prefix of it: its root, computed from DIR's
    tiles, is the one signed. A checkpoint older than DIR's is checked the same way."""
    started = time.monotonic()
    log_url = log_url.rstrip("/")
    checkpoint = fetch_checkpoint(http_, log_url, log_key, **options)
    store = Mirror(http_, log_url, Path(directory), jobs)
    history = store.history(log_key, options.get("origin"))
    for old in history:
        if old.size == checkpoint.size and old.root != checkpoint.root:
            raise VerificationError(
                "fork",
                f"the log signed two trees of {old.size} leaves: a fork (see DIR/checkpoints)",
            )
    newest = checkpoint.size >= max((old.size for old in history), default=0)
    if newest:
        store.sync(checkpoint)
    for old in history if newest else [checkpoint]:
        if root_from_tiles(old.size, store.local_hashes) != old.root:
            raise VerificationError(
                "consistency", f"the tree of {old.size} is not a prefix of DIR's: the log forked"
            )
    store.remember(checkpoint, newest=newest)
    return MirrorReport(
        checkpoint, store.files_fetched, store.bytes_fetched, time.monotonic() - started
    )


def describe_mirror(report: MirrorReport, directory: Path) -> list[str]:
    checkpoint = report.checkpoint
    witnesses = ", ".join(sorted(checkpoint.cosigned)) or "no witness given"
    return [
        f"mirrored {checkpoint.origin} at tree size {checkpoint.size} into {directory}",
        f"fetched {report.files_fetched} files, {report.bytes_fetched} bytes,"
        f" in {report.seconds:.1f} s; cosigned by {witnesses}",
    ]


# -- cosignatures ----------------------------------------------------------------------------------
def cosignatures(http_: Http, source: str, log_key: Key, **options: Any) -> Checkpoint:
    """The checkpoint at ``source`` (a URL or a file), verified with its cosignatures."""
    if source.startswith(("http://", "https://")):
        data = http_.get(source, limit_bytes=NOTE_SIZE_MAX_BYTES)
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as error:
            raise UsageError(f"{source}: {error.strerror}") from error
    try:
        return verify_checkpoint(data.decode(), log_key, **options)
    except UnicodeDecodeError as error:
        raise VerificationError("note", "not UTF-8") from error


def describe_cosignatures(checkpoint: Checkpoint, log_key: Key) -> list[str]:
    lines = [f"checkpoint of {checkpoint.origin}: tree size {checkpoint.size}, signed by the log"]
    lines += [f"cosigned by {name} at {utc(t)}" for name, t in sorted(checkpoint.cosigned.items())]
    known = {log_key.name, *checkpoint.cosigned}
    others = sorted({name for name, _ in parse_note(checkpoint.note).signatures} - known)
    return lines + ([f"ignored (unknown keys): {', '.join(others)}"] if others else [])


# -- command line ----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tanhui-verify.py", description="Verify Tanhui's transparency log."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    unit_ = commands.add_parser("unit", help="a scanned unit's retired credits")
    unit_.add_argument("scan_url")
    unit_.add_argument("--log", help="the log's URL (default: <scheme>://<host>/log)")
    mirror_ = commands.add_parser("mirror", help="mirror the whole log into DIR")
    mirror_.add_argument("log_url")
    mirror_.add_argument("directory", type=Path)
    mirror_.add_argument("--jobs", type=int, default=JOBS_DEFAULT, help="parallel fetches")
    cosigned = commands.add_parser("cosignatures", help="who cosigned a checkpoint")
    cosigned.add_argument("checkpoint", help="a file or a URL")
    for command in (unit_, mirror_, cosigned):
        command.add_argument("--key", required=True, help="the log's verifier key")
        command.add_argument("--origin", help="the log's origin (default: the key's name)")
        command.add_argument("--witness", action="append", default=[], help="a witness's vkey")
        command.add_argument("--quorum", type=int, help="witnesses needed (default: all)")
    return parser


def _run(http_: Http, args: argparse.Namespace) -> list[str]:
    try:
        log_key = parse_vkey(args.key, ALGORITHM_ED25519)
        witnesses = [parse_vkey(text, ALGORITHM_COSIGNATURE_V1) for text in args.witness]
    except ValueError as error:
        raise UsageError(str(error)) from error
    if args.quorum is not None and not 0 <= args.quorum <= len(witnesses):
        raise UsageError("--quorum is between 0 and the number of --witness keys")
    options = {"origin": args.origin, "witnesses": witnesses, "quorum": args.quorum}
    if args.command == "unit":
        return describe_unit(unit(http_, args.scan_url, log_key, log_url=args.log, **options))
    if args.command == "mirror":
        if args.jobs < 1:
            raise UsageError("--jobs is at least 1")
        report = mirror(http_, args.log_url, args.directory, log_key, jobs=args.jobs, **options)
        return describe_mirror(report, args.directory)
    if not witnesses:
        raise UsageError("cosignatures needs at least one --witness")
    return describe_cosignatures(cosignatures(http_, args.checkpoint, log_key, **options), log_key)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; 0 when everything verifies, 1 when a check fails, 2 on a usage error."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as stop:  # --help, or a usage error argparse has explained
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    try:
        with Http() as http_:
            lines = _run(http_, args)
    except VerificationError as error:
        print(f"FAILED {error}", file=sys.stderr)
        return EXIT_FAILED
    except (UsageError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    print("\n".join([*lines, "OK: everything verifies"]))
    return EXIT_VERIFIED


if __name__ == "__main__":
    sys.exit(main())
