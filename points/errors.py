"""Points' errors: one closed set of codes, and the exceptions that carry them.

Every code here is a key of the points section of ``service.errors.STATUS_BY_CODE`` (its HTTP
status lives there, never here). A write that raises one of these has written nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from ledger.errors import ErrorCode as LedgerCode
from service.base.exceptions import ServiceError


class ErrorCode(enum.StrEnum):
    CLAIM_CODE_INVALID = "claim_code_invalid"
    CLAIM_CODE_REVOKED = "claim_code_revoked"
    CLAIM_ENTERPRISE_SUSPENDED = "claim_enterprise_suspended"
    UNIT_ALREADY_CLAIMED = "unit_already_claimed"
    POINTS_RULE_MISSING = "points_rule_missing"
    PRACTICE_DUPLICATE = "practice_duplicate"
    PRACTICE_DECIDED = "practice_decided"
    ITEM_CODE_TAKEN = "item_code_taken"
    ITEM_UNAVAILABLE = "item_unavailable"
    ITEM_NOT_FOR_PARTY = "item_not_for_party"
    REDEMPTION_LIMIT_REACHED = "redemption_limit_reached"
    POINTS_INSUFFICIENT = "points_insufficient"
    OUT_OF_STOCK = "out_of_stock"
    ORDER_STATE_CONFLICT = "order_state_conflict"
    PAYOUT_STATE_CONFLICT = "payout_state_conflict"
    PAYOUTS_NONE_TO_EXPORT = "payouts_none_to_export"
    FLAG_RESOLVED = "flag_resolved"
    FARM_SHARES_PAID = "farm_shares_paid"


class PointsError(ServiceError):
    """A points write that cannot be done; nothing of it was written."""

    def __init__(
        self,
        code: ErrorCode,
        *,
        params: Mapping[str, object] | None = None,
        fields: Mapping[str, list[str]] | None = None,
    ) -> None:
        super().__init__(code=code, params=params, fields=fields)


class RedemptionError(PointsError):
    """An order that cannot be placed or moved on."""


class PayoutError(PointsError):
    """A payout that cannot be made or exported."""


class IdempotencyConflict(PointsError):
    """A key used before for another request (a claim, a grant, an order, a payout). It answers
    the code the ledger answers for the same mistake, defined once in ``ledger.errors``, so a
    client branches on one code wherever it sent the key."""

    def __init__(self, field: str, message: str) -> None:
        ServiceError.__init__(self, code=LedgerCode.IDEMPOTENCY_CONFLICT, fields={field: [message]})
