"""``tools/tanhui-verify.py``, the verifier anyone can run, against the specifications' own
examples and against trees, notes and leaves the service's ``ledger.tlog`` builds.

The script imports nothing of the service, so it is loaded by path; the tests may import the
service to build what the script must accept. ``FakeLog`` serves a log over HTTP the way the
server will (checkpoint, tiles, entry bundles, the JSON consistency proofs and a unit's record).
"""

from __future__ import annotations

import ast
import base64
import gzip
import hashlib
import importlib.util
import json
import sys
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.tlog import merkle
from ledger.tlog.canonical import canonical_json
from ledger.tlog.note import checkpoint_text, generate_signer_key, parse_signer_key, sign_note

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "tanhui-verify.py"


def load_script() -> Any:
    spec = importlib.util.spec_from_file_location("tanhui_verify_under_test", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


verify = load_script()
ORIGIN = "tanhui.test/log"
LOG_KEY = generate_signer_key(ORIGIN)
LOG_VKEY = parse_signer_key(LOG_KEY).verifier_key
#: The spec's example cosignature message (C2SP tlog-cosignature, "Ed25519 signed message").
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
)
SPEC_MESSAGE = "cosignature/v1\ntime 1679315147\n" + SPEC_CHECKPOINT
SPEC_COSIGNATURE = (
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2"
    "oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)
#: C2SP signed-note's example verifier key and the note it verifies.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2O"
    "NncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def leaf_hashes(count: int, salt: str = "") -> list[bytes]:
    return [merkle.leaf_hash(f"{salt}leaf {i}".encode()) for i in range(count)]


def subtree_of(hashes: list[bytes]) -> merkle.Subtree:
    return lambda start, end: merkle.root_from_leaves(hashes[start:end])


def flipped(value: bytes) -> bytes:
    return value[:-1] + bytes([value[-1] ^ 1])


# -- tiles ----------------------------------------------------------------------------------------
def test_a_tile_index_is_three_digit_path_elements_all_but_the_last_prefixed_x():
    assert verify.encode_index(1234067) == "x001/x234/067"
    assert verify.encode_index(0) == "000"
    assert verify.encode_index(1000) == "x001/000"
    assert verify.tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert verify.tile_path(2, 5, 17) == "tile/2/005.p/17"
    assert verify.tile_path(verify.ENTRIES, 1000, 3) == "tile/entries/x001/000.p/3"


def test_a_tree_of_70000_has_the_tiles_the_spec_lists():
    # (level, full tiles, partial tile width): 273 full level-0 tiles and a partial one of 112,
    # one full level-1 tile and a partial one of 17, a partial level-2 tile of 1.
    assert list(verify.level_layout(70_000)) == [(0, 273, 112), (1, 1, 17), (2, 0, 1)]


def test_a_tree_of_256_has_a_full_level_0_tile_and_a_partial_level_1_tile_of_1():
    assert list(verify.level_layout(256)) == [(0, 1, 0), (1, 0, 1)]
    assert list(verify.level_layout(0)) == []


def tile_levels(hashes: list[bytes]) -> list[list[bytes]]:
    """Each level's hashes: level 0 the leaves', level l+1 one per full tile of level l."""
    levels = [hashes]
    while len(levels[-1]) >= 256:
        below = levels[-1]
        levels.append(
            [merkle.root_from_leaves(below[i : i + 256]) for i in range(0, len(below) - 255, 256)]
        )
    return levels


@pytest.mark.parametrize("size", [0, 1, 2, 255, 256, 257, 511, 4097, 65535, 65536, 65537, 70_000])
def test_the_root_from_the_partial_tiles_is_the_trees_root(size):
    hashes = leaf_hashes(size)
    levels = tile_levels(hashes)

    def read(level: int, index: int, width: int) -> bytes:
        return b"".join(levels[level][index * 256 : index * 256 + width])

    assert verify.root_from_tiles(size, read) == merkle.root_from_leaves(hashes)


def test_a_full_tiles_hash_is_the_root_of_its_256_hashes():
    hashes = leaf_hashes(256)

    assert verify.tile_hash(b"".join(hashes)) == merkle.root_from_leaves(hashes)


# -- Merkle proofs --------------------------------------------------------------------------------
HASHES = leaf_hashes(70)


@pytest.mark.parametrize("size", range(1, 71))
def test_inclusion_proofs_of_the_service_verify_and_tampered_ones_do_not(size):
    root = merkle.root_from_leaves(HASHES[:size])
    for index in range(size):
        path = merkle.inclusion_path(index, size, subtree_of(HASHES))
        assert verify.verify_inclusion(HASHES[index], index, size, path, root)
        assert not verify.verify_inclusion(flipped(HASHES[index]), index, size, path, root)
        assert not verify.verify_inclusion(HASHES[index], index, size, path, flipped(root))
        assert not verify.verify_inclusion(HASHES[index], index, size, [*path, root], root)
        if size > 1:
            assert not verify.verify_inclusion(HASHES[index], index ^ 1, size, path, root)
        for at in range(len(path)):
            assert not verify.verify_inclusion(HASHES[index], index, size, path[:at], root)
            tampered = [*path[:at], flipped(path[at]), *path[at + 1 :]]
            assert not verify.verify_inclusion(HASHES[index], index, size, tampered, root)
    assert not verify.verify_inclusion(HASHES[0], size, size, [], root)


@pytest.mark.parametrize("size", range(0, 71))
def test_consistency_proofs_of_the_service_verify_and_tampered_ones_do_not(size):
    root = merkle.root_from_leaves(HASHES[:size])
    for old in range(size + 1):
        old_root = merkle.root_from_leaves(HASHES[:old])
        path = merkle.consistency_path(old, size, subtree_of(HASHES))
        assert verify.verify_consistency(old, size, old_root, root, path)
        assert not verify.verify_consistency(old, size, flipped(old_root), root, path)
        # The empty tree is a prefix of every tree: only its proof (empty) is checked.
        assert verify.verify_consistency(old, size, old_root, flipped(root), path) == (old == 0)
        assert not verify.verify_consistency(old, size, old_root, root, [*path, root])
        for at in range(len(path)):
            assert not verify.verify_consistency(old, size, old_root, root, path[:at])
            tampered = [*path[:at], flipped(path[at]), *path[at + 1 :]]
            assert not verify.verify_consistency(old, size, old_root, root, tampered)


# -- notes, keys and cosignatures -----------------------------------------------------------------
def test_the_signed_note_specs_example_verifies_with_its_key_and_fails_altered():
    key = verify.parse_vkey(SPEC_VKEY, verify.ALGORITHM_ED25519)
    note = verify.parse_note(SPEC_NOTE)

    assert note.text == "This is an example message.\n"
    assert verify.signed_by(note, key)
    with pytest.raises(verify.VerificationError, match="fails"):
        verify.signed_by(verify.parse_note(SPEC_NOTE.replace("example", "sample", 1)), key)


def test_the_cosignature_message_is_the_specs_example():
    assert verify.cosignature_message(SPEC_CHECKPOINT, 1679315147) == SPEC_MESSAGE.encode()


def test_the_specs_example_cosignature_is_key_id_timestamp_and_signature():
    note = verify.parse_note(SPEC_CHECKPOINT + "\n" + SPEC_COSIGNATURE)
    ((name, raw),) = note.signatures

    assert name == "witness.example.com/w1" and len(raw) == 4 + 8 + 64
    assert int.from_bytes(raw[4:12], "big") == 1679315147  # the message example's time


def cosigner(name: str) -> tuple[Ed25519PrivateKey, str]:
    """A witness key and its vkey, made as tlog-cosignature says: key ID = SHA-256(name ‖ "\\n"
    ‖ 0x04 ‖ public key)[:4], vkey ``<name>+<hex id>+<base64(0x04 ‖ public key)>``."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    encoded = base64.b64encode(b"\x04" + public).decode()
    return private, f"{name}+{key_id.hex()}+{encoded}"


def cosignature_line(name: str, private: Ed25519PrivateKey, text: str, timestamp: int) -> str:
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    signature = private.sign(f"cosignature/v1\ntime {timestamp}\n{text}".encode())
    blob = key_id + timestamp.to_bytes(8, "big") + signature
    return f"— {name} {base64.b64encode(blob).decode()}\n"


W1, W1_VKEY = cosigner("witness.test/w1")
W2, W2_VKEY = cosigner("witness.test/w2")
TEXT = checkpoint_text(ORIGIN, 5, merkle.root_from_leaves(HASHES[:5]))
NOTE = sign_note(TEXT, parse_signer_key(LOG_KEY))


def witness_keys(*vkeys: str) -> list[Any]:
    return [verify.parse_vkey(vkey, verify.ALGORITHM_COSIGNATURE_V1) for vkey in vkeys]


def test_a_witness_key_id_is_sha256_of_name_newline_0x04_and_the_key():
    (key,) = witness_keys(W1_VKEY)
    public = W1.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    assert key.key_id == hashlib.sha256(b"witness.test/w1\n\x04" + public).digest()[:4]
    assert key.key_id == verify.key_id("witness.test/w1", 0x04, public)
    with pytest.raises(ValueError, match="signature type"):
        verify.parse_vkey(W1_VKEY, verify.ALGORITHM_ED25519)


def test_a_quorum_of_valid_cosignatures_is_counted_and_unknown_signers_are_ignored():
    stranger, _ = cosigner("witness.test/w1")  # the same name, another key: another key id
    note = NOTE + cosignature_line("witness.test/w1", W1, TEXT, 1_700_000_000)
    note += cosignature_line("witness.test/w1", stranger, TEXT, 1_700_000_001)
    log = verify.parse_vkey(LOG_VKEY, verify.ALGORITHM_ED25519)

    checkpoint = verify.verify_checkpoint(
        note, log, witnesses=witness_keys(W1_VKEY, W2_VKEY), quorum=1
    )

    assert (checkpoint.origin, checkpoint.size) == (ORIGIN, 5)
    assert checkpoint.cosigned == {"witness.test/w1": 1_700_000_000}
    with pytest.raises(verify.VerificationError, match="1 cosigned .*2 needed"):
        verify.verify_checkpoint(note, log, witnesses=witness_keys(W1_VKEY, W2_VKEY))


def test_a_cosignature_by_a_known_witness_that_fails_fails_the_checkpoint():
    line = cosignature_line("witness.test/w1", W1, TEXT, 1_700_000_000)
    name, blob = line.removeprefix("— ").split()
    raw = base64.b64decode(blob)
    retimed = (
        raw[:4] + (1_700_000_001).to_bytes(8, "big") + raw[12:]
    )  # another time, same signature
    note = NOTE + f"— {name} {base64.b64encode(retimed).decode()}\n"
    log = verify.parse_vkey(LOG_VKEY, verify.ALGORITHM_ED25519)

    with pytest.raises(verify.VerificationError, match="witness.test/w1's cosignature fails"):
        verify.verify_checkpoint(note, log, witnesses=witness_keys(W1_VKEY), quorum=0)


def test_a_checkpoint_of_another_origin_or_key_fails():
    log = verify.parse_vkey(LOG_VKEY, verify.ALGORITHM_ED25519)
    other = sign_note(TEXT, parse_signer_key(generate_signer_key(ORIGIN)))

    with pytest.raises(verify.VerificationError, match="origin"):
        verify.verify_checkpoint(NOTE, log, origin="tanhui.test/other")
    with pytest.raises(verify.VerificationError, match="not signed by"):
        verify.verify_checkpoint(other, log)


# -- the script stands alone ----------------------------------------------------------------------
def test_the_script_imports_nothing_but_the_standard_library_and_cryptography():
    tree = ast.parse(SCRIPT.read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    tops = {name.split(".")[0] for name in imported}

    assert tops - set(sys.stdlib_module_names) == {"cryptography"}
    assert not any(isinstance(node, ast.ImportFrom) and node.level for node in ast.walk(tree))


def test_the_script_starts_by_saying_what_it_checks_and_how_to_run_it():
    doc = ast.get_docstring(ast.parse(SCRIPT.read_text()))

    assert doc is not None
    assert all(word in doc for word in ("unit", "mirror", "cosignatures", "python3", "Exit"))


# -- a log served as the server serves it ---------------------------------------------------------
def spec_path(level: int | str, index: int, width: int = 256) -> str:
    """tlog-tiles' path, written again here so the fake log does not borrow the script's."""
    digits = f"{index:d}"
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    encoded = "/".join([f"x{group}" for group in groups[:-1]] + groups[-1:])
    return f"tile/{level}/{encoded}" + ("" if width == 256 else f".p/{width}")


class FakeLog:
    """A log's static files (every tile and bundle, partial ones kept, as a log may) and a
    Flask-less HTTP server for them, the JSON consistency proofs and units' records."""

    def __init__(self) -> None:
        self.entries: list[bytes] = []
        self.files: dict[str, bytes] = {}
        self.records: dict[str, Any] = {}
        self.cosigners: list[tuple[str, Ed25519PrivateKey]] = []
        self.requests: Counter = Counter()
        self.gzip_entries = False
        self.checkpoint = ""

    def grow(self, entries: list[bytes]) -> None:
        self.entries += entries
        self.publish(self.entries)

    def publish(self, entries: list[bytes]) -> None:
        hashes = [merkle.leaf_hash(entry) for entry in entries]
        for level, level_hashes in enumerate(tile_levels(hashes)):
            for start in range(0, len(level_hashes), 256):
                tile = level_hashes[start : start + 256]
                self.files[spec_path(level, start // 256, len(tile))] = b"".join(tile)
                if level == 0:
                    bundle = b"".join(
                        len(e).to_bytes(2, "big") + e for e in entries[start : start + 256]
                    )
                    self.files[spec_path("entries", start // 256, len(tile))] = bundle
        self.checkpoint = self.sign(len(entries), merkle.root_from_leaves(hashes))

    def sign(self, size: int, root: bytes) -> str:
        text = checkpoint_text(ORIGIN, size, root)
        lines = [cosignature_line(name, key, text, 1_700_000_000) for name, key in self.cosigners]
        return sign_note(text, parse_signer_key(LOG_KEY)) + "".join(lines)

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        hashes = [merkle.leaf_hash(entry) for entry in self.entries]
        path = merkle.consistency_path(first, second, subtree_of(hashes))
        return {
            "first": first,
            "second": second,
            "consistency_path": [base64.b64encode(node).decode() for node in path],
        }

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, bytes, dict[str, str]]:
        self.requests[path] += 1
        if path == "/log/checkpoint":
            return 200, self.checkpoint.encode(), {"Content-Type": "text/plain; charset=utf-8"}
        if path.removeprefix("/log/") in self.files:
            data = self.files[path.removeprefix("/log/")]
            if self.gzip_entries and path.startswith("/log/tile/entries/"):
                return 200, gzip.compress(data), {"Content-Encoding": "gzip"}
            return 200, data, {}
        if path == "/api/v1/log/proofs/consistency":
            proof = self.consistency(int(query["first"][0]), int(query["second"][0]))
            return 200, json.dumps(proof).encode(), {"Content-Type": "application/json"}
        if path in self.records:
            return (
                200,
                json.dumps(self.records[path]).encode(),
                {"Content-Type": "application/json"},
            )
        return 404, b"not found\n", {}


@pytest.fixture
def log() -> Iterator[tuple[FakeLog, str]]:
    fake = FakeLog()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once

        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            status, body, headers = fake.answer(parts.path, urllib.parse.parse_qs(parts.query))
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(body))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield fake, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def entries(count: int, start: int = 0, salt: str = "") -> list[bytes]:
    return [
        f'{{"type":"test","n":{i},"salt":"{salt}"}}'.encode() for i in range(start, start + count)
    ]


def run(*argv: str) -> int:
    return verify.main([*argv, "--key", LOG_VKEY])


def test_mirror_copies_and_checks_every_tile_and_bundle_in_the_servers_layout(
    log, tmp_path, capsys
):
    fake, url = log
    fake.grow(entries(700))

    assert run("mirror", f"{url}/log", str(tmp_path / "m")) == 0

    m = tmp_path / "m"
    for path in (
        "tile/0/000",
        "tile/0/001",
        "tile/0/002.p/188",
        "tile/1/000.p/2",
        "tile/entries/002.p/188",
    ):
        assert (m / path).read_bytes() == fake.files[path]
    assert (m / "checkpoint").read_text() == (m / "checkpoints/700").read_text() == fake.checkpoint
    assert "tree size 700" in capsys.readouterr().out


def test_mirror_fetches_only_what_is_missing_and_replaces_partial_tiles(log, tmp_path, capsys):
    fake, url = log
    fake.grow(entries(700))
    assert run("mirror", f"{url}/log", str(tmp_path)) == 0
    fake.gzip_entries = True
    fake.grow(entries(70_000 - 700, start=700))

    assert run("mirror", f"{url}/log", str(tmp_path), "--jobs", "4") == 0

    assert fake.requests["/log/tile/0/000"] == fake.requests["/log/tile/entries/001"] == 1
    assert not (tmp_path / "tile/0/002.p").exists() and (tmp_path / "tile/0/002").is_file()
    assert not (tmp_path / "tile/1/000.p").exists() and (tmp_path / "tile/1/001.p/17").is_file()
    assert (tmp_path / "tile/2/000.p/1").read_bytes() == fake.files["tile/2/000.p/1"]
    assert (tmp_path / "tile/entries/272").read_bytes() == fake.files["tile/entries/272"]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["700", "70000"]
    capsys.readouterr()

    assert run("mirror", f"{url}/log", str(tmp_path)) == 0
    assert "fetched 0 files" in capsys.readouterr().out


def test_mirror_fails_loudly_on_a_second_root_for_a_size_it_has_seen(log, tmp_path, capsys):
    fake, url = log
    fake.grow(entries(300))
    assert run("mirror", f"{url}/log", str(tmp_path)) == 0
    fake.publish(entries(300, salt="rewritten"))

    assert run("mirror", f"{url}/log", str(tmp_path)) == 1
    assert "FAILED fork: the log signed two trees of 300 leaves" in capsys.readouterr().err
    assert (tmp_path / "checkpoint").read_text() != fake.checkpoint


def test_mirror_fails_when_the_log_rewrote_what_it_had_signed(log, tmp_path, capsys):
    fake, url = log
    fake.grow(entries(700))
    assert run("mirror", f"{url}/log", str(tmp_path)) == 0
    fake.publish(entries(10, salt="rewritten") + entries(1000, start=10))

    assert run("mirror", f"{url}/log", str(tmp_path)) == 1
    assert "FAILED fork: DIR's tile/1/000.p/2 is not a prefix of the log's tile/1/000.p/3" in (
        capsys.readouterr().err
    )
    assert (tmp_path / "tile/0/000").read_bytes() == b"".join(map(merkle.leaf_hash, entries(256)))


def test_mirror_checks_an_older_checkpoint_against_what_it_holds(log, tmp_path):
    fake, url = log
    fake.grow(entries(700))
    assert run("mirror", f"{url}/log", str(tmp_path)) == 0
    newest = fake.checkpoint
    fake.publish(fake.entries[:300])  # a stale cache, say

    assert run("mirror", f"{url}/log", str(tmp_path)) == 0
    assert (tmp_path / "checkpoints/300").read_text() == fake.checkpoint
    assert (tmp_path / "checkpoint").read_text() == newest

    fake.publish(entries(300, salt="rewritten"))
    assert run("mirror", f"{url}/log", str(tmp_path)) == 1


def test_mirror_rechecks_what_it_holds(log, tmp_path, capsys):
    fake, url = log
    fake.grow(entries(700))
    assert run("mirror", f"{url}/log", str(tmp_path)) == 0
    tile = tmp_path / "tile/0/001"
    tile.write_bytes(flipped(tile.read_bytes()))

    assert run("mirror", f"{url}/log", str(tmp_path)) == 1
    assert "FAILED tiles: DIR's (the log forked, or DIR was altered) tile/0/001" in (
        capsys.readouterr().err
    )


def test_mirror_fails_on_an_entry_that_does_not_hash_into_its_tile(log, tmp_path, capsys):
    fake, url = log
    fake.grow(entries(300))
    fake.files["tile/entries/000"] = fake.files["tile/entries/000"][:-1] + b" "

    assert run("mirror", f"{url}/log", str(tmp_path)) == 1
    assert (
        "FAILED entries: tile/entries/000: entry 255 does not hash into its tile"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "tile/entries/000").exists()


def test_mirror_requires_the_witness_quorum(log, tmp_path, capsys):
    fake, url = log
    fake.cosigners = [("witness.test/w1", W1)]
    fake.grow(entries(10))

    assert run("mirror", f"{url}/log", str(tmp_path), "--witness", W1_VKEY) == 0
    assert (
        run("mirror", f"{url}/log", str(tmp_path), "--witness", W1_VKEY, "--witness", W2_VKEY) == 1
    )
    assert "FAILED witnesses: 1 cosigned (witness.test/w1), 2 needed" in capsys.readouterr().err


# -- a unit ---------------------------------------------------------------------------------------
SCAN_PATH = "/01/06901234567892/10/L1/21/AB3K"
ALLOCATION = {
    "type": "credits.allocation",
    "key": "lot:7",
    "target_type": "label_lot",
    "target_id": "7",
    "claimant_organisation_id": 3,
    "quantity_g": 1200,
    "parts": [
        {
            "retirement_id": 5,
            "serial_start": 1000,
            "serial_end": 1001,
            "from_g": 999_000,
            "to_g": 200,
            "quantity_g": 1200,
        }
    ],
}


def unit_record(fake: FakeLog, allocation: dict[str, Any], index: int) -> dict[str, Any]:
    """A record as ``labels.resolver`` makes it, its proof as ``ledger.tlog.leaf_proof`` does."""
    hashes = [merkle.leaf_hash(entry) for entry in fake.entries]
    size = len(hashes)
    path = merkle.inclusion_path(index, size, subtree_of(hashes))
    proof = {
        "leaf_index": index,
        "tree_size": size,
        "leaf_data": canonical_json(allocation),
        "inclusion_path": [base64.b64encode(node).decode() for node in path],
        "checkpoint": fake.checkpoint,
    }
    ranges = [
        {
            "serial_start": 1000,
            "serial_end": 1001,
            "first_serial_g": 1000,
            "last_serial_g": 200,
            "from_g": 999_000,
            "to_g": 200,
            "grams": 1200,
        }
    ]
    backing = {
        "grams_per_unit": 12,
        "grams_allocated": 1200,
        "allocation_id": 42,
        "retirements": [{"registry_reference": "R-1", "ranges": ranges, "batches": []}],
        "proof": proof,
    }
    return {
        "outcome": "genuine",
        "product": {"name": "Rice"},
        "lot": {"lot_number": "L1"},
        "backing": backing,
    }


@pytest.fixture
def unit_log(log) -> tuple[FakeLog, str]:
    """A log whose leaf 3 of 10 is the unit's allocation, grown to 300 since the proof."""
    fake, url = log
    fake.cosigners = [("witness.test/w1", W1)]
    fake.grow(entries(3) + [canonical_json(ALLOCATION).encode()] + entries(6, start=4))
    fake.records[SCAN_PATH] = unit_record(fake, ALLOCATION, 3)
    fake.grow(entries(290, start=10))
    return fake, url


def test_unit_verifies_the_allocation_its_inclusion_and_the_logs_consistency(unit_log, capsys):
    fake, url = unit_log

    assert run("unit", url + SCAN_PATH, "--witness", W1_VKEY) == 0

    out = capsys.readouterr().out
    assert "allocation 42: 1200 g" in out and "serials 1000 to 1001" in out
    assert "leaf 3 of the signed tree of 10" in out and "current tree of 300" in out
    assert "witness.test/w1 at 2023-11-14 22:13:20 UTC" in out
    assert fake.requests["/api/v1/log/proofs/consistency"] == 1


def test_unit_says_plainly_when_there_is_nothing_in_the_log_to_check(unit_log, capsys):
    fake, url = unit_log
    record = fake.records[SCAN_PATH]
    record["backing"]["proof"] = None
    assert run("unit", url + SCAN_PATH) == 1
    assert "not in the log yet (not sequenced)" in capsys.readouterr().err

    record["backing"] = None
    assert run("unit", url + SCAN_PATH) == 1
    assert "not carbon-neutral" in capsys.readouterr().err


def test_unit_fails_a_leaf_that_is_not_the_records_allocation(unit_log, capsys):
    fake, url = unit_log
    ranges = fake.records[SCAN_PATH]["backing"]["retirements"][0]["ranges"]
    ranges[0]["serial_end"] = 1002

    assert run("unit", url + SCAN_PATH) == 1
    assert "FAILED serials: the record does not show" in capsys.readouterr().err


def test_unit_fails_a_proof_that_does_not_include_the_leaf(unit_log, capsys):
    fake, url = unit_log
    proof = fake.records[SCAN_PATH]["backing"]["proof"]
    proof["leaf_index"] = 4

    assert run("unit", url + SCAN_PATH) == 1
    assert "FAILED inclusion: leaf 4 is not in the signed tree of 10" in capsys.readouterr().err


def test_unit_fails_when_the_current_tree_does_not_extend_the_proofs(unit_log, capsys):
    fake, url = unit_log
    fake.publish(entries(300, salt="another history"))

    assert run("unit", url + SCAN_PATH) == 1
    assert "FAILED consistency" in capsys.readouterr().err


# -- cosignatures and the command line ------------------------------------------------------------
def test_cosignatures_lists_the_witnesses_with_their_times_in_utc(tmp_path, capsys):
    note = NOTE + cosignature_line("witness.test/w1", W1, TEXT, 1679315147)
    (tmp_path / "checkpoint").write_text(note)

    assert (
        run(
            "cosignatures",
            str(tmp_path / "checkpoint"),
            "--witness",
            W1_VKEY,
            "--witness",
            W2_VKEY,
            "--quorum",
            "1",
        )
        == 0
    )

    out = capsys.readouterr().out
    assert "cosigned by witness.test/w1 at 2023-03-20 12:25:47 UTC" in out
    assert "witness.test/w2" not in out


def test_usage_errors_exit_2_and_failures_exit_1(tmp_path, capsys):
    (tmp_path / "checkpoint").write_text(NOTE)

    assert verify.main(["unit"]) == 2
    assert run("cosignatures", str(tmp_path / "checkpoint")) == 2
    assert run("cosignatures", str(tmp_path / "missing"), "--witness", W1_VKEY) == 2
    assert (
        run("cosignatures", str(tmp_path / "checkpoint"), "--witness", W1_VKEY, "--quorum", "2")
        == 2
    )
    assert run("mirror", "http://127.0.0.1:9/log", str(tmp_path / "m")) == 2
    assert run("cosignatures", str(tmp_path / "checkpoint"), "--witness", W1_VKEY) == 1
    assert "FAILED witnesses: 0 cosigned (none), 1 needed" in capsys.readouterr().err
