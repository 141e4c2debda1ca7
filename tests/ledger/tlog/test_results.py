"""Every refusal a proof request of the log can have; each is shown here by a table row."""

import pytest

from ledger.errors import ErrorCode, LedgerError
from ledger.tlog import log_append, log_sequence
from ledger.tlog.proofs import proof_consistency, proof_inclusion
from service.errors import STATUS_BY_CODE, status_of

CASES = {
    ErrorCode.LOG_TREE_SIZE_INVALID: lambda s: proof_consistency(s, first=1, second=4),
    ErrorCode.LOG_LEAF_NOT_FOUND: lambda s: proof_inclusion(s, leaf_hash=b"\x00" * 32),
}


def test_the_table_covers_every_result_of_the_logs_proofs():
    assert set(CASES) == {code for code in ErrorCode if code.value.startswith("log_")}


@pytest.fixture()
def logged(session, signer, origin, now):
    for number in range(3):
        log_append(session, kind="test.event", source_id=str(number), data={"n": number}, now=now)
    log_sequence(session, signer=signer, origin=origin, now=now)
    return session


@pytest.mark.parametrize("result", list(CASES), ids=str)
def test_each_result(logged, result):
    with pytest.raises(LedgerError) as error:
        CASES[result](logged)
    assert error.value.error_code is result
    assert status_of(error.value) == STATUS_BY_CODE[result]
