"""The transparency log: an append-only RFC 9162 Merkle tree over ledger entries and registered
events, with signed checkpoints (C2SP tlog-checkpoint in a signed note).

Writers never touch the tree: they insert a ``tlog_pending`` row in their own transaction
(:func:`log_append`, or the ledger engine for every entry). A sequencer step
(:func:`log_sequence`) takes the pending rows in order, appends them as leaves, stores every
newly completed subtree hash, and signs a checkpoint. Only the sequencer locks ``tlog_state``.

Proofs are built from stored complete-subtree hashes: a proof needs O(log n) of them, fetched in
one query.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.models import (
    AnyResult,
    AnySelect,
    LogCheckpoint,
    LogCosignature,
    LogLeaf,
    LogNode,
    LogPending,
    LogState,
    table,
)
from ledger.tlog import merkle
from ledger.tlog.canonical import canonical_json
from ledger.tlog.cosignatures import WitnessKey, cosignature_open, note_split, note_with
from ledger.tlog.note import (
    NoteError,
    Signer,
    Verifier,
    checkpoint_text,
    open_checkpoint,
    parse_checkpoint,
    sign_note,
)

SEQUENCE_BATCH_MAX = 10_000
EVENT_KIND_MAX_LENGTH_CHARS = 32
#: A leaf's data travels in entry bundles behind a uint16 length (C2SP tlog-tiles).
LEAF_DATA_MAX_BYTES = 0xFFFF


class LogError(ValueError):
    """A proof or log that does not verify; the message says which part failed."""


def log_append(
    session: Session, *, kind: str, source_id: str, data: Mapping[str, Any], now: datetime
) -> None:
    """Register an event (a label certification, say) to be sequenced into the log."""
    if not 0 < len(kind) <= EVENT_KIND_MAX_LENGTH_CHARS:
        raise ValueError("event kind length")
    text = canonical_json({"type": kind, **data})
    if len(text.encode()) > LEAF_DATA_MAX_BYTES:
        raise ValueError(f"a log event of {len(text.encode())} bytes is over {LEAF_DATA_MAX_BYTES}")
    session.add(LogPending(kind=kind, source_id=str(source_id), data=text, created_at=now))
    session.flush()


# -- sequencing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedCheckpoint:
    size: int
    root_hash: bytes
    note: str


def _state_lock(session: Session) -> LogState:
    if session.get_bind().dialect.name != "postgresql":
        # SQLite has no row locks: write first, so this transaction holds the database's write
        # lock from the start and a second sequencer waits for it instead of failing late.
        session.execute(sa.update(LogState).where(LogState.id == 1).values(size=LogState.size))
    state = session.scalars(sa.select(LogState).where(LogState.id == 1).with_for_update()).first()
    if state is None:
        session.add(LogState(id=1, size=0))
        session.flush()
        state = session.scalars(sa.select(LogState).where(LogState.id == 1).with_for_update()).one()
    return state


def log_pending_exists(session: Session) -> bool:
    """Whether any event waits to be sequenced (a read: it locks nothing)."""
    return session.scalar(sa.select(LogPending.id).limit(1)) is not None


def log_sequence(
    session: Session, *, signer: Signer, origin: str, now: datetime, limit: int = SEQUENCE_BATCH_MAX
) -> SignedCheckpoint | None:
    """Append up to ``limit`` pending events as leaves and sign a checkpoint of the new tree.

    Locks the one ``tlog_state`` row, so sequencers take turns; writers are never blocked.
    Returns ``None`` when nothing was pending.
    """
    state = _state_lock(session)
    pending = session.execute(
        sa.select(
            LogPending.id,
            LogPending.kind,
            LogPending.source_id,
            LogPending.data,
            LogPending.created_at,
        )
        .order_by(LogPending.id)
        .limit(min(limit, SEQUENCE_BATCH_MAX))
    ).all()
    if not pending:
        return None
    size = state.size
    nodes = nodes_read(session, merkle.complete_subtrees(0, size))
    leaves, new_nodes = [], []
    for row in pending:
        index = size
        digest = merkle.leaf_hash(row.data.encode())
        leaves.append(
            {
                "position": index,
                "kind": row.kind,
                "source_id": row.source_id,
                "data": row.data,
                "sequenced_at": now,
                "queued_at": row.created_at,
            }
        )
        level, position = 0, index
        nodes[(level, position)] = digest
        new_nodes.append({"level": level, "position": position, "hash": digest})
        while position & 1:
            digest = merkle.node_hash(nodes[(level, position - 1)], digest)
            level, position = level + 1, position >> 1
            nodes[(level, position)] = digest
            new_nodes.append({"level": level, "position": position, "hash": digest})
        size += 1
    _rows_insert(session, table(LogLeaf), leaves)
    _rows_insert(session, table(LogNode), new_nodes)
    session.execute(sa.delete(LogPending).where(LogPending.id.in_([row.id for row in pending])))
    state.size = size
    root = merkle.root_from_subtrees([nodes[key] for key in merkle.complete_subtrees(0, size)])
    note = sign_note(checkpoint_text(origin, size, root), signer)
    session.add(LogCheckpoint(size=size, root_hash=root, note=note, created_at=now))
    session.flush()
    return SignedCheckpoint(size, root, note)


def _rows_insert(session: Session, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert many rows: with COPY on PostgreSQL (a sequencer round writes thousands, and COPY
    costs a fraction of one INSERT per row on both sides), else with one executemany."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(sa.insert(table), list(rows))
        return
    columns = list(rows[0])
    driver = session.connection().connection.driver_connection
    assert driver is not None, "a live connection has a driver connection"
    names = ", ".join(columns)
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,  # noqa: S608 - our names
    ):
        for row in rows:
            copy.write_row([row[column] for column in columns])


def nodes_read(session: Session, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of the complete subtrees ``keys`` names, (level, position) each."""
    if not keys:
        return {}
    rows = session.execute(
        sa.select(LogNode.level, LogNode.position, LogNode.hash).where(
            sa.tuple_(LogNode.level, LogNode.position).in_(list(set(keys)))
        )
    ).all()
    found = {(row.level, row.position): bytes(row.hash) for row in rows}
    missing = set(keys) - found.keys()
    if missing:
        raise LogError(f"stored tree lacks nodes {sorted(missing)[:5]}")
    return found


def _stored_subtree(session: Session, ranges: Sequence[tuple[int, int]]) -> merkle.Subtree:
    """A ``subtree`` answering the given ranges from stored nodes, fetched in one query."""
    keys = [key for start, end in ranges for key in merkle.complete_subtrees(start, end)]
    nodes = nodes_read(session, keys)

    def subtree(start: int, end: int) -> bytes:
        return merkle.root_from_subtrees(
            [nodes[key] for key in merkle.complete_subtrees(start, end)]
        )

    return subtree


def _ranges_of(build: Any, *args: int) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []

    def record(start: int, end: int) -> bytes:
        ranges.append((start, end))
        return merkle.EMPTY_ROOT

    build(*args, record)
    return ranges


def inclusion_proof(session: Session, *, index: int, size: int) -> list[bytes]:
    ranges = _ranges_of(merkle.inclusion_path, index, size)
    return merkle.inclusion_path(index, size, _stored_subtree(session, ranges))


def consistency_proof(session: Session, *, old_size: int, new_size: int) -> list[bytes]:
    ranges = _ranges_of(merkle.consistency_path, old_size, new_size)
    return merkle.consistency_path(old_size, new_size, _stored_subtree(session, ranges))


def latest_checkpoint(session: Session) -> LogCheckpoint | None:
    return session.scalars(
        sa.select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)
    ).first()


def leaf_proof(session: Session, *, kind: str, source_id: str) -> dict[str, Any] | None:
    """Everything needed to check one event offline: its leaf, path, and the signed checkpoint.

    ``None`` while the event waits for the sequencer.
    """
    leaf = session.scalars(
        sa.select(LogLeaf).where(LogLeaf.kind == kind, LogLeaf.source_id == str(source_id))
    ).one_or_none()
    checkpoint = latest_checkpoint(session)
    if leaf is None or checkpoint is None or checkpoint.size <= leaf.position:
        return None
    path = inclusion_proof(session, index=leaf.position, size=checkpoint.size)
    cosignatures = session.scalars(
        sa.select(LogCosignature.line)
        .where(LogCosignature.size == checkpoint.size)
        .order_by(LogCosignature.witness)
    )
    return {
        "leaf_index": leaf.position,
        "tree_size": checkpoint.size,
        "leaf_data": leaf.data,
        "inclusion_path": [base64.b64encode(node).decode() for node in path],
        "checkpoint": note_with(checkpoint.note, list(cosignatures)),
    }


# -- verification ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class VerifiedLeaf:
    index: int
    tree_size: int
    data: str


def proof_verify(bundle: Mapping[str, Any], *, verifier: Verifier, origin: str) -> VerifiedLeaf:
    """Check a ``leaf_proof`` bundle with nothing but the log's public key. Pure.

    Raises ``LogError`` naming the part that failed: the checkpoint signature, the tree size, or
    the inclusion of the leaf.
    """
    try:
        checkpoint = open_checkpoint(str(bundle["checkpoint"]), verifier, origin)
    except (NoteError, KeyError) as error:
        raise LogError(f"checkpoint: {error}") from error
    try:
        index, size = int(bundle["leaf_index"]), int(bundle["tree_size"])
        data = str(bundle["leaf_data"])
        path = [base64.b64decode(node, validate=True) for node in bundle["inclusion_path"]]
    except (KeyError, TypeError, ValueError) as error:
        raise LogError(f"bundle: {error}") from error
    if size != checkpoint.size:
        raise LogError("tree_size: the proof is for another tree size than the checkpoint")
    if not merkle.verify_inclusion(
        merkle.leaf_hash(data.encode()), index, size, path, checkpoint.root_hash
    ):
        raise LogError("inclusion: the leaf is not in the checkpointed tree")
    return VerifiedLeaf(index, size, data)


#: Rows streamed per fetch while verifying, so memory stays flat however long the log grows.
VERIFY_STREAM_ROWS = 10_000


def _stream(session: Session, statement: AnySelect) -> AnyResult:
    """A result fetched ``VERIFY_STREAM_ROWS`` at a time; close it (a server-side cursor)."""
    return session.execute(statement, execution_options={"yield_per": VERIFY_STREAM_ROWS})


def log_verify(
    session: Session, *, verifier: Verifier, origin: str, witnesses: Sequence[WitnessKey] = ()
) -> list[str]:
    """Re-check the whole log: leaves against their data, every stored node against its
    children, the state, every checkpoint's signature and root, and every stored cosignature of
    the ``witnesses`` given. Returns the problems.

    Streams leaves and nodes a level at a time in position order, holding two rows at once.
    """
    problems: list[str] = []
    state = session.get(LogState, 1)
    size = state.size if state else 0

    count = 0
    with (
        closing(
            _stream(session, sa.select(LogLeaf.position, LogLeaf.data).order_by(LogLeaf.position))
        ) as leaves,
        closing(_stream(session, _level(0))) as level_zero,
    ):
        for position, (leaf, node) in enumerate(zip_longest(leaves, level_zero)):
            count += 1
            if (
                leaf is None
                or node is None
                or leaf.position != position
                or node.position != position
            ):
                problems.append(f"log: leaves and leaf nodes are not exactly 0..{size - 1}")
                break
            if bytes(node.hash) != merkle.leaf_hash(leaf.data.encode()):
                problems.append(f"log: leaf {position} does not hash to its stored node")
    if count != size and not problems:
        problems.append(f"log: {count} leaves for a tree of size {size}")

    level = 1
    while size >> (level - 1) > 1 or _level_exists(session, level):
        expected = size >> level
        with (
            closing(_stream(session, _level(level - 1))) as child_rows,
            closing(_stream(session, _level(level))) as parent_rows,
        ):
            children, parents = iter(child_rows), iter(parent_rows)
            for position in range(expected + 1):
                parent = next(parents, None)
                if position == expected:
                    if parent is not None:
                        problems.append(f"log: stored nodes beyond the tree size at level {level}")
                    break
                left, right = next(children, None), next(children, None)
                if parent is None or parent.position != position or left is None or right is None:
                    problems.append(f"log: level {level} lacks node {position}")
                    break
                if merkle.node_hash(bytes(left.hash), bytes(right.hash)) != bytes(parent.hash):
                    problems.append(f"log: node ({level}, {position}) does not match its children")
        level += 1

    for checkpoint in session.scalars(sa.select(LogCheckpoint).order_by(LogCheckpoint.size)):
        try:
            opened = open_checkpoint(checkpoint.note, verifier, origin)
        except NoteError as error:
            problems.append(f"log: checkpoint {checkpoint.size} signature: {error}")
            continue
        if opened.size != checkpoint.size or opened.root_hash != bytes(checkpoint.root_hash):
            problems.append(f"log: checkpoint {checkpoint.size} note disagrees with its row")
        if checkpoint.size > size:
            problems.append(f"log: checkpoint {checkpoint.size} is beyond the tree")
            continue
        try:
            nodes = nodes_read(session, merkle.complete_subtrees(0, checkpoint.size))
        except LogError:
            problems.append(f"log: checkpoint {checkpoint.size} lacks stored nodes")
            continue
        root = merkle.root_from_subtrees(
            [nodes[key] for key in merkle.complete_subtrees(0, checkpoint.size)]
        )
        if root != opened.root_hash:
            problems.append(f"log: checkpoint {checkpoint.size} root does not match the tree")
    problems.extend(_cosignatures_verify(session, witnesses))
    return problems


def _cosignatures_verify(session: Session, witnesses: Sequence[WitnessKey]) -> list[str]:
    """Each stored cosignature of a configured witness verifies on its checkpoint's body."""
    keys = {key.name: key for key in witnesses}
    problems = []
    rows = session.execute(
        sa.select(
            LogCosignature.size, LogCosignature.witness, LogCosignature.line, LogCheckpoint.note
        )
        .join(LogCheckpoint, LogCheckpoint.size == LogCosignature.size)
        .order_by(LogCosignature.size)
    )
    for size, witness, line, note in rows:
        if witness not in keys:
            continue
        try:
            body, _ = note_split(note)
            opened = cosignature_open(line, body=body, key=keys[witness])
        except NoteError as error:
            problems.append(f"log: {witness}'s cosignature on checkpoint {size}: {error}")
            continue
        if opened is None:
            problems.append(f"log: the cosignature stored for {witness} on {size} is not its key's")
    return problems


def _level(level: int) -> AnySelect:
    return (
        sa.select(LogNode.position, LogNode.hash)
        .where(LogNode.level == level)
        .order_by(LogNode.position)
    )


def _level_exists(session: Session, level: int) -> bool:
    return (
        session.scalar(sa.select(LogNode.position).where(LogNode.level == level).limit(1))
        is not None
    )


__all__ = [
    "LogError",
    "SignedCheckpoint",
    "VerifiedLeaf",
    "consistency_proof",
    "inclusion_proof",
    "leaf_proof",
    "log_append",
    "log_pending_exists",
    "log_sequence",
    "log_verify",
    "parse_checkpoint",
    "proof_verify",
]
