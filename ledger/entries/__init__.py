"""Entries: accounts, immutable double-entry postings, holds, lots, reversals and expiry.

This module is the face the rest of the service uses (``from ledger import entries``); the
modules behind it are ``limits``, ``requests`` (what a write is asked and answers, and its checks),
``accounts``, ``posting`` (the portable path) and ``postgresql`` (the one-statement path),
``batches`` (distributions), ``holds``, ``reversals`` and ``expiry``.
"""

from __future__ import annotations

from ledger.entries.accounts import (
    account_open,
    accounts_ensure,
    accounts_known,
    accounts_open_many,
    accounts_resolve,
    balance_of,
)
from ledger.entries.batches import batch_bounds, entries_post_many
from ledger.entries.expiry import EXPIRY_SINKS, expiry_sinks_open, lots_expire
from ledger.entries.holds import hold_create, hold_post, hold_void, holds_expire
from ledger.entries.limits import AMOUNT_MAX, ENTRIES_PER_BATCH_MAX, KEY_MAX_LENGTH_CHARS
from ledger.entries.posting import entries_post, entry_post
from ledger.entries.requests import (
    AccountInfo,
    AccountSpec,
    Balance,
    EntryRequest,
    EntryResult,
    HoldResult,
    LotUse,
    PostingRequest,
)
from ledger.entries.reversals import entry_reverse
from ledger.entries.sql import among, insert_for

__all__ = [
    "AMOUNT_MAX",
    "ENTRIES_PER_BATCH_MAX",
    "EXPIRY_SINKS",
    "KEY_MAX_LENGTH_CHARS",
    "AccountInfo",
    "AccountSpec",
    "Balance",
    "EntryRequest",
    "EntryResult",
    "HoldResult",
    "LotUse",
    "PostingRequest",
    "account_open",
    "accounts_ensure",
    "accounts_known",
    "accounts_open_many",
    "accounts_resolve",
    "among",
    "balance_of",
    "batch_bounds",
    "entries_post",
    "entries_post_many",
    "entry_post",
    "entry_reverse",
    "expiry_sinks_open",
    "hold_create",
    "hold_post",
    "hold_void",
    "holds_expire",
    "insert_for",
    "lots_expire",
]
