"""Every result a ledger write can have is in one closed set; each is shown here by a table row."""

from datetime import timedelta

import pytest

from ledger import entries as ledger
from ledger.errors import ErrorCode, LedgerError, Outcome
from service.errors import STATUS_BY_CODE, status_of

P = ledger.PostingRequest


def entry(key="k", postings=None, kind="transfer", metadata=None):
    return ledger.EntryRequest(
        key, kind, postings or [P("issuer", -5), P("alice", 5)], metadata or {}
    )


@pytest.fixture()
def world(session, open_account, now):
    open_account("issuer", issuer=True)
    open_account("alice", lots=True)
    open_account("bob")
    open_account("fen", "FEN")
    ledger.entry_post(session, entry("seed", [P("issuer", -100), P("alice", 100)]), now=now)
    return session


def hold(session, now, **changes):
    arguments = {
        "key": "h",
        "account": "alice",
        "destination": "bob",
        "amount": 10,
        "now": now,
        "expires_at": now + timedelta(hours=1),
    } | changes
    return ledger.hold_create(session, **arguments)


CASES = {
    Outcome.CREATED: lambda s, now: ledger.entry_post(s, entry("new"), now=now),
    Outcome.EXISTS: lambda s, now: ledger.entry_post(
        s, entry("seed", [P("issuer", -100), P("alice", 100)]), now=now
    ),
    ErrorCode.IDEMPOTENCY_CONFLICT: lambda s, now: ledger.entry_post(
        s, entry("seed", [P("issuer", -100), P("alice", 100)], kind="other"), now=now
    ),
    ErrorCode.ACCOUNT_NOT_FOUND: lambda s, now: ledger.entry_post(
        s, entry(postings=[P("issuer", -5), P("nobody", 5)]), now=now
    ),
    ErrorCode.ACCOUNT_CONFLICT: lambda s, now: ledger.account_open(
        s, code="alice", asset="POINT", owner_type="user", uses_lots=False
    ),
    ErrorCode.ASSET_MISMATCH: lambda s, now: hold(s, now, destination="fen"),
    ErrorCode.UNBALANCED: lambda s, now: ledger.entry_post(
        s, entry(postings=[P("issuer", -5), P("alice", 4)]), now=now
    ),
    ErrorCode.AMOUNT_INVALID: lambda s, now: ledger.entry_post(
        s, entry(postings=[P("issuer", 0), P("alice", 0)]), now=now
    ),
    ErrorCode.ENTRY_INVALID: lambda s, now: ledger.entry_post(
        s, entry(postings=[P("alice", 5)]), now=now
    ),
    ErrorCode.INSUFFICIENT_FUNDS: lambda s, now: ledger.entry_post(
        s, entry(postings=[P("alice", -101), P("bob", 101)]), now=now
    ),
    ErrorCode.LOT_INVALID: lambda s, now: ledger.entry_post(
        s, entry(postings=[P("alice", -5, lot_id=999_999), P("bob", 5)]), now=now
    ),
    ErrorCode.HOLD_NOT_FOUND: lambda s, now: ledger.hold_void(s, hold_id=999_999, now=now),
    ErrorCode.HOLD_NOT_PENDING: lambda s, now: ledger.hold_post(
        s,
        hold_id=ledger.hold_void(s, hold_id=hold(s, now).hold_id, now=now).hold_id,
        key="p",
        now=now,
    ),
    ErrorCode.HOLD_EXPIRED: lambda s, now: ledger.hold_post(
        s, hold_id=hold(s, now).hold_id, key="p", now=now + timedelta(hours=2)
    ),
    ErrorCode.HOLD_AMOUNT_EXCEEDED: lambda s, now: ledger.hold_post(
        s, hold_id=hold(s, now).hold_id, key="p", amount=11, now=now
    ),
    ErrorCode.ENTRY_NOT_FOUND: lambda s, now: ledger.entry_reverse(
        s, entry_id=999_999, key="r", now=now
    ),
    ErrorCode.ALREADY_REVERSED: lambda s, now: [
        ledger.entry_reverse(
            s, entry_id=ledger.entry_post(s, entry("x"), now=now).entry_id, key=key, now=now
        )
        for key in ("r1", "r2")
    ],
    ErrorCode.BATCH_TOO_LARGE: lambda s, now: ledger.entries_post(
        s, [entry(f"b{i}") for i in range(ledger.ENTRIES_PER_BATCH_MAX + 1)], now=now
    ),
}


def test_the_table_covers_every_result_of_entries_and_holds():
    """Every code but the sink credits' own (``tests/ledger/credits/test_results.py``) and the
    log's proofs' (``tests/ledger/tlog/test_results.py``)."""
    others = {code for code in ErrorCode if code.value.startswith(("credit", "log_"))}
    assert set(CASES) == set(Outcome) | (set(ErrorCode) - others)


@pytest.mark.parametrize("result", list(CASES), ids=str)
def test_each_result(world, now, result):
    if isinstance(result, Outcome):
        assert CASES[result](world, now).outcome is result
        return
    with pytest.raises(LedgerError) as error, world.begin_nested():
        CASES[result](world, now)
    assert error.value.error_code is result
    assert status_of(error.value) == STATUS_BY_CODE[result]
