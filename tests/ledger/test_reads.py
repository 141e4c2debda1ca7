"""Worked examples of what other packages read of the ledger (``ledger.reads``).

The story, with ``now`` = 2026-11-24 08:00 UTC (16:00 in Shanghai):
    points:issuer  the points issuer
    alice          a consumer's points (FIFO lots)
        award-old  +100 award, 40 days ago (15 October), its lot ends in 10 days
        gift       +30 gift, two hours ago, its lot ends tomorrow
        award-new  +50 award, an hour ago, its lot ends in 60 days
        spend      -20 to the shop, now: drawn from the lot that ends first (gift: 10 left)
    bob            +7 award, half an hour ago, its lot ends in 400 days
    shop           an ordinary account of points (no lots)
"""

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import credits, reads
from ledger import entries as ledger
from service.base.units import SHANGHAI
from tests.ledger.conftest import days

EXAMPLES = Path(__file__).parents[2] / "examples" / "credits"
HOUR = timedelta(hours=1)


@pytest.fixture()
def story(session, open_account, post, now):
    ledger.expiry_sinks_open(session)
    open_account("points:issuer", issuer=True)
    alice, bob = open_account("alice", lots=True), open_account("bob", lots=True)
    open_account("shop")
    post("award-old", "points:issuer", "alice", 100, kind="award", at=now - days(40),
         expires_at=now + days(10))  # fmt: skip
    post("gift", "points:issuer", "alice", 30, kind="gift", at=now - 2 * HOUR,
         expires_at=now + days(1))  # fmt: skip
    post("award-new", "points:issuer", "alice", 50, kind="award", at=now - HOUR,
         expires_at=now + days(60))  # fmt: skip
    post("spend", "alice", "shop", 20, kind="spend", at=now)
    post("award-bob", "points:issuer", "bob", 7, kind="award", at=now - HOUR / 2,
         expires_at=now + days(400))  # fmt: skip
    return alice.id, bob.id


def test_what_each_account_was_credited_in_each_window(session, story):
    alice, bob = story
    starts = {
        "day": datetime(2026, 11, 24, tzinfo=SHANGHAI),  # 2026-11-23 16:00 UTC
        "month": datetime(2026, 11, 1, tzinfo=SHANGHAI),
        "quarter": datetime(2026, 10, 1, tzinfo=SHANGHAI),
    }
    credited = reads.credited_in_windows(
        session, account_ids=[alice, bob], kind="award", starts=starts
    )
    # The gift is of another kind; award-old falls in October, before this month.
    assert credited == {
        "day": {alice: 50, bob: 7},
        "month": {alice: 50, bob: 7},
        "quarter": {alice: 150, bob: 7},
    }
    # An account credited nothing of the kind is absent.
    assert reads.credited_in_windows(session, account_ids=[alice], kind="none", starts=starts) == {
        "day": {},
        "month": {},
        "quarter": {},
    }


def test_balances_lots_lapsed_and_expiring(session, story, now):
    alice, _ = story
    assert reads.account_state(session, "alice") == reads.AccountState(alice, 160, 0)
    assert reads.account_state(session, "nobody") is None
    # Now nothing has lapsed; in two days the gift's 10 left have, before any expiry job runs.
    assert reads.lots_lapsed(session, account_id=alice, now=now) == 0
    assert reads.lots_lapsed(session, account_id=alice, now=now + days(2)) == 10
    assert reads.available(session, account_id=alice, now=now) == 160
    assert reads.available(session, account_id=alice, now=now + days(2)) == 150
    # Within 30 days: the gift's 10 (tomorrow) and award-old's 100 (in 10 days), not award-new.
    assert reads.lots_expiring(session, account_id=alice, after=now, until=now + days(30)) == 110
    assert reads.lots_expiring(session, account_id=alice, after=now + days(2),
                               until=now + days(30)) == 100  # fmt: skip


def test_lifetime_totals_and_history_count_an_expiry_apart(session, story, now):
    alice, _ = story
    assert reads.lifetime_totals(session, account_id=alice) == reads.Totals(180, 20, 0)
    ledger.lots_expire(session, now=now + days(2), sink_for_asset=ledger.EXPIRY_SINKS)
    assert reads.lifetime_totals(session, account_id=alice) == reads.Totals(180, 20, 10)
    latest = reads.history(session, account_id=alice, limit=2)
    assert [(m.kind, m.amount) for m in latest] == [("expiry", -10), ("spend", -20)]
    assert len(reads.history(session, account_id=alice, limit=50)) == 5


def test_an_entry_by_its_key(session, story):
    gift = reads.entry_by_key(session, "gift")
    assert [p["amount"] for p in gift.request["postings"]] == [-30, 30]
    assert gift.request["kind"] == "gift"
    assert reads.entry_by_key(session, "no-such-key") is None


def test_what_an_asset_owes_by_holder_by_expiry_month_and_by_month(session, story, now):
    # Holders of points: alice 160, bob 7, the shop 20 (the issuer and the expiry sink aside).
    assert reads.outstanding_by_owner_type(session, asset="POINT") == {"user": 187}
    assert reads.expiring_by_month(session, asset="POINT", zone=SHANGHAI) == {
        "2026-11": 10,  # the gift, tomorrow
        "2026-12": 100,  # award-old
        "2027-01": 50,  # award-new
        "2027-12": 7,  # bob's
    }
    months = reads.movements_by_month(session, asset="POINT", zone=SHANGHAI)
    # Only lot-keeping holders count (alice and bob, not the shop).
    assert months == {
        "2026-10": reads.MonthTotals(credited=100),
        "2026-11": reads.MonthTotals(credited=87, debited=20),
    }
    ledger.lots_expire(session, now=now + days(2), sink_for_asset=ledger.EXPIRY_SINKS)
    assert reads.outstanding_by_owner_type(session, asset="POINT") == {"user": 177}
    assert reads.movements_by_month(session, asset="POINT", zone=SHANGHAI)["2026-11"] == (
        reads.MonthTotals(credited=87, debited=20, expired=10)
    )


def test_locks_return_ids_and_posting_needs_no_lookup_after(session, story, now):
    alice, bob = story
    assert reads.account_lock(session, "alice") == alice
    assert reads.accounts_lock(session, ["bob", "alice", "bob"]) == {"alice": alice, "bob": bob}
    ledger.entry_post(
        session,
        ledger.EntryRequest(
            key="after-lock", kind="award",
            postings=[ledger.PostingRequest("points:issuer", -1),
                      ledger.PostingRequest("bob", 1, expires_at=now + days(1))],
        ),
        now=now,
    )  # fmt: skip
    assert ledger.balance_of(session, "bob").balance == 8


def test_what_an_allocation_drew_and_the_farms_shares(claimant, session, now):
    """Qingpu's 2024 batch (four farms), 1 t retired, two label-lot allocations."""
    credits.import_file(
        session, content=(EXAMPLES / "qingpu.json").read_bytes(), file_format="json", now=now
    )
    batch = session.scalar(sa.text("SELECT id FROM credit_batches WHERE vintage = 2024"))
    credits.retire(
        session, beneficiary_organisation_id=claimant.id, registry_code="YRD-CI",
            registry_reference="R-READS", beneficiary="上海某米业有限公司",
        purpose="碳中和标签", retired_on=date(2026, 11, 1),
        lines=[credits.RetirementLine(batch, 1)], now=now,
    )  # fmt: skip
    first, second = (
        credits.allocate(session, claimant_organisation_id=claimant.id,
                         key=f"lot-{n}", target_type="label_lot", target_id=str(n),
                         quantity_g=grams, now=now).allocation_id
        for n, grams in ((9, 250_003), (10, 1_000))
    )  # fmt: skip
    assert reads.allocation_by_batch(session, allocation_id=first) == [(batch, 250_003)]
    shares = reads.batch_shares(session, batch_id=batch)
    assert len(shares) == 4
    assert sum(share.share_ppm for share in shares) == 1_000_000
    assert [share.farm_id for share in shares] == sorted(share.farm_id for share in shares)
    assert {share.organisation_id for share in shares} == {None}  # none linked yet
    # The caller's own table of the allocations it has handled: here, the first.
    handled = sa.Table(
        "handled_allocations_test", sa.MetaData(), sa.Column("allocation_id", sa.BigInteger)
    )
    handled.create(session.connection())
    session.execute(handled.insert().values(allocation_id=first))
    pending = reads.allocations_pending(
        session, target_type="label_lot", done=handled.c.allocation_id, limit=10
    )
    assert pending == [second]
    assert reads.allocations_pending(
        session, target_type="personal_offset", done=handled.c.allocation_id, limit=10
    ) == []  # fmt: skip


def test_the_earning_lock_inside_a_callers_statement(session, story, backend, now):
    """On PostgreSQL a caller embeds ``EARNING_LOCK`` in its own statement and hands the columns
    back: the holder is locked and its sums come with it while no one changed it since the
    statement's snapshot."""
    if backend.name != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's")
    alice, _ = story
    day, month = datetime(2026, 11, 24, tzinfo=SHANGHAI), datetime(2026, 11, 1, tzinfo=SHANGHAI)

    def run(account, when="true"):
        lock = reads.EARNING_LOCK
        ctes = lock.ctes_when(when).strip()
        statement = f"WITH {ctes} SELECT {lock.columns} FROM (SELECT 1) AS one {lock.joins}"  # noqa: S608
        parameters = {"account": account, "issuer": "points:issuer", "kind": "award",
                      "day": day, "month": month}  # fmt: skip
        with session.connection().connection.driver_connection.cursor() as cursor:
            row = cursor.execute(statement, parameters).fetchone()
        assert len(row) == lock.width
        return reads.earning_locked(session, row, asset="POINT")

    assert run("alice") == reads.LockedAccount(alice, (50, 50))
    assert run("alice", when="false") is None  # the caller's condition did not hold: no lock
    assert run("shop") is None  # not a lot-keeping holder
    assert reads.credited_since(
        session, account_id=alice, kind="award", day=day, month=month
    ) == (50, 50)  # fmt: skip
