"""What a ledger write is asked and what it answers: requests and results (within the limits of
``ledger.entries.limits``), the
checks every entry passes before anything is written, and the log leaf an entry becomes.

Pure: nothing here reads or writes the database, so both posting paths (``ledger.entries.posting``
and ``ledger.entries.postgresql``) and the audit share one definition of a valid entry and of its
leaf.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.entries.limits import (
    AMOUNT_MAX,
    KEY_MAX_LENGTH_CHARS,
    KIND_MAX_LENGTH_CHARS,
    METADATA_MAX_BYTES,
    POSTINGS_PER_ENTRY_MAX,
)
from ledger.errors import ErrorCode, LedgerError, Outcome
from ledger.tlog.canonical import canonical_json
from service.base.exceptions import FieldMessage


@dataclass(frozen=True)
class PostingRequest:
    """One leg of an entry. ``lot_id`` pins a debit to one lot; ``expires_at`` and
    ``provenance`` describe the lot a credit creates on an account that uses lots;
    ``refill_lot_id`` instead makes a credit give back to a lot what it gave (a reversal that
    returns grams to the very lot they came from), never beyond the lot's initial amount."""

    account: str
    amount: int
    lot_id: int | None = None
    expires_at: datetime | None = None
    provenance: Mapping[str, Any] | None = None
    refill_lot_id: int | None = None

    def canonical(self) -> dict[str, Any]:
        result: dict[str, Any] = {"account": self.account, "amount": self.amount}
        if self.lot_id is not None:
            result["lot_id"] = self.lot_id
        if self.expires_at is not None:
            result["expires_at"] = self.expires_at.isoformat()
        if self.provenance:
            result["provenance"] = dict(self.provenance)
        if self.refill_lot_id is not None:
            result["refill_lot_id"] = self.refill_lot_id
        return result


@dataclass(frozen=True)
class EntryRequest:
    key: str
    kind: str
    postings: Sequence[PostingRequest]
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def canonical(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "postings": [posting.canonical() for posting in self.postings],
            "metadata": dict(self.metadata),
        }


@dataclass(frozen=True)
class LotUse:
    """``amount`` of a posting filled (+) or drew on (-) lot ``lot_id``."""

    posting_index: int
    lot_id: int
    amount: int


@dataclass(frozen=True)
class EntryResult:
    outcome: Outcome
    entry_id: int
    key: str
    kind: str
    postings: tuple[tuple[str, int], ...]
    lots: tuple[LotUse, ...] = ()


@dataclass(frozen=True)
class AccountInfo:
    id: int
    code: str
    asset: str
    allow_negative: bool
    uses_lots: bool


@dataclass(frozen=True)
class Balance:
    account: str
    asset: str
    balance: int
    reserved: int

    @property
    def available(self) -> int:
        return self.balance - self.reserved


@dataclass(frozen=True)
class AccountSpec:
    """An account as ``account_open`` opens it."""

    code: str
    asset: str
    owner_type: str
    owner_id: int | None = None
    allow_negative: bool = False
    uses_lots: bool = False


@dataclass(frozen=True)
class HoldResult:
    outcome: Outcome
    hold_id: int
    status: str
    amount: int


def entry_check(request: EntryRequest, accounts: Mapping[str, AccountInfo]) -> dict[str, Any]:
    """Validate an entry before anything is written; return its canonical form."""
    if not isinstance(request.key, str) or not 0 < len(request.key) <= KEY_MAX_LENGTH_CHARS:
        raise LedgerError(ErrorCode.ENTRY_INVALID, "key length", field="key")
    if not isinstance(request.kind, str) or not 0 < len(request.kind) <= KIND_MAX_LENGTH_CHARS:
        raise LedgerError(ErrorCode.ENTRY_INVALID, "kind length", field="kind")
    if not 2 <= len(request.postings) <= POSTINGS_PER_ENTRY_MAX:
        raise LedgerError(
            ErrorCode.ENTRY_INVALID,
            FieldMessage("2 to {postings_max} postings", postings_max=POSTINGS_PER_ENTRY_MAX),
            field="postings",
        )
    sums: dict[str, int] = defaultdict(int)
    for posting in request.postings:
        amount = posting.amount
        if type(amount) is not int or amount == 0 or abs(amount) > AMOUNT_MAX:
            raise LedgerError(
                ErrorCode.AMOUNT_INVALID, f"{posting.account}: {amount!r}", field="amount"
            )
        info = accounts[posting.account]
        if posting.lot_id is not None and (amount > 0 or not info.uses_lots):
            raise LedgerError(
                ErrorCode.LOT_INVALID, "only debits of lot accounts name a lot", field="lot_id"
            )
        if (posting.expires_at is not None or posting.provenance) and (
            amount < 0 or not info.uses_lots
        ):
            raise LedgerError(
                ErrorCode.LOT_INVALID, "only credits of lot accounts make a lot", field="expires_at"
            )
        if posting.refill_lot_id is not None and (
            amount < 0 or not info.uses_lots or posting.expires_at or posting.provenance
        ):
            raise LedgerError(
                ErrorCode.LOT_INVALID,
                "only credits of lot accounts refill a lot, and make none",
                field="refill_lot_id",
            )
        sums[info.asset] += amount
    unbalanced = {asset: total for asset, total in sums.items() if total}
    if unbalanced:
        raise LedgerError(ErrorCode.UNBALANCED, canonical_json(unbalanced), field="postings")
    canonical = request.canonical()
    if len(canonical_json(canonical["metadata"]).encode()) > METADATA_MAX_BYTES:
        raise LedgerError(ErrorCode.ENTRY_INVALID, "metadata too large", field="metadata")
    return canonical


def entry_leaf_data(
    entry_id: int, request: EntryRequest, accounts: Mapping[str, AccountInfo], now: datetime
) -> str:
    """What the transparency log records of an entry (``ledger verify`` rebuilds it from rows)."""
    return canonical_json(
        {
            "type": "ledger.entry",
            "id": entry_id,
            "key": request.key,
            "kind": request.kind,
            "postings": [
                [p.account, accounts[p.account].asset, p.amount] for p in request.postings
            ],
            "created_at": now.isoformat(),
        }
    )
