"""Points' codes: one closed set, each answered with one HTTP status from the one table, and a
message in both languages. Clients branch on these strings, so the table pins them."""

import pytest

from ledger.errors import ErrorCode as LedgerCode
from points.errors import (
    ErrorCode,
    IdempotencyConflict,
    PayoutError,
    PointsError,
    RedemptionError,
)
from service.base.exceptions import ServiceError
from service.errors import _POINTS, STATUS_BY_CODE, status_of
from service.i18n import MESSAGES, translated

STATUSES = {
    "claim_code_invalid": 422,
    "claim_code_revoked": 409,
    "claim_enterprise_suspended": 409,
    "unit_already_claimed": 409,
    "points_rule_missing": 503,
    "practice_duplicate": 409,
    "practice_decided": 409,
    "item_code_taken": 409,
    "item_unavailable": 409,
    "item_not_for_party": 403,
    "redemption_limit_reached": 409,
    "points_insufficient": 409,
    "out_of_stock": 409,
    "order_state_conflict": 409,
    "payout_state_conflict": 409,
    "payouts_none_to_export": 404,
    "flag_resolved": 409,
    "farm_shares_paid": 409,
}


def test_the_points_section_is_exactly_the_enum():
    assert set(_POINTS) == set(ErrorCode)
    assert {code.value for code in ErrorCode} == set(STATUSES)


@pytest.mark.parametrize("error_class", [PointsError, RedemptionError, PayoutError])
@pytest.mark.parametrize(("code", "status"), sorted(STATUSES.items()))
def test_every_code_has_its_status_and_its_words(error_class, code, status):
    error = error_class(code=ErrorCode(code))
    assert (error.code, status_of(error)) == (code, status)
    assert translated(MESSAGES[code])


def test_a_key_used_for_another_request_answers_the_ledgers_code():
    error = IdempotencyConflict("Idempotency-Key", "Used for another order.")
    assert isinstance(error, PointsError) and isinstance(error, ServiceError)
    assert error.code == LedgerCode.IDEMPOTENCY_CONFLICT == "idempotency_conflict"
    assert error.fields == {"Idempotency-Key": ["Used for another order."]}
    assert status_of(error) == STATUS_BY_CODE["idempotency_conflict"] == 409
