"""Sink credits in the ledger: import batches from a registry's file, record retirements, and
allocate retired grams to label lots and personal offsets; and what the public may read of them.

This module is the face the rest of the service uses (``from ledger import credits``); behind it
are ``models``, ``files`` (parsing import files, pure), ``accounts`` (the credit accounts and
limits), ``imports``, ``retirements``, ``allocations``, ``reallocations`` (resolving a claimant
finding) and ``disclosure``. Functions take a
session and never commit; a refusal raises ``ledger.errors.CreditError`` before anything is
written.
"""

from __future__ import annotations

from ledger.credits.accounts import (
    ALLOCATED_ACCOUNT,
    ASSET,
    BENEFICIARY_MAX_LENGTH_CHARS,
    INVENTORY_ACCOUNT,
    PURPOSE_MAX_LENGTH_CHARS,
    REFERENCE_MAX_LENGTH_CHARS,
    RETIRED_ACCOUNT,
    RETIREMENT_LINES_MAX,
    accounts_open,
    issuer_account,
    retired_account,
)
from ledger.credits.allocations import (
    AllocationPart,
    AllocationResult,
    allocate,
    allocations_of,
    part_leaf,
)
from ledger.credits.imports import ImportResult, farm_link, import_file
from ledger.credits.reallocations import FindingResolution, Retarget, finding_resolve
from ledger.credits.registry_record import retirement_record
from ledger.credits.retirements import (
    RetirementLine,
    RetirementResult,
    beneficiary_matches,
    retire,
)

__all__ = [
    "ALLOCATED_ACCOUNT",
    "ASSET",
    "BENEFICIARY_MAX_LENGTH_CHARS",
    "INVENTORY_ACCOUNT",
    "PURPOSE_MAX_LENGTH_CHARS",
    "REFERENCE_MAX_LENGTH_CHARS",
    "RETIRED_ACCOUNT",
    "RETIREMENT_LINES_MAX",
    "AllocationPart",
    "AllocationResult",
    "FindingResolution",
    "ImportResult",
    "RetirementLine",
    "RetirementResult",
    "Retarget",
    "accounts_open",
    "allocate",
    "allocations_of",
    "beneficiary_matches",
    "farm_link",
    "finding_resolve",
    "import_file",
    "issuer_account",
    "part_leaf",
    "retire",
    "retired_account",
    "retirement_record",
]
