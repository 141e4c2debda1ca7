"""Asking witnesses to cosign the log's checkpoints (C2SP ``tlog-witness``), and publishing the
checkpoint with the cosignatures they returned.

Each configured witness has a ``tlog_witness_states`` row: the size of the latest checkpoint it
cosigned. :func:`witness_submit` sends it the newest checkpoint with a consistency proof from that
size; a witness that remembers another size answers 409 with it, and the request is made once
more from there. A cosignature is kept only after it verifies under the witness's configured key.
A refusal (a witness that finds our checkpoint does not extend the one it cosigned, say) is kept
on the state row, where the operators' pages and ``/log`` show it; nothing else changes.

The witness is reached through an adapter passed in (``client.add_checkpoint(url, body)``); the
ledger speaks no HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.models import LogCheckpoint, LogCosignature, LogWitnessState
from ledger.tlog.cosignatures import (
    Cosignature,
    WitnessKey,
    add_checkpoint_body,
    cosignature_open,
    note_split,
    note_with,
)
from ledger.tlog.log import consistency_proof, latest_checkpoint
from ledger.tlog.note import NoteError

#: How much of a witness's refusal is kept.
REFUSAL_MAX_LENGTH_CHARS = 500
#: Requests per submission: the first, and one more from the size a 409 names.
SUBMIT_ATTEMPTS_MAX = 2
SIZE_CONTENT_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class Witness:
    key: WitnessKey
    url: str

    @property
    def name(self) -> str:
        return self.key.name


@dataclass(frozen=True)
class WitnessAnswer:
    status: int
    content_type: str
    text: str


class WitnessUnavailable(Exception):
    """The witness did not answer (refused connection, timeout): try again later."""


class WitnessClient(Protocol):
    def add_checkpoint(self, url: str, body: bytes) -> WitnessAnswer: ...


@dataclass(frozen=True)
class WitnessResult:
    witness: str
    size: int
    outcome: str  # cosigned, current, refused or unavailable
    detail: str = ""


def _state(session: Session, name: str, now: datetime) -> LogWitnessState:
    state = session.scalars(
        sa.select(LogWitnessState).where(LogWitnessState.name == name).with_for_update()
    ).first()
    if state is None:
        state = LogWitnessState(name=name, size=0, updated_at=now)
        session.add(state)
        session.flush()
    return state


def witness_submit(
    session: Session, *, witness: Witness, client: WitnessClient, now: datetime
) -> WitnessResult:
    """Have ``witness`` cosign the newest checkpoint; record what it answered.

    Locks the witness's state row, so two submitters never race on one witness's ``old`` size.
    """
    checkpoint = latest_checkpoint(session)
    if checkpoint is None:
        return WitnessResult(witness.name, 0, "current")
    state = _state(session, witness.name, now)
    cosigned = session.get(LogCosignature, (checkpoint.size, witness.name)) is not None
    if state.size == checkpoint.size and cosigned:
        return WitnessResult(witness.name, checkpoint.size, "current")
    old = state.size if state.size <= checkpoint.size else 0
    for _ in range(SUBMIT_ATTEMPTS_MAX):
        proof = consistency_proof(session, old_size=old, new_size=checkpoint.size)
        body = add_checkpoint_body(old, proof, checkpoint.note)
        try:
            answer = client.add_checkpoint(witness.url, body)
        except WitnessUnavailable as error:
            return _refused(state, checkpoint, now, "unavailable", f"unavailable: {error}")
        if answer.status == 409 and answer.content_type.startswith(SIZE_CONTENT_TYPE):
            remembered = answer.text.strip()
            if not remembered.isdigit() or int(remembered) > checkpoint.size:
                detail = f"409: the witness has cosigned size {remembered[:40]}, beyond our tree"
                return _refused(state, checkpoint, now, "refused", detail)
            old = int(remembered)
            continue
        if answer.status != 200:
            detail = f"{answer.status}: {answer.text.strip()}"
            return _refused(state, checkpoint, now, "refused", detail)
        return _cosigned(session, state, witness, checkpoint, answer.text, now)
    return _refused(state, checkpoint, now, "refused", "409: the witness's size kept moving")


def _cosigned(
    session: Session,
    state: LogWitnessState,
    witness: Witness,
    checkpoint: LogCheckpoint,
    text: str,
    now: datetime,
) -> WitnessResult:
    body, _ = note_split(checkpoint.note)
    found: Cosignature | None = None
    try:
        for line in text.splitlines():
            found = found or cosignature_open(line, body=body, key=witness.key)
    except NoteError as error:
        return _refused(state, checkpoint, now, "refused", f"bad cosignature: {error}")
    if found is None:
        return _refused(state, checkpoint, now, "refused", "no cosignature by the witness's key")
    if session.get(LogCosignature, (checkpoint.size, witness.name)) is None:
        session.add(
            LogCosignature(
                size=checkpoint.size,
                witness=witness.name,
                timestamp=found.timestamp,
                line=found.line,
                created_at=now,
            )
        )
    state.size, state.updated_at = checkpoint.size, now
    state.refusal, state.refused_at = None, None
    session.flush()
    return WitnessResult(witness.name, checkpoint.size, "cosigned")


def _refused(
    state: LogWitnessState, checkpoint: LogCheckpoint, now: datetime, outcome: str, detail: str
) -> WitnessResult:
    state.refusal = detail[:REFUSAL_MAX_LENGTH_CHARS]
    state.refused_at = now
    return WitnessResult(state.name, checkpoint.size, outcome, state.refusal)


# -- publishing -----------------------------------------------------------------------------------
def published_checkpoint(session: Session, *, quorum: int = 0) -> dict[str, Any] | None:
    """The checkpoint the log publishes, with its cosignature lines after the log's own.

    With ``quorum`` witnesses required, the newest checkpoint that many have cosigned; the
    newest of all when none has yet (it is then shown as not yet witnessed).
    """
    checkpoint = None
    if quorum > 0:
        witnessed = (
            sa.select(LogCosignature.size)
            .group_by(LogCosignature.size)
            .having(sa.func.count() >= quorum)
            .order_by(LogCosignature.size.desc())
            .limit(1)
        )
        size = session.scalar(witnessed)
        checkpoint = session.get(LogCheckpoint, size) if size is not None else None
    checkpoint = checkpoint or latest_checkpoint(session)
    if checkpoint is None:
        return None
    cosignatures = checkpoint_cosignatures(session, checkpoint.size)
    return {
        "size": checkpoint.size,
        "root_hash": bytes(checkpoint.root_hash),
        "created_at": checkpoint.created_at,
        "note": note_with(checkpoint.note, [row.line for row in cosignatures]),
        "cosignatures": cosignatures,
        "witnessed": len(cosignatures) >= quorum > 0,
    }


def checkpoint_cosignatures(session: Session, size: int) -> list[LogCosignature]:
    return list(
        session.scalars(
            sa.select(LogCosignature)
            .where(LogCosignature.size == size)
            .order_by(LogCosignature.witness)
        )
    )


def witness_states(session: Session) -> dict[str, LogWitnessState]:
    return {state.name: state for state in session.scalars(sa.select(LogWitnessState))}


__all__ = [
    "Witness",
    "WitnessAnswer",
    "WitnessClient",
    "WitnessResult",
    "WitnessUnavailable",
    "checkpoint_cosignatures",
    "published_checkpoint",
    "witness_states",
    "witness_submit",
]
