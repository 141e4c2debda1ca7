"""The audit of the ledger (``tanhui ledger verify``).

This module is the face the rest of the service uses; behind it, ``audit`` holds the table of
checks and runs it, and ``entries`` and ``credits`` hold the checks, a small function each.
"""

from __future__ import annotations

from ledger.verify.audit import CHECKS, Report, ledger_verify
from ledger.verify.entries import ENTRIES_PER_VERIFY_CHUNK

__all__ = ["CHECKS", "ENTRIES_PER_VERIFY_CHUNK", "Report", "ledger_verify"]
