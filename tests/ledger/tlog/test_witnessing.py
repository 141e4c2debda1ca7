"""Witnesses cosign the log's checkpoints (C2SP tlog-witness, tlog-cosignature): the service
submits each new checkpoint with a consistency proof from the size the witness last cosigned,
keeps the cosignature it returns, publishes it with the checkpoint, and records a refusal when
the witness finds the log does not extend what it cosigned (a fork, a rollback).

The witness is a separate process on loopback written from the specification
(``tools/tanhui-witness.py``); the service reaches it through its real HTTP adapter.
"""

import base64

import pytest
import sqlalchemy as sa

from ledger.models import LogCosignature, LogWitnessState
from ledger.tlog import log_append, log_sequence, merkle
from ledger.tlog.cosignatures import cosignature_open, note_split, parse_witness_key
from ledger.tlog.note import open_checkpoint
from ledger.tlog.witnessing import Witness, published_checkpoint, witness_submit
from service.witness_http import WitnessHttp
from tests.fakes.witness import witness_process


@pytest.fixture()
def witness(tmp_path, signer, origin):
    with witness_process(tmp_path, name="witness.test/w1", logs={origin: signer.verifier_key}) as w:
        yield w


@pytest.fixture()
def configured(witness):
    return Witness(parse_witness_key(witness.vkey), witness.url)


@pytest.fixture()
def client():
    adapter = WitnessHttp(timeout_s=5)
    yield adapter
    adapter.close()


@pytest.fixture()
def grow(session, signer, origin, now):
    counter = {"next": 0}

    def append(count):
        for _ in range(count):
            number = counter["next"]
            counter["next"] += 1
            log_append(
                session, kind="test.event", source_id=str(number), data={"n": number}, now=now
            )
        return log_sequence(session, signer=signer, origin=origin, now=now)

    return append


def cosignatures(session):
    return session.scalars(sa.select(LogCosignature).order_by(LogCosignature.size)).all()


def test_a_witness_cosigns_each_checkpoint_that_extends_the_last(
    session, grow, configured, client, now, signer, origin
):
    first = grow(5)
    result = witness_submit(session, witness=configured, client=client, now=now)
    assert (result.outcome, result.size) == ("cosigned", 5)
    second = grow(40)
    assert witness_submit(session, witness=configured, client=client, now=now).outcome == "cosigned"
    assert [row.size for row in cosignatures(session)] == [first.size, second.size]
    state = session.get(LogWitnessState, configured.name)
    assert state.size == 45 and state.refusal is None
    # Nothing new: nothing is asked.
    assert witness_submit(session, witness=configured, client=client, now=now).outcome == "current"
    published = published_checkpoint(session, quorum=1)
    assert published["size"] == 45 and published["witnessed"]
    body, lines = note_split(published["note"])
    assert lines[0].startswith(f"— {origin} ")  # the log's own signature first
    cosigned = cosignature_open(lines[1], body=body, key=configured.key)
    assert cosigned.witness == "witness.test/w1" and cosigned.timestamp > 1_700_000_000
    # The published note still verifies with the log's key alone.
    assert open_checkpoint(published["note"], signer.verifier(), origin).size == 45


def test_a_witness_that_remembers_another_size_is_asked_again_from_there(
    session, grow, configured, client, now
):
    grow(8)
    witness_submit(session, witness=configured, client=client, now=now)
    grow(9)
    # Our record of the witness was lost (a restored database): it answers 409 with its size.
    session.get(LogWitnessState, configured.name).size = 0
    result = witness_submit(session, witness=configured, client=client, now=now)
    assert (result.outcome, result.size) == ("cosigned", 17)


def _rewrite_leaf(session, position, data):
    """Rewrite a leaf and every stored node above it, as someone with the database would to
    change history unseen; the triggers that refuse it are dropped inside the test's
    transaction."""
    _drop_immutability(session, ("tlog_leaves", "tlog_nodes"))
    session.execute(
        sa.text("UPDATE tlog_leaves SET data = :d WHERE position = :p"), {"d": data, "p": position}
    )
    rows = session.execute(sa.text("SELECT level, position, hash FROM tlog_nodes")).all()
    nodes = {(row.level, row.position): bytes(row.hash) for row in rows}
    digest, level, index = merkle.leaf_hash(data.encode()), 0, position
    while (level, index) in nodes:
        nodes[(level, index)] = digest
        session.execute(
            sa.text("UPDATE tlog_nodes SET hash = :h WHERE level = :l AND position = :p"),
            {"h": digest, "l": level, "p": index},
        )
        sibling = index ^ 1
        if (level, sibling) not in nodes:
            break
        left, right = (
            (nodes[(level, sibling)], digest) if index & 1 else (digest, nodes[(level, sibling)])
        )
        digest, level, index = merkle.node_hash(left, right), level + 1, index >> 1


def test_a_fork_of_the_cosigned_history_is_refused_and_recorded(
    session, grow, configured, client, now
):
    grow(6)
    witness_submit(session, witness=configured, client=client, now=now)
    # History rewritten under leaf 2, then the log grows and signs a new checkpoint.
    _rewrite_leaf(session, 2, '{"n":"forged","type":"test.event"}')
    grow(3)
    result = witness_submit(session, witness=configured, client=client, now=now)
    assert result.outcome == "refused" and result.detail.startswith("422")
    state = session.get(LogWitnessState, configured.name)
    assert state.size == 6 and state.refusal.startswith("422") and state.refused_at == now
    assert [row.size for row in cosignatures(session)] == [6]
    # With a quorum of one the public checkpoint stays the one the witness cosigned.
    assert published_checkpoint(session, quorum=1)["size"] == 6
    assert published_checkpoint(session, quorum=0)["size"] == 9


def _drop_immutability(session, tables):
    for table in tables:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_immutable"))
        else:
            for operation in ("update", "delete"):
                session.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_{operation}"))


def test_a_log_rolled_back_behind_what_the_witness_cosigned_is_refused(
    session, grow, configured, client, now
):
    grow(6)
    grow(4)
    witness_submit(session, witness=configured, client=client, now=now)
    # The log is taken back to size 6 (an old backup restored), then grows to 8 differently.
    _drop_immutability(
        session, ("tlog_leaves", "tlog_nodes", "tlog_checkpoints", "tlog_cosignatures")
    )
    session.execute(sa.delete(LogCosignature))
    session.execute(sa.text("DELETE FROM tlog_checkpoints WHERE size > 6"))
    session.execute(sa.text("DELETE FROM tlog_leaves WHERE position >= 6"))
    session.execute(sa.text("DELETE FROM tlog_nodes WHERE (position + 1) * (1 << level) > 6"))
    session.execute(sa.text("UPDATE tlog_state SET size = 6"))
    grow(2)
    result = witness_submit(session, witness=configured, client=client, now=now)
    assert result.outcome == "refused"
    assert "cosigned size 10, beyond our tree" in result.detail
    assert published_checkpoint(session, quorum=1)["witnessed"] is False


def test_an_unreachable_witness_is_recorded_and_changes_nothing(session, grow, client, now):
    from tests.fakes.witness import witness_key_generate

    _, vkey = witness_key_generate("witness.test/gone")
    gone = Witness(parse_witness_key(vkey), "http://127.0.0.1:9")
    grow(3)
    result = witness_submit(session, witness=gone, client=client, now=now)
    assert result.outcome == "unavailable"
    assert session.get(LogWitnessState, gone.name).refusal.startswith("unavailable")
    assert cosignatures(session) == []
    assert published_checkpoint(session, quorum=1)["witnessed"] is False


def test_a_cosignature_by_another_key_is_not_kept(session, grow, configured, client, now):
    from tests.fakes.witness import witness_key_generate

    _, other = witness_key_generate("witness.test/w1")  # same name, another key
    impostor = Witness(parse_witness_key(other), configured.url)
    grow(4)
    result = witness_submit(session, witness=impostor, client=client, now=now)
    assert result.outcome == "refused" and "no cosignature" in result.detail
    assert cosignatures(session) == []


def test_the_proof_sent_is_the_consistency_proof_from_the_witnesses_size(session, grow, now):
    class Recorder:
        def __init__(self):
            self.bodies = []

        def add_checkpoint(self, url, body):
            from ledger.tlog.witnessing import WitnessAnswer

            self.bodies.append(body)
            return WitnessAnswer(409, "text/x.tlog.size", "7\n")

    from tests.fakes.witness import witness_key_generate

    _, vkey = witness_key_generate("witness.test/rec")
    recorder = Recorder()
    grow(7)
    signed = grow(13)
    witness_submit(
        session, witness=Witness(parse_witness_key(vkey), "http://w"), client=recorder, now=now
    )
    first, second = recorder.bodies
    assert first.startswith(b"old 0\n\n") and first.endswith(signed.note.encode())
    header, _, note = second.decode().partition("\n\n")
    lines = header.split("\n")
    assert lines[0] == "old 7" and note == signed.note
    old_root = session.execute(sa.text("SELECT root_hash FROM tlog_checkpoints WHERE size = 7"))
    assert merkle.verify_consistency(
        7, 20, bytes(old_root.scalar_one()), signed.root_hash,
        [base64.b64decode(line) for line in lines[1:]],
    )  # fmt: skip


def test_log_verify_checks_every_stored_cosignature_of_a_configured_witness(
    session, grow, configured, client, now, signer, origin
):
    from ledger.tlog import log_verify

    grow(4)
    witness_submit(session, witness=configured, client=client, now=now)
    keys = [configured.key]
    assert log_verify(session, verifier=signer.verifier(), origin=origin, witnesses=keys) == []
    line = cosignatures(session)[0].line
    forged = line[:-6] + ("AAAAA=" if not line.endswith("AAAAA=") else "BBBBB=")
    _drop_immutability(session, ("tlog_cosignatures",))
    session.execute(sa.text("UPDATE tlog_cosignatures SET line = :l"), {"l": forged})
    problems = log_verify(session, verifier=signer.verifier(), origin=origin, witnesses=keys)
    assert problems and "witness.test/w1's cosignature on checkpoint 4" in problems[0]
