"""The transparency log: a Merkle tree over ledger entries and registered events, with signed
checkpoints.

This module is the face the rest of the service uses; behind it are ``log`` (appending,
sequencing, proofs and the log's audit), ``merkle`` (RFC 9162 hashing and proofs, pure),
``note`` (signed checkpoints and their keys) and ``canonical`` (the exact bytes of a leaf).
"""

from __future__ import annotations

from ledger.tlog.log import (
    LogError,
    SignedCheckpoint,
    VerifiedLeaf,
    consistency_proof,
    inclusion_proof,
    latest_checkpoint,
    leaf_proof,
    log_append,
    log_pending_exists,
    log_sequence,
    log_verify,
    proof_verify,
)

__all__ = [
    "LogError",
    "SignedCheckpoint",
    "VerifiedLeaf",
    "consistency_proof",
    "inclusion_proof",
    "latest_checkpoint",
    "leaf_proof",
    "log_append",
    "log_pending_exists",
    "log_sequence",
    "log_verify",
    "proof_verify",
]
