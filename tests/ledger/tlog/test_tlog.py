"""The transparency log: sequencing, proofs from stored nodes, signed checkpoints, tampering."""

import base64
import json
import math
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ledger import entries as ledger
from ledger.models import LogLeaf, LogPending
from ledger.tlog import (
    LogError,
    consistency_proof,
    inclusion_proof,
    leaf_proof,
    log_append,
    log_sequence,
    log_verify,
    merkle,
    proof_verify,
)


@pytest.fixture()
def events(session, now):
    """Register ``count`` events; returns their leaf data in order."""

    def register(count, start=0):
        for number in range(start, start + count):
            log_append(
                session, kind="test.event", source_id=str(number), data={"number": number}, now=now
            )
        return [row for row in session.scalars(sa.select(LogPending.data).order_by(LogPending.id))]

    return register


def reference_leaves(session):
    data = session.scalars(sa.select(LogLeaf.data).order_by(LogLeaf.position)).all()
    return [merkle.leaf_hash(item.encode()) for item in data]


def test_sequencing_builds_the_rfc_9162_tree(session, events, signer, origin, now):
    events(37)
    checkpoint = log_sequence(session, signer=signer, origin=origin, now=now)
    leaves = reference_leaves(session)
    assert checkpoint.size == 37 == len(leaves)
    assert checkpoint.root_hash == merkle.root_from_leaves(leaves)
    assert session.scalar(sa.select(sa.func.count()).select_from(LogPending)) == 0
    assert log_sequence(session, signer=signer, origin=origin, now=now) is None


def test_ledger_entries_become_leaves_in_commit_order(
    session, open_account, post, signer, origin, now
):
    open_account("issuer", issuer=True)
    open_account("alice")
    first = post("a", "issuer", "alice", 5)
    second = post("b", "issuer", "alice", 7)
    log_sequence(session, signer=signer, origin=origin, now=now)
    leaves = session.execute(
        sa.select(LogLeaf.kind, LogLeaf.source_id, LogLeaf.data).order_by(LogLeaf.position)
    ).all()
    assert [(kind, source) for kind, source, _ in leaves] == [
        ("ledger.entry", str(first.entry_id)),
        ("ledger.entry", str(second.entry_id)),
    ]
    assert json.loads(leaves[1].data)["postings"] == [
        ["issuer", "POINT", -7],
        ["alice", "POINT", 7],
    ]


def test_proofs_from_stored_nodes_equal_the_reference_proofs(session, events, signer, origin, now):
    events(20)
    log_sequence(session, signer=signer, origin=origin, now=now)
    events(13, start=20)
    log_sequence(session, signer=signer, origin=origin, now=now)
    leaves = reference_leaves(session)

    def reference(start, end):
        return merkle.root_from_leaves(leaves[start:end])

    for size in (1, 2, 7, 20, 21, 33):
        for index in range(size):
            assert inclusion_proof(session, index=index, size=size) == merkle.inclusion_path(
                index, size, reference
            )
        for old in range(size + 1):
            assert consistency_proof(session, old_size=old, new_size=size) == (
                merkle.consistency_path(old, size, reference)
            )


def test_a_proof_reads_its_nodes_in_one_query_of_logarithmic_size(
    session, events, signer, origin, now
):
    events(1000)
    log_sequence(session, signer=signer, origin=origin, now=now)
    statements = []
    engine = session.get_bind()

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for index in (0, 499, 998, 999):
            inclusion_proof(session, index=index, size=1000)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 4  # one query per proof, never a tree rebuild
    for index in range(0, 1000, 37):
        ranges: list[tuple[int, int]] = []
        merkle.inclusion_path(index, 1000, lambda s, e, seen=ranges: seen.append((s, e)) or b"")
        keys = {key for s, e in ranges for key in merkle.complete_subtrees(s, e)}
        assert len(keys) <= 2 * math.ceil(math.log2(1000))


def test_the_whole_log_verifies_and_tampering_is_found(session, events, signer, origin, now):
    events(9)
    log_sequence(session, signer=signer, origin=origin, now=now)
    assert log_verify(session, verifier=signer.verifier(), origin=origin) == []
    from tests.ledger.test_verify import unprotect

    unprotect(session, "tlog_leaves")
    session.execute(sa.text("UPDATE tlog_leaves SET data = data || ' ' WHERE position = 4"))
    problems = log_verify(session, verifier=signer.verifier(), origin=origin)
    assert problems == ["log: leaf 4 does not hash to its stored node"]


def test_a_checkpoint_signed_by_another_key_is_refused(session, events, signer, origin, now):
    from ledger.tlog.note import generate_signer_key, parse_signer_key

    events(3)
    impostor = parse_signer_key(generate_signer_key(origin))
    log_sequence(session, signer=impostor, origin=origin, now=now)
    problems = log_verify(session, verifier=signer.verifier(), origin=origin)
    assert problems and "signature" in problems[0]


# -- one leaf's proof, offline -------------------------------------------------------------------
@pytest.fixture()
def bundle(session, events, signer, origin, now):
    events(11)
    log_sequence(session, signer=signer, origin=origin, now=now)
    return leaf_proof(session, kind="test.event", source_id="6")


def test_a_bundle_verifies_with_only_the_public_key(bundle, signer, origin):
    leaf = proof_verify(bundle, verifier=signer.verifier(), origin=origin)
    assert (leaf.index, leaf.tree_size) == (6, 11)
    assert json.loads(leaf.data) == {"type": "test.event", "number": 6}


def _flip(b64):
    raw = bytearray(base64.b64decode(b64))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


TAMPERINGS = {
    "leaf data": (lambda b: {**b, "leaf_data": b["leaf_data"].replace("6", "7")}, "inclusion"),
    "leaf index": (lambda b: {**b, "leaf_index": 5}, "inclusion"),
    "a path node": (
        lambda b: {
            **b,
            "inclusion_path": [_flip(b["inclusion_path"][0]), *b["inclusion_path"][1:]],
        },
        "inclusion",
    ),
    "a missing path node": (
        lambda b: {**b, "inclusion_path": b["inclusion_path"][:-1]},
        "inclusion",
    ),
    "the tree size": (lambda b: {**b, "tree_size": 12}, "tree_size"),
    "the checkpoint size": (
        lambda b: {**b, "checkpoint": b["checkpoint"].replace("\n11\n", "\n12\n")},
        "checkpoint",
    ),
    "the checkpoint root": (
        lambda b: {
            **b,
            "checkpoint": b["checkpoint"].replace(
                b["checkpoint"].split("\n")[2], _flip(b["checkpoint"].split("\n")[2])
            ),
        },
        "checkpoint",
    ),
    "the signature": (
        lambda b: {**b, "checkpoint": b["checkpoint"][:-6] + "AAAA=\n"},
        "checkpoint",
    ),
    "a missing field": (lambda b: {k: v for k, v in b.items() if k != "leaf_data"}, "bundle"),
}


@pytest.mark.parametrize("piece", list(TAMPERINGS))
def test_tampering_with_any_piece_fails(bundle, signer, origin, piece):
    tamper, part = TAMPERINGS[piece]
    with pytest.raises(LogError, match=f"^{part}"):
        proof_verify(tamper(bundle), verifier=signer.verifier(), origin=origin)


def test_the_command_verifies_a_bundle_offline(make_app, bundle, tmp_path, signer, origin):
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(bundle))
    runner = make_app().test_cli_runner()
    ok = runner.invoke(
        args=["log", "verify-proof", str(path), "--key", signer.verifier_key, "--origin", origin]
    )
    assert ok.exit_code == 0, ok.output
    assert "leaf 6 is in the signed tree of size 11" in ok.output
    path.write_text(json.dumps({**bundle, "leaf_index": 5}))
    bad = runner.invoke(args=["log", "verify-proof", str(path)])
    assert bad.exit_code == 1
    assert "inclusion" in bad.output


def test_the_log_commands_sequence_verify_and_print_the_key(make_app, session, events, signer):
    events(4)
    session.commit()
    runner = make_app().test_cli_runner()
    assert "tree size 4" in runner.invoke(args=["log", "sequence"]).output
    assert runner.invoke(args=["log", "verify"]).output.strip() == "log verified"
    assert runner.invoke(args=["log", "key"]).output.strip() == signer.verifier_key


def test_pending_events_have_no_proof_yet(session, events):
    events(1)
    assert leaf_proof(session, kind="test.event", source_id="0") is None


def test_expiry_and_holds_are_logged_like_any_entry(
    session, open_account, post, signer, origin, now
):
    open_account("issuer", issuer=True)
    open_account("alice", lots=True)
    post("a", "issuer", "alice", 5, expires_at=now + timedelta(days=1))
    ledger.lots_expire(
        session, now=now + timedelta(days=1), sink_for_asset=ledger.expiry_sinks_open(session)
    )
    checkpoint = log_sequence(session, signer=signer, origin=origin, now=now)
    assert checkpoint.size == 2


@pytest.mark.parametrize(
    ("statement", "problem"),
    [
        ("DELETE FROM tlog_nodes WHERE level = 1 AND position = 2", "log: level 1 lacks node 2"),
        (
            "INSERT INTO tlog_nodes (level, position, hash) "
            "SELECT 2, 5, hash FROM tlog_nodes WHERE level = 0 AND position = 0",
            "log: stored nodes beyond the tree size at level 2",
        ),
        (
            "DELETE FROM tlog_leaves WHERE position = 8",
            "log: leaves and leaf nodes are not exactly 0..8",
        ),
    ],
)
def test_missing_and_extra_rows_are_found(session, events, signer, origin, now, statement, problem):
    from tests.ledger.test_verify import unprotect

    events(9)
    log_sequence(session, signer=signer, origin=origin, now=now)
    unprotect(session, "tlog_nodes")
    unprotect(session, "tlog_leaves")
    session.execute(sa.text(statement))
    assert problem in log_verify(session, verifier=signer.verifier(), origin=origin)
