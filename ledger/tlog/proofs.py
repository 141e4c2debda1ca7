"""Proofs on request, for clients that would rather ask than fetch tiles: inclusion of a leaf (by
its index or its hash) in a signed tree, and consistency between two signed tree sizes.

Every size asked about must be within the newest signed checkpoint, so nothing is proved about
leaves no checkpoint has committed to. Answers carry the root hashes they prove against, computed
from the stored nodes, and the signed checkpoint of that size when the log signed one; a client
checks the path against a checkpoint it verified itself, never against these roots alone.
"""

from __future__ import annotations

import base64
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.errors import ErrorCode, LedgerError
from ledger.models import LogCheckpoint, LogLeaf, LogNode
from ledger.tlog import merkle
from ledger.tlog.log import consistency_proof, inclusion_proof, latest_checkpoint, nodes_read
from service.base.exceptions import FieldMessage


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def signed_size(session: Session) -> int:
    checkpoint = latest_checkpoint(session)
    return checkpoint.size if checkpoint else 0


def _size_check(session: Session, size: int | None, *, field: str, least: int = 0) -> int:
    newest = signed_size(session)
    size = newest if size is None else size
    if not least <= size <= newest:
        raise LedgerError(
            ErrorCode.LOG_TREE_SIZE_INVALID,
            FieldMessage(
                "must be from {least} to {newest}, the newest signed tree size",
                least=least,
                newest=newest,
            ),
            field=field,
        )
    return size


def tree_root(session: Session, size: int) -> bytes:
    """MTH(D[0:size]) from the stored complete-subtree hashes."""
    keys = merkle.complete_subtrees(0, size)
    nodes = nodes_read(session, keys)
    return merkle.root_from_subtrees([nodes[key] for key in keys])


def _checkpoint_note(session: Session, size: int) -> str | None:
    checkpoint = session.get(LogCheckpoint, size)
    return checkpoint.note if checkpoint else None


def proof_inclusion(
    session: Session,
    *,
    leaf_index: int | None = None,
    leaf_hash: bytes | None = None,
    tree_size: int | None = None,
) -> dict[str, Any]:
    """The inclusion proof of one leaf, named by index or by hash, in a signed tree."""
    if leaf_hash is not None:
        found = session.scalars(
            sa.select(LogNode.position)
            .where(LogNode.level == 0, LogNode.hash == leaf_hash)
            .order_by(LogNode.position)
            .limit(1)
        ).first()
        if found is None:
            raise LedgerError(
                ErrorCode.LOG_LEAF_NOT_FOUND, "no leaf has this hash", field="leaf_hash"
            )
        leaf_index = found
    assert leaf_index is not None, "a leaf is named by index or by hash"
    size = _size_check(session, tree_size, field="tree_size", least=1)
    if not 0 <= leaf_index < size:
        raise LedgerError(
            ErrorCode.LOG_LEAF_NOT_FOUND,
            FieldMessage("the signed tree of size {size} has no such leaf", size=size),
            field="leaf_index",
        )
    leaf = session.get(LogLeaf, leaf_index)
    assert leaf is not None, "the stored tree holds every leaf below its size"
    path = inclusion_proof(session, index=leaf_index, size=size)
    return {
        "leaf_index": leaf_index,
        "tree_size": size,
        "leaf_hash": _b64(merkle.leaf_hash(leaf.data.encode())),
        "leaf_data": leaf.data,
        "inclusion_path": [_b64(node) for node in path],
        "root_hash": _b64(tree_root(session, size)),
        "checkpoint": _checkpoint_note(session, size),
    }


def proof_consistency(session: Session, *, first: int, second: int | None = None) -> dict[str, Any]:
    """The RFC 9162 consistency proof from tree size ``first`` to ``second`` (default: the
    newest signed size)."""
    second = _size_check(session, second, field="second")
    first = _size_check(session, first, field="first")
    if first > second:
        raise LedgerError(
            ErrorCode.LOG_TREE_SIZE_INVALID, "first must not exceed second", field="first"
        )
    path = consistency_proof(session, old_size=first, new_size=second)
    return {
        "first": first,
        "second": second,
        "first_root_hash": _b64(tree_root(session, first)),
        "second_root_hash": _b64(tree_root(session, second)),
        "consistency_path": [_b64(node) for node in path],
        "first_checkpoint": _checkpoint_note(session, first),
        "second_checkpoint": _checkpoint_note(session, second),
    }


def leaves_latest(session: Session, *, limit: int) -> list[LogLeaf]:
    """The newest leaves within the signed tree, newest first (for the log's page)."""
    size = signed_size(session)
    return list(
        session.scalars(
            sa.select(LogLeaf)
            .where(LogLeaf.position < size)
            .order_by(LogLeaf.position.desc())
            .limit(limit)
        )
    )


__all__ = ["leaves_latest", "proof_consistency", "proof_inclusion", "signed_size", "tree_root"]
