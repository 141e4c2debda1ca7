"""The ledger's results and errors: one closed set of codes.

Every write returns ``Outcome.CREATED`` or ``Outcome.EXISTS`` (the original answer to a repeated
idempotency key) or raises a ``LedgerError`` whose ``code`` is one of ``ErrorCode``. The service
maps them to HTTP in one place (``service.errors``).
"""

from __future__ import annotations

import enum

from service.base.exceptions import ServiceError


class Outcome(enum.StrEnum):
    CREATED = "created"
    EXISTS = "exists"


class ErrorCode(enum.StrEnum):
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
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
