"""Worked examples: small ledgers written out, and what every balance is afterwards.

Accounts in these stories:
    points:issuer   the platform's points issuer (may go negative, keeps no stored balance)
    alice, bob      consumers' point accounts (FIFO lots with expiry)
    shop            a reward catalogue's account
"""

import pytest
import sqlalchemy as sa

from ledger import entries as ledger
from ledger.errors import ErrorCode, LedgerError, Outcome
from ledger.models import Account, Entry, Lot
from ledger.verify import ledger_verify
from tests.ledger.conftest import available, balance, days


@pytest.fixture()
def accounts(open_account):
    open_account("points:issuer", issuer=True)
    open_account("alice", lots=True)
    open_account("bob", lots=True)
    open_account("shop")


def test_issuing_and_spending_points(session, accounts, post, now):
    # The platform awards Alice 120 points for a claim, then 30 more.
    post("award-1", "points:issuer", "alice", 120, expires_at=now + days(365))
    post("award-2", "points:issuer", "alice", 30, expires_at=now + days(30))
    # Alice gives Bob 50.
    post("gift-1", "alice", "bob", 50)

    assert balance(session, "points:issuer") == -150
    assert balance(session, "alice") == 100
    assert balance(session, "bob") == 50
    # The gift drew first on the lot that expires first: all 30 of award-2, then 20 of award-1.
    remaining = dict(
        session.execute(
            sa.select(Lot.amount_initial, Lot.remaining).where(
                Lot.account_id == ledger.accounts_resolve(session, ["alice"])["alice"].id
            )
        ).all()
    )
    assert remaining == {120: 100, 30: 0}
    assert ledger_verify(session).ok


def test_an_overdraft_is_refused_and_changes_nothing(session, accounts, post):
    post("award", "points:issuer", "alice", 10)
    entries_before = session.scalar(sa.select(sa.func.count()).select_from(Entry))
    with pytest.raises(LedgerError) as error, session.begin_nested():
        post("too-much", "alice", "bob", 11)
    assert error.value.error_code is ErrorCode.INSUFFICIENT_FUNDS
    assert balance(session, "alice") == 10
    assert session.scalar(sa.select(sa.func.count()).select_from(Entry)) == entries_before


def test_a_retry_returns_the_original_answer(session, accounts, post):
    first = post("award", "points:issuer", "alice", 10)
    again = post("award", "points:issuer", "alice", 10)
    assert (first.outcome, again.outcome) == (Outcome.CREATED, Outcome.EXISTS)
    assert again.entry_id == first.entry_id
    assert balance(session, "alice") == 10


def test_a_retry_with_another_amount_is_a_conflict_naming_the_field(session, accounts, post):
    post("award", "points:issuer", "alice", 10)
    with pytest.raises(LedgerError) as error:
        post("award", "points:issuer", "alice", 11)
    assert error.value.error_code is ErrorCode.IDEMPOTENCY_CONFLICT
    assert error.value.field == "postings"


def test_a_hold_reserves_then_posts_part_and_releases_the_rest(session, accounts, post, now):
    post("award", "points:issuer", "alice", 100)
    hold = ledger.hold_create(
        session,
        key="order-7",
        account="alice",
        destination="shop",
        amount=80,
        now=now,
        expires_at=now + days(1),
    )
    assert (balance(session, "alice"), available(session, "alice")) == (100, 20)
    with pytest.raises(LedgerError):  # the held points cannot be spent twice
        with session.begin_nested():
            post("sneaky", "alice", "bob", 21)

    ledger.hold_post(session, hold_id=hold.hold_id, key="order-7-paid", amount=60, now=now)
    assert (balance(session, "alice"), available(session, "alice")) == (40, 40)
    assert balance(session, "shop") == 60
    assert ledger_verify(session).ok


def test_a_voided_hold_gives_everything_back(session, accounts, post, now):
    post("award", "points:issuer", "alice", 100)
    hold = ledger.hold_create(
        session, key="order-8", account="alice", destination="shop", amount=100, now=now
    )
    ledger.hold_void(session, hold_id=hold.hold_id, now=now)
    assert available(session, "alice") == 100
    with pytest.raises(LedgerError) as error:
        ledger.hold_post(session, hold_id=hold.hold_id, key="late", now=now)
    assert error.value.error_code is ErrorCode.HOLD_NOT_PENDING


def test_an_expired_hold_is_released_by_the_job(session, accounts, post, now):
    post("award", "points:issuer", "alice", 100)
    hold = ledger.hold_create(
        session,
        key="order-9",
        account="alice",
        destination="shop",
        amount=70,
        now=now,
        expires_at=now + days(1),
    )
    assert ledger.holds_expire(session, now=now + days(1)) == [hold.hold_id]
    assert available(session, "alice") == 100
    assert ledger_verify(session).ok


def test_posting_a_hold_after_its_expiry_is_refused(session, accounts, post, now):
    post("award", "points:issuer", "alice", 100)
    hold = ledger.hold_create(
        session,
        key="order-10",
        account="alice",
        destination="shop",
        amount=70,
        now=now,
        expires_at=now + days(1),
    )
    with pytest.raises(LedgerError) as error:
        ledger.hold_post(session, hold_id=hold.hold_id, key="too-late", now=now + days(2))
    assert error.value.error_code is ErrorCode.HOLD_EXPIRED


def test_points_expire_lot_by_lot(session, accounts, post, now):
    post("award-1", "points:issuer", "alice", 100, expires_at=now + days(30))
    post("award-2", "points:issuer", "alice", 50, expires_at=now + days(90))
    post("spend", "alice", "shop", 40)  # drawn from award-1, which expires first
    sinks = ledger.expiry_sinks_open(session)

    # The day before, nothing expires; on the day, what is left of award-1 does.
    assert ledger.lots_expire(session, now=now + days(30) - days(1), sink_for_asset=sinks) == []
    expired = ledger.lots_expire(session, now=now + days(30), sink_for_asset=sinks)
    assert [r.postings for r in expired] == [(("alice", -60), ("platform:point:expired", 60))]
    assert balance(session, "alice") == 50
    # Running the job again changes nothing.
    assert ledger.lots_expire(session, now=now + days(31), sink_for_asset=sinks) == []
    assert ledger_verify(session).ok


def test_expired_lots_cannot_be_spent_before_the_job_runs(session, accounts, post, now):
    post("award", "points:issuer", "alice", 100, expires_at=now + days(1))
    with pytest.raises(LedgerError) as error:
        post("spend", "alice", "shop", 10, at=now + days(2))
    assert error.value.error_code is ErrorCode.INSUFFICIENT_FUNDS


def test_a_reversal_mirrors_the_entry_and_keeps_the_original(session, accounts, post, now):
    award = post("award", "points:issuer", "alice", 100, expires_at=now + days(10))
    spend = post("spend", "alice", "shop", 30)
    reversal = ledger.entry_reverse(session, entry_id=spend.entry_id, key="refund", now=now)
    assert reversal.postings == (("alice", 30), ("shop", -30))
    assert balance(session, "alice") == 100
    assert session.get(Entry, spend.entry_id) is not None
    assert session.get(Entry, reversal.entry_id).reverses_entry_id == spend.entry_id
    # The refunded points keep the earliest expiry of the lots they came from.
    refund_lot = session.scalars(sa.select(Lot).where(Lot.entry_id == reversal.entry_id)).one()
    assert refund_lot.expires_at == now + days(10)
    # An entry is reversed once; the same key answers again, another key is refused.
    again = ledger.entry_reverse(session, entry_id=spend.entry_id, key="refund", now=now)
    assert again.outcome is Outcome.EXISTS
    with pytest.raises(LedgerError) as error:
        ledger.entry_reverse(session, entry_id=spend.entry_id, key="refund-2", now=now)
    assert error.value.error_code is ErrorCode.ALREADY_REVERSED
    assert award.outcome is Outcome.CREATED
    assert ledger_verify(session).ok


def test_a_reversal_may_give_a_debit_back_to_the_lot_it_drew_on(session, accounts, post, now):
    # Alice's 100 points sit in one lot; she spends 30 of them.
    award = post("award", "points:issuer", "alice", 100, expires_at=now + days(10))
    spend = post("spend", "alice", "shop", 30)
    lot = session.scalars(sa.select(Lot).where(Lot.entry_id == award.entry_id)).one()
    # Reversed with ``refill_lots``, the 30 go back into that very lot: no new lot is made.
    reversal = ledger.entry_reverse(
        session, entry_id=spend.entry_id, key="refund", now=now, refill_lots=True
    )
    assert reversal.postings == (("alice", 30), ("shop", -30))
    session.refresh(lot)
    assert (lot.remaining, lot.amount_initial) == (100, 100)
    assert session.scalars(sa.select(Lot).where(Lot.entry_id == reversal.entry_id)).all() == []
    assert ledger_verify(session).ok


def test_a_lot_is_never_refilled_beyond_what_it_first_held(session, accounts, post, now):
    award = post("award", "points:issuer", "alice", 100, expires_at=now + days(10))
    lot = session.scalars(sa.select(Lot).where(Lot.entry_id == award.entry_id)).one()
    request = ledger.EntryRequest(
        key="too-much", kind="transfer",
        postings=[ledger.PostingRequest("points:issuer", -1),
                  ledger.PostingRequest("alice", 1, refill_lot_id=lot.id)],
    )  # fmt: skip
    with pytest.raises(LedgerError) as error, session.begin_nested():
        ledger.entry_post(session, request, now=now)
    assert (error.value.error_code, error.value.field) == (ErrorCode.LOT_INVALID, "refill_lot_id")
    assert balance(session, "alice") == 100


def test_a_batch_posts_all_or_nothing(session, accounts, post, now):
    post("award", "points:issuer", "alice", 10)
    good = ledger.EntryRequest(
        "b1",
        "distribution",
        [ledger.PostingRequest("points:issuer", -5), ledger.PostingRequest("bob", 5)],
    )
    bad = ledger.EntryRequest(
        "b2",
        "distribution",
        [ledger.PostingRequest("alice", -50), ledger.PostingRequest("bob", 50)],
    )
    with pytest.raises(LedgerError), session.begin_nested():
        ledger.entries_post(session, [good, bad], now=now)
    assert balance(session, "bob") == 0
    results = ledger.entries_post(session, [good], now=now)
    assert results[0].outcome is Outcome.CREATED
    assert balance(session, "bob") == 5


def test_a_multi_asset_entry_balances_per_asset(session, open_account, now):
    open_account("fen:external", "FEN", issuer=True)
    open_account("farm:fen", "FEN")
    open_account("points:issuer", issuer=True)
    open_account("farm:points")
    ledger.entry_post(
        session,
        ledger.EntryRequest(
            "seed",
            "grant",
            [
                ledger.PostingRequest("points:issuer", -500),
                ledger.PostingRequest("farm:points", 500),
            ],
        ),
        now=now,
    )
    # A payout: 500 points back to the issuer, 250 fen out to the farm, in one entry.
    result = ledger.entry_post(
        session,
        ledger.EntryRequest(
            "payout-1",
            "payout",
            [
                ledger.PostingRequest("farm:points", -500),
                ledger.PostingRequest("points:issuer", 500),
                ledger.PostingRequest("fen:external", -250),
                ledger.PostingRequest("farm:fen", 250),
            ],
        ),
        now=now,
    )
    assert result.outcome is Outcome.CREATED
    assert balance(session, "farm:fen") == 250
    assert ledger_verify(session).ok


def test_an_overdraft_of_an_account_without_lots_is_refused(session, accounts, post):
    post("fill", "points:issuer", "shop", 10)
    with pytest.raises(LedgerError) as error:
        with session.begin_nested():
            post("too-much", "shop", "bob", 11)
    assert error.value.error_code is ErrorCode.INSUFFICIENT_FUNDS
    assert error.value.detail == "shop"
    assert balance(session, "shop") == 10


def test_issuing_never_writes_the_issuer_row(session, accounts, post):
    """The issuer may go negative and keeps no stored balance: issuing writes postings only, so
    no two issuances ever wait on one row."""
    before = session.execute(sa.select(Account).where(Account.code == "points:issuer")).scalar_one()
    version_before = _row_version(session, before.id)
    for number in range(5):
        post(f"issue-{number}", "points:issuer", "shop", 10)
    assert _row_version(session, before.id) == version_before
    assert balance(session, "points:issuer") == -50  # summed from its postings


def _row_version(session, account_id):
    """PostgreSQL's xmin (the writing transaction) or SQLite's row as stored."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(
            sa.text("SELECT xmin::text FROM ledger_accounts WHERE id = :id"), {"id": account_id}
        )
    return tuple(
        session.execute(
            sa.text("SELECT * FROM ledger_accounts WHERE id = :id"), {"id": account_id}
        ).one()
    )


def test_a_distribution_to_many_lot_accounts(session, open_account, now):
    """More accounts than one UPDATE each is worth: balances are locked in one ordered pass."""
    open_account("points:issuer", issuer=True)
    farms = [f"farm:{number}" for number in range(12)]
    for farm in farms:
        open_account(farm, lots=True)
    shares = ledger.EntryRequest(
        "share-1",
        "farm_share",
        [
            ledger.PostingRequest("points:issuer", -sum(range(1, 13))),
            *[ledger.PostingRequest(farm, number) for number, farm in enumerate(farms, start=1)],
        ],
    )
    assert ledger.entry_post(session, shares, now=now).outcome is Outcome.CREATED
    assert [balance(session, farm) for farm in farms] == list(range(1, 13))

    # Taking back one point more than farm:0 holds refuses the whole entry, naming farm:0.
    clawback = ledger.EntryRequest(
        "clawback-1",
        "correction",
        [
            *[
                ledger.PostingRequest(farm, -number - (farm == "farm:0"))
                for number, farm in enumerate(farms, start=1)
            ],
            ledger.PostingRequest("points:issuer", sum(range(1, 13)) + 1),
        ],
    )
    with pytest.raises(LedgerError) as error:
        with session.begin_nested():
            ledger.entry_post(session, clawback, now=now)
    assert error.value.error_code is ErrorCode.INSUFFICIENT_FUNDS
    assert error.value.detail == "farm:0"
    assert [balance(session, farm) for farm in farms] == list(range(1, 13))
    assert ledger_verify(session).ok
