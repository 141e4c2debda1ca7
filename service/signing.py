"""The transparency log's signer, read from the configuration.

The commands sign checkpoints with it and the pages show its public key and verify the log with
it; both read it here, so neither imports the other.
"""

from __future__ import annotations

from flask import current_app

from ledger.tlog.note import Signer, parse_signer_key


def log_signer() -> Signer:
    """The signer for ``TLOG_SIGNING_KEY`` (its verifier checks proofs and checkpoints)."""
    return parse_signer_key(current_app.config["TLOG_SIGNING_KEY"])
