"""A small witness, written from C2SP tlog-witness: a process that cosigns a log's checkpoints
only while each extends the last one it cosigned. Anyone may run one to watch a log (give its
operator the key it prints); the tests run it as a separate process, and ``make demo`` runs one
beside the demo.

It serves ``POST <prefix>/add-checkpoint`` (an old size line, up to 63 consistency proof lines,
a blank line, the checkpoint) and ``GET <prefix>/<sha256 hex of origin>/checkpoint``, and
answers as the specification says: 404 for an unknown origin; 403 without a valid signature by
a trusted log key, or with a trusted key's line that fails; 400 for a malformed body or an old
size above the checkpoint's; 409 with the size it last cosigned (``text/x.tlog.size``) for any
other old size; 422 for a proof that fails, a proof from size 0, an empty tree with another root
or the same size with another root; otherwise 200 and an Ed25519 ``cosignature/v1`` line.

Its state (per origin: the size, root and note it last cosigned) is a JSON file, checked and
replaced under one lock and written (temporary file, then rename) before it answers, so a
restart with the same file refuses what it refused before. It is standard library and
``cryptography`` only, and reuses ``tools/tanhui-verify.py`` (loaded by path) for notes and
Merkle proofs, so the witness and the verifier read the specifications the same way::

    python3 tools/tanhui-witness.py --name witness.test/w1 --key-file w1.key --state w1.json \\
        --log 'tanhui.test/log=tanhui.test/log+1a2b3c4d+AU...' --port 0 --url-file w1.url

Tests start it with :func:`witness_process` (through ``tests/fakes/witness.py``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

VERIFIER_PATH = Path(__file__).resolve().parent / "tanhui-verify.py"
VERIFIER_MODULE = "tanhui_verify"
#: tlog-witness: a client sends at most 63 proof lines.
PROOF_LINES_MAX = 63
REQUEST_SIZE_MAX_BYTES = 1_000_000
SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.02
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]*)")
_CHECKPOINT_PATH = re.compile(r"/([0-9a-f]{64})/checkpoint")


def load_verifier() -> ModuleType:
    """``tools/tanhui-verify.py`` as a module (its file name is no module name)."""
    loaded = sys.modules.get(VERIFIER_MODULE)
    if loaded is not None and Path(loaded.__file__ or "") == VERIFIER_PATH:
        return loaded
    spec = importlib.util.spec_from_file_location(VERIFIER_MODULE, VERIFIER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[VERIFIER_MODULE] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


verify = load_verifier()


# -- keys ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WitnessKey:
    name: str
    private_key: Ed25519PrivateKey
    key_id: bytes
    vkey: str


def _public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _key_text(name: str, private_key: Ed25519PrivateKey) -> tuple[str, str]:
    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = _public_bytes(private_key)
    key_id = verify.key_id(name, verify.ALGORITHM_COSIGNATURE_V1, public).hex()
    algorithm = bytes([verify.ALGORITHM_COSIGNATURE_V1])
    private = f"PRIVATE+KEY+{name}+{key_id}+{base64.b64encode(algorithm + seed).decode()}"
    return private, f"{name}+{key_id}+{base64.b64encode(algorithm + public).decode()}"


def witness_key_generate(name: str) -> tuple[str, str]:
    """A new cosigning key for ``name``: (private key text, verifier key)."""
    return _key_text(name, Ed25519PrivateKey.generate())


def witness_key_parse(text: str) -> WitnessKey:
    """``PRIVATE+KEY+<name>+<key id hex>+<base64(0x04 ‖ seed)>``."""
    parts = text.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise ValueError("not a witness private key")
    raw = base64.b64decode(parts[4], validate=True)
    if len(raw) != 33 or raw[0] != verify.ALGORITHM_COSIGNATURE_V1:
        raise ValueError("not an Ed25519 cosignature/v1 key")
    private_key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    _, vkey = _key_text(parts[2], private_key)
    if vkey.split("+", 2)[1] != parts[3].lower():
        raise ValueError("the key id is not the key's")
    return WitnessKey(parts[2], private_key, bytes.fromhex(parts[3]), vkey)


# -- the witness -----------------------------------------------------------------------------------
class Refusal(Exception):
    """An answer other than 200: its status, body and content type."""

    def __init__(self, status: int, body: str, content_type: str = TEXT_CONTENT_TYPE) -> None:
        super().__init__(f"{status} {body.strip()}")
        self.status, self.body, self.content_type = status, body, content_type


def parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    """An add-checkpoint body: (old size, consistency proof, checkpoint note); 400 otherwise."""
    try:
        head, blank, note = body.decode().partition("\n\n")
    except UnicodeDecodeError as error:
        raise Refusal(400, "the body is not UTF-8\n") from error
    lines = head.split("\n")
    old = _OLD_LINE.fullmatch(lines[0])
    if not blank or old is None or len(lines) - 1 > PROOF_LINES_MAX:
        raise Refusal(400, "an old size line, at most 63 proof lines, a blank line, a note\n")
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except ValueError as error:
        raise Refusal(400, "a proof line is not base64\n") from error
    if any(len(node) != verify.HASH_SIZE_BYTES for node in proof):
        raise Refusal(400, "a proof line is not a SHA-256 hash\n")
    return int(old.group(1)), proof, note


class Witness:
    """The checks of add-checkpoint and the state they guard, without HTTP."""

    def __init__(
        self,
        key: WitnessKey,
        logs: dict[str, list[Any]],
        state_path: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key, self.logs, self.state_path, self.clock = key, logs, state_path, clock
        self.lock = threading.Lock()
        self.state: dict[str, dict[str, Any]] = {}
        if state_path.exists():
            self.state = json.loads(state_path.read_text())["logs"]

    def add_checkpoint(self, body: bytes) -> str:
        """The cosignature line for a checkpoint that extends the last one cosigned."""
        old, proof, note_text = parse_request(body)
        try:
            note = verify.parse_note(note_text)
            origin, size, root = verify.parse_checkpoint_text(note.text)
        except verify.VerificationError as error:
            raise Refusal(400, f"{error}\n") from error
        if origin not in self.logs:
            raise Refusal(404, f"unknown log {origin}\n")
        try:
            signers = [key for key in self.logs[origin] if verify.signed_by(note, key)]
        except verify.VerificationError as error:
            raise Refusal(403, f"{error}\n") from error
        if not signers:
            raise Refusal(403, f"no signature by a key of {origin}\n")
        if old > size:
            raise Refusal(400, f"old size {old} is above the checkpoint's {size}\n")
        with self.lock:
            return self._cosign(origin, old, proof, note, signers, size, root)

    def _cosign(
        self,
        origin: str,
        old: int,
        proof: list[bytes],
        note: Any,
        signers: list[Any],
        size: int,
        root: bytes,
    ) -> str:
        """Check against the stored checkpoint and replace it; under the lock, so two requests
        cannot both pass the check and then store one after the other (a rollback)."""
        latest = self.state.get(origin)
        latest_size = latest["size"] if latest else 0
        latest_root = base64.b64decode(latest["root"]) if latest else verify.EMPTY_ROOT
        if old != latest_size:
            raise Refusal(409, f"{latest_size}\n", SIZE_CONTENT_TYPE)
        if size == 0 and root != verify.EMPTY_ROOT:
            raise Refusal(422, "an empty tree has the root SHA-256('')\n")
        if old == 0 and proof:
            raise Refusal(422, "no proof is needed from the empty tree\n")
        if old == size and root != latest_root:
            raise Refusal(422, f"another root for the tree of {size} it cosigned: a fork\n")
        if not verify.verify_consistency(old, size, latest_root, root, proof):
            raise Refusal(422, f"the proof does not show {old} a prefix of {size}\n")
        line = self.cosignature(note.text, int(self.clock()))
        log_lines = "".join(
            f"{verify.SIGNATURE_PREFIX}{name} {base64.b64encode(raw).decode()}\n"
            for name, raw in note.signatures
            if any(name == key.name and raw[:4] == key.key_id for key in signers)
        )
        record = {"size": size, "root": base64.b64encode(root).decode()}
        self._save({**self.state, origin: {**record, "note": f"{note.text}\n{log_lines}{line}"}})
        return line

    def cosignature(self, text: str, timestamp: int) -> str:
        """tlog-cosignature: ``— <name> base64(key id ‖ u64 timestamp ‖ Ed25519 signature)``."""
        signature = self.key.private_key.sign(verify.cosignature_message(text, timestamp))
        blob = self.key.key_id + timestamp.to_bytes(8, "big") + signature
        return f"{verify.SIGNATURE_PREFIX}{self.key.name} {base64.b64encode(blob).decode()}\n"

    def _save(self, state: dict[str, dict[str, Any]]) -> None:
        """Persist, then adopt: an answer never promises what a restart would forget."""
        temporary = self.state_path.with_name(f".{self.state_path.name}.tmp")
        with temporary.open("w") as file:
            json.dump({"logs": state}, file, indent=1, sort_keys=True)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.state_path)
        self.state = state

    def checkpoint(self, origin_hash: str) -> str | None:
        with self.lock:
            for origin, record in self.state.items():
                if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                    return record["note"]
        return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as tlog-witness recommends
    disable_nagle_algorithm = True  # headers and body leave at once
    witness: Witness
    prefix: str

    def do_POST(self) -> None:
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > REQUEST_SIZE_MAX_BYTES:
            self.close_connection = True  # the body is not read: the connection cannot go on
            return self._answer(400, "a Content-Length up to 1 MB\n")
        body = self.rfile.read(int(length))
        if self.path != f"{self.prefix}/add-checkpoint":
            return self._answer(404, "no such endpoint\n")
        try:
            line = self.witness.add_checkpoint(body)
        except Refusal as refusal:
            return self._answer(refusal.status, refusal.body, refusal.content_type)
        return self._answer(200, line)

    def do_GET(self) -> None:
        found = self.path.startswith(self.prefix)
        match = _CHECKPOINT_PATH.fullmatch(self.path[len(self.prefix) :]) if found else None
        note = self.witness.checkpoint(match.group(1)) if match else None
        if note is None:
            return self._answer(404, "no checkpoint cosigned for that log\n")
        return self._answer(200, note)

    def _answer(self, status: int, body: str, content_type: str = TEXT_CONTENT_TYPE) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"witness: {format % args}\n")


def _write_private(path: Path, text: str) -> None:
    """A new file only its owner reads (a private key)."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(text)


def serve(witness: Witness, host: str, port: int, prefix: str = "") -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"witness": witness, "prefix": prefix.rstrip("/")})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def _logs(values: list[str]) -> dict[str, list[Any]]:
    logs: dict[str, list[Any]] = {}
    for value in values:
        origin, equals, vkey = value.partition("=")
        if not equals:
            raise ValueError(f"--log ORIGIN=VKEY, not {value!r}")
        logs.setdefault(origin, []).append(verify.parse_vkey(vkey, verify.ALGORITHM_ED25519))
    return logs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A C2SP tlog-witness for tests.")
    parser.add_argument("--name", required=True, help="the witness's key name")
    parser.add_argument("--key-file", type=Path, required=True, help="generated if missing")
    parser.add_argument("--state", type=Path, required=True, help="a JSON file")
    parser.add_argument("--log", action="append", default=[], help="ORIGIN=LOG_VKEY")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--prefix", default="", help="the URL path before /add-checkpoint")
    parser.add_argument("--url-file", type=Path, help="where to write the base URL")
    args = parser.parse_args(argv)
    if not args.key_file.exists():
        _write_private(args.key_file, witness_key_generate(args.name)[0] + "\n")
    key = witness_key_parse(args.key_file.read_text())
    if key.name != args.name:
        parser.error(f"{args.key_file} is the key of {key.name}, not {args.name}")
    server = serve(Witness(key, _logs(args.log), args.state), args.host, args.port, args.prefix)
    url = f"http://{args.host}:{server.server_address[1]}{args.prefix.rstrip('/')}"
    if args.url_file:
        temporary = args.url_file.with_name(f".{args.url_file.name}.tmp")
        temporary.write_text(url + "\n")
        os.replace(temporary, args.url_file)
    print(key.vkey, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with server:
        server.serve_forever()
    return 0


# -- for tests -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunningWitness:
    url: str
    vkey: str
    name: str
    state_path: Path
    key_path: Path
    process: subprocess.Popen


@contextlib.contextmanager
def witness_process(
    tmp_path: Path,
    *,
    name: str,
    logs: dict[str, str],
    state_path: Path | None = None,
    key_path: Path | None = None,
) -> Iterator[RunningWitness]:
    """Run the witness on a free loopback port until the block ends. Its key and state files
    default to files in ``tmp_path`` named after ``name``, so starting it again with the same
    ``tmp_path`` and name restarts the same witness on its saved state."""
    slug = re.sub(r"[^A-Za-z0-9.-]", "_", name)
    key_path = key_path or tmp_path / f"{slug}.key"
    state_path = state_path or tmp_path / f"{slug}.state.json"
    if not key_path.exists():
        _write_private(key_path, witness_key_generate(name)[0] + "\n")
    url_file = tmp_path / f"{slug}.url"
    url_file.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--name", name]
    command += ["--key-file", str(key_path), "--state", str(state_path), "--port", "0"]
    command += ["--url-file", str(url_file)]
    for origin, vkey in logs.items():
        command += ["--log", f"{origin}={vkey}"]
    with (tmp_path / f"{slug}.log").open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603 - our own file
    try:
        url = _started(process, url_file, tmp_path / f"{slug}.log")
        vkey = witness_key_parse(key_path.read_text()).vkey
        yield RunningWitness(url, vkey, name, state_path, key_path, process)
    finally:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _started(process: subprocess.Popen, url_file: Path, log_path: Path) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if url_file.exists():
            return url_file.read_text().strip()
        if process.poll() is not None:
            break
        time.sleep(POLL_INTERVAL_S)
    raise RuntimeError(f"the witness did not start:\n{log_path.read_text()}")


if __name__ == "__main__":
    sys.exit(main())
