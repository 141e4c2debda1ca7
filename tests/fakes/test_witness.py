"""The test witness answers add-checkpoint as C2SP tlog-witness says, case by case, for
checkpoints the service's own note and Merkle code build, and a restart keeps what it cosigned.

Each test runs the witness as its own process (``witness_process``) and talks HTTP to it.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.tlog import merkle
from ledger.tlog.note import checkpoint_text, generate_signer_key, parse_signer_key, sign_note
from tests.fakes.witness import (
    RunningWitness,
    load_verifier,
    witness_key_generate,
    witness_key_parse,
    witness_process,
)

verify = load_verifier()
ORIGIN = "tanhui.test/log"
LOG_KEY = generate_signer_key(ORIGIN)
LOG_VKEY = parse_signer_key(LOG_KEY).verifier_key
WITNESS_NAME = "witness.test/w1"
CHECKPOINT_PATH = f"/{hashlib.sha256(ORIGIN.encode()).hexdigest()}/checkpoint"


@dataclass(frozen=True)
class Tree:
    """A log's leaves; its checkpoints and proofs come from ``ledger.tlog``."""

    leaves: list[bytes]

    @classmethod
    def of(cls, count: int, salt: str = "") -> Tree:
        return cls([merkle.leaf_hash(f"{salt}entry {i}".encode()) for i in range(count)])

    def root(self, size: int) -> bytes:
        return merkle.root_from_leaves(self.leaves[:size])

    def proof(self, old: int, new: int) -> list[bytes]:
        return merkle.consistency_path(
            old, new, lambda start, end: merkle.root_from_leaves(self.leaves[start:end])
        )

    def checkpoint(self, size: int, key: str = LOG_KEY, origin: str = ORIGIN) -> str:
        return sign_note(checkpoint_text(origin, size, self.root(size)), parse_signer_key(key))


TREE = Tree.of(40)
#: Another history of the same log: it differs from the first leaf on.
FORK = Tree.of(40, salt="forged ")


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    text: str


def request(witness: RunningWitness, method: str, path: str, body: bytes | None = None) -> Answer:
    parts = urllib.parse.urlsplit(witness.url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request(method, parts.path + path, body=body)
        response = connection.getresponse()
        content_type = response.getheader("Content-Type", "")
        return Answer(response.status, content_type, response.read().decode())
    finally:
        connection.close()


def add_body(old: int, proof: Sequence[bytes], checkpoint: str) -> bytes:
    lines = [f"old {old}\n"] + [base64.b64encode(node).decode() + "\n" for node in proof]
    return ("".join(lines) + "\n" + checkpoint).encode()


def add(
    witness: RunningWitness,
    old: int,
    size: int,
    *,
    tree: Tree = TREE,
    proof: Sequence[bytes] | None = None,
    checkpoint: str | None = None,
) -> Answer:
    """POST add-checkpoint: ``tree``'s checkpoint of ``size`` with its proof from ``old``."""
    proof = tree.proof(old, size) if proof is None else proof
    body = add_body(old, proof, checkpoint or tree.checkpoint(size))
    return request(witness, "POST", "/add-checkpoint", body)


def cosigned(witness: RunningWitness, note: str) -> verify.Checkpoint:
    """``note`` checked the way the verifier script checks it: the log's key and this witness."""
    return verify.verify_checkpoint(
        note,
        verify.parse_vkey(LOG_VKEY, verify.ALGORITHM_ED25519),
        witnesses=[verify.parse_vkey(witness.vkey, verify.ALGORITHM_COSIGNATURE_V1)],
    )


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[RunningWitness]:
    with witness_process(tmp_path, name=WITNESS_NAME, logs={ORIGIN: LOG_VKEY}) as running:
        yield running


def test_a_first_checkpoint_is_cosigned_from_old_0_and_the_cosignature_verifies(witness):
    answer = add(witness, 0, 5)

    assert (answer.status, answer.content_type) == (200, "text/plain; charset=utf-8")
    assert answer.text.startswith(f"— {WITNESS_NAME} ") and answer.text.count("\n") == 1
    checkpoint = cosigned(witness, TREE.checkpoint(5) + answer.text)
    assert checkpoint.size == 5 and checkpoint.root == TREE.root(5)
    assert set(checkpoint.cosigned) == {WITNESS_NAME}
    assert abs(checkpoint.cosigned[WITNESS_NAME] - time.time()) < 60


def test_a_checkpoint_extending_the_last_one_with_a_valid_proof_is_cosigned(witness):
    assert add(witness, 0, 5).status == 200

    answer = add(witness, 5, 12)

    assert answer.status == 200
    assert cosigned(witness, TREE.checkpoint(12) + answer.text).size == 12


def test_the_same_checkpoint_again_is_cosigned_again(witness):
    assert add(witness, 0, 12).status == 200
    assert add(witness, 12, 12).status == 200


def test_the_latest_cosigned_checkpoint_is_served_under_the_hash_of_its_origin(witness):
    assert request(witness, "GET", CHECKPOINT_PATH).status == 404
    add(witness, 0, 5)
    add(witness, 5, 12)

    served = request(witness, "GET", CHECKPOINT_PATH)

    assert served.status == 200
    checkpoint = cosigned(witness, served.text)
    assert (checkpoint.size, set(checkpoint.cosigned)) == (12, {WITNESS_NAME})
    assert served.text.startswith(checkpoint_text(ORIGIN, 12, TREE.root(12)) + "\n— ")


def test_an_old_size_other_than_the_one_cosigned_is_409_with_that_size(witness):
    first = add(witness, 3, 5)
    assert (first.status, first.content_type, first.text) == (409, "text/x.tlog.size", "0\n")
    add(witness, 0, 5)
    add(witness, 5, 12)

    stale = add(witness, 5, 20)

    assert (stale.status, stale.content_type, stale.text) == (409, "text/x.tlog.size", "12\n")


def test_another_root_for_the_size_cosigned_is_a_fork_422(witness):
    add(witness, 0, 12)

    assert add(witness, 12, 12, tree=FORK).status == 422
    assert cosigned(witness, request(witness, "GET", CHECKPOINT_PATH).text).root == TREE.root(12)


def test_a_proof_that_fails_is_422(witness):
    add(witness, 0, 12)
    proof = TREE.proof(12, 20)
    tampered = [proof[0][:-1] + bytes([proof[0][-1] ^ 1]), *proof[1:]]

    assert add(witness, 12, 20, proof=tampered).status == 422
    assert add(witness, 12, 20, proof=proof[:-1]).status == 422
    # A split view: the other history's checkpoint of 20, with that history's own proof.
    assert add(witness, 12, 20, tree=FORK).status == 422
    assert add(witness, 12, 20, proof=proof).status == 200


def test_a_proof_from_the_empty_tree_is_422(witness):
    assert add(witness, 0, 12, proof=[TREE.root(8)]).status == 422


def test_an_empty_tree_has_the_empty_root_or_is_422(witness):
    wrong = sign_note(checkpoint_text(ORIGIN, 0, TREE.root(5)), parse_signer_key(LOG_KEY))
    empty = sign_note(checkpoint_text(ORIGIN, 0, merkle.EMPTY_ROOT), parse_signer_key(LOG_KEY))

    assert add(witness, 0, 0, checkpoint=wrong).status == 422
    assert add(witness, 0, 0, checkpoint=empty).status == 200
    assert add(witness, 0, 5).status == 200


def test_a_checkpoint_signed_by_another_key_is_403(witness):
    impostor = generate_signer_key(ORIGIN)  # the log's name, another key

    assert add(witness, 0, 5, checkpoint=TREE.checkpoint(5, key=impostor)).status == 403
    # Unknown signatures are ignored beside the log's.
    both = TREE.checkpoint(5) + TREE.checkpoint(5, key=impostor).split("\n\n")[1]
    assert add(witness, 0, 5, checkpoint=both).status == 200


def test_a_failing_signature_by_the_logs_key_is_403(witness):
    text, _, line = TREE.checkpoint(5).partition("\n\n")
    name, blob = line.removeprefix("— ").split()
    raw = base64.b64decode(blob)
    broken = raw[:-1] + bytes([raw[-1] ^ 1])  # same key name and id, another signature
    note = f"{text}\n\n— {name} {base64.b64encode(broken).decode()}\n"

    assert add(witness, 0, 5, checkpoint=note).status == 403


def test_an_unknown_origin_is_404(witness):
    other = generate_signer_key("other.test/log")
    checkpoint = TREE.checkpoint(5, key=other, origin="other.test/log")

    assert add(witness, 0, 5, checkpoint=checkpoint).status == 404


def test_an_old_size_above_the_checkpoints_or_a_malformed_body_is_400(witness):
    note = TREE.checkpoint(5)

    assert add(witness, 12, 5, proof=[]).status == 400
    assert request(witness, "POST", "/add-checkpoint", b"old 05\n\n" + note.encode()).status == 400
    assert request(witness, "POST", "/add-checkpoint", b"old 0\n" + note.encode()).status == 400
    too_long = add_body(1, [TREE.leaves[0]] * 64, note)
    assert request(witness, "POST", "/add-checkpoint", too_long).status == 400
    not_base64 = b"old 1\nnot a hash\n\n" + note.encode()
    assert request(witness, "POST", "/add-checkpoint", not_base64).status == 400


def test_a_rollback_is_refused(witness):
    add(witness, 0, 12)

    assert add(witness, 12, 8, proof=[]).status == 400
    assert add(witness, 8, 8).text == "12\n"
    assert cosigned(witness, request(witness, "GET", CHECKPOINT_PATH).text).size == 12


def test_a_restarted_witness_keeps_what_it_cosigned(tmp_path):
    logs = {ORIGIN: LOG_VKEY}
    with witness_process(tmp_path, name=WITNESS_NAME, logs=logs) as first:
        assert add(first, 0, 12).status == 200
    assert first.process.returncode is not None

    with witness_process(tmp_path, name=WITNESS_NAME, logs=logs) as second:
        assert (second.vkey, second.state_path) == (first.vkey, first.state_path)
        assert add(second, 12, 12, tree=FORK).status == 422
        assert add(second, 0, 20).text == "12\n"
        answer = add(second, 12, 20)
        assert answer.status == 200
        assert cosigned(second, TREE.checkpoint(20) + answer.text).size == 20


def test_witness_keys_are_the_c2sp_cosignature_v1_form():
    private, vkey = witness_key_generate(WITNESS_NAME)
    key = witness_key_parse(private)
    public = verify.parse_vkey(vkey, verify.ALGORITHM_COSIGNATURE_V1)

    assert private.startswith(f"PRIVATE+KEY+{WITNESS_NAME}+{key.key_id.hex()}+")
    assert base64.b64decode(private.split("+", 4)[4])[0] == 0x04
    assert key.vkey == vkey and public.key_id == key.key_id
