"""The ledger's one closed set of codes: every code is shown by a row of the entries' table, the
credits' table or the log's proofs' table, has an HTTP status and a message in both languages."""

from ledger.errors import ErrorCode, Outcome
from service.errors import STATUS_BY_CODE
from service.i18n import MESSAGES, translated
from tests.ledger.credits.test_results import CASES as CREDIT_CASES
from tests.ledger.entries.test_results import CASES as ENTRY_CASES
from tests.ledger.tlog.test_results import CASES as LOG_CASES


def test_the_tables_cover_every_result():
    assert set(ENTRY_CASES) | set(CREDIT_CASES) | set(LOG_CASES) == set(Outcome) | set(ErrorCode)
    assert set(ErrorCode) <= set(STATUS_BY_CODE)
    for code in ErrorCode:
        assert translated(MESSAGES[code.value]), code
