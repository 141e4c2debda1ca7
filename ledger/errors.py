"""The ledger's results and errors: one closed set of codes for entries, holds and sink credits.

Every write returns ``Outcome.CREATED`` or ``Outcome.EXISTS`` (the original answer to a repeated
idempotency key) or raises a ``LedgerError`` (entries, accounts, holds) or a ``CreditError``
(imports, retirements, allocations) whose ``code`` is one of ``ErrorCode``. A repeated key with
another request is ``idempotency_conflict`` wherever it happens, so it is defined once. The
service maps the codes to HTTP in one place (``service.errors``); nothing here names a status.

The transparency log's own failures (``ledger.tlog.LogError``, ``ledger.tlog.NoteError``) are
not here: they are ``ValueError`` s of offline proof checking and key parsing, which the command
line reports and no request answers.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

from service.base.exceptions import ServiceError

#: Problems listed in one refused import at most (the count is always given).
PROBLEMS_REPORTED_MAX = 500


class Outcome(enum.StrEnum):
    CREATED = "created"
    EXISTS = "exists"


class ErrorCode(enum.StrEnum):
    """Every code a ledger refusal carries; clients branch on these strings, so they never
    change."""

    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    # Entries, accounts and holds.
    ACCOUNT_NOT_FOUND = "account_not_found"
    ACCOUNT_CONFLICT = "account_conflict"
    ASSET_MISMATCH = "asset_mismatch"
    UNBALANCED = "unbalanced"
    AMOUNT_INVALID = "amount_invalid"
    ENTRY_INVALID = "entry_invalid"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    LOT_INVALID = "lot_invalid"
    HOLD_NOT_FOUND = "hold_not_found"
    HOLD_NOT_PENDING = "hold_not_pending"
    HOLD_EXPIRED = "hold_expired"
    HOLD_AMOUNT_EXCEEDED = "hold_amount_exceeded"
    ENTRY_NOT_FOUND = "entry_not_found"
    ALREADY_REVERSED = "already_reversed"
    BATCH_TOO_LARGE = "batch_too_large"
    # Sink credits.
    CREDIT_IMPORT_REJECTED = "credit_import_rejected"
    CREDIT_REGISTRY_NOT_FOUND = "credit_registry_not_found"
    CREDIT_BATCH_NOT_FOUND = "credit_batch_not_found"
    CREDIT_RETIREMENT_INVALID = "credit_retirement_invalid"
    CREDIT_RETIREMENT_NOT_FOUND = "credit_retirement_not_found"
    CREDITS_INSUFFICIENT = "credits_insufficient"
    CREDIT_ALLOCATION_INVALID = "credit_allocation_invalid"
    CREDIT_FINDING_NOT_FOUND = "credit_finding_not_found"
    CREDIT_FINDING_RESOLVED = "credit_finding_resolved"
    # A registry's answers (``ledger.credits.registry``).
    CREDIT_REGISTRY_REFUSED = "credit_registry_refused"
    CREDIT_REGISTRY_UNAVAILABLE = "credit_registry_unavailable"
    CREDIT_REGISTRY_NOT_CONFIGURED = "credit_registry_not_configured"
    # Proofs asked of the transparency log (``ledger.tlog.proofs``).
    LOG_TREE_SIZE_INVALID = "log_tree_size_invalid"
    LOG_LEAF_NOT_FOUND = "log_leaf_not_found"


class LedgerError(ServiceError):
    """A ledger write that cannot be done; nothing of it was written."""

    def __init__(self, code: ErrorCode, detail: str = "", *, field: str | None = None) -> None:
        super().__init__(
            code=code.value,
            params={"detail": detail, "field": field or ""},
            fields={field: [detail or code.value]} if field else None,
        )
        self.error_code = code
        self.detail = detail
        self.field = field

    def __str__(self) -> str:
        return f"{self.error_code.value}: {self.detail}" if self.detail else self.error_code.value


class Problem(Protocol):
    """One reason an import file is refused (``ledger.credits.files.Problem``)."""

    @property
    def reason(self) -> str: ...

    def path(self) -> str: ...


class CreditError(ServiceError):
    """A credit operation refused; nothing of it was written. ``problems`` lists, for a refused
    import, every bad row (row, field, reason)."""

    def __init__(
        self,
        code: ErrorCode,
        detail: str = "",
        *,
        field: str | None = None,
        problems: Sequence[Problem] = (),
    ) -> None:
        fields: dict[str, list[str]] = {}
        for problem in problems[:PROBLEMS_REPORTED_MAX]:
            fields.setdefault(problem.path(), []).append(problem.reason)
        if field:
            fields.setdefault(field, []).append(detail or code.value)
        super().__init__(
            code=code.value,
            params={"detail": detail, "count": len(problems)},
            fields=fields or None,
        )
        self.error_code = code
        self.detail = detail
        self.problems = list(problems)
