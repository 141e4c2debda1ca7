"""The limits every entry keeps to. Writers read ``ENTRIES_PER_BATCH_MAX`` through this module
when they run (``limits.ENTRIES_PER_BATCH_MAX``), so a test can make batches small."""

from __future__ import annotations

KEY_MAX_LENGTH_CHARS = 128
KIND_MAX_LENGTH_CHARS = 32
POSTINGS_PER_ENTRY_MAX = 64
ENTRIES_PER_BATCH_MAX = 5_000
#: Largest amount one posting may move: exact in JSON numbers, and 9 Gt in grams.
AMOUNT_MAX = 2**53
METADATA_MAX_BYTES = 4096
