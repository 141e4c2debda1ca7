"""The labels package's codes: a closed set, each carried by one exception, each with one HTTP
status in the one table. Clients branch on the codes, so their values are written out here."""

import pytest

from labels.errors import (
    BenchmarkNotMet,
    ClaimBannedInMarket,
    ErrorCode,
    GtinTaken,
    LabelNotCertified,
    LotStateConflict,
    TransitionRefused,
)
from service.errors import SECTIONS, STATUS_BY_CODE, status_of

TABLE = [
    (GtinTaken(), "gtin_taken", 409),
    (TransitionRefused(params={"from": "submitted", "to": "x"}), "label_transition_refused", 409),
    (BenchmarkNotMet(params={"detail": "no benchmark"}), "label_benchmark_not_met", 409),
    (LabelNotCertified(params={"status": "submitted"}), "label_not_certified", 409),
    (LotStateConflict(params={"status": "issued"}), "lot_state_conflict", 409),
    (ClaimBannedInMarket(["DE"]), "label_claim_banned_in_market", 422),
]  # fmt: skip


@pytest.mark.parametrize(("error", "code", "status"), TABLE, ids=[row[1] for row in TABLE])
def test_each_error_carries_its_code_and_status(error, code, status):
    assert error.code == code
    assert error.code in set(ErrorCode)
    assert status_of(error) == status


def test_the_table_covers_every_code_once():
    assert {row[1] for row in TABLE} == set(ErrorCode)
    assert set(ErrorCode) <= set(STATUS_BY_CODE)
    sections = [section for section in SECTIONS if set(ErrorCode) & set(section)]
    assert len(sections) == 1 and set(sections[0]) == set(ErrorCode)


def test_a_taken_gtin_names_the_field():
    assert GtinTaken().fields == {"gtin": ["This GTIN belongs to another product."]}
