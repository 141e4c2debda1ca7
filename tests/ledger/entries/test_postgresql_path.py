"""On PostgreSQL, entries without lots are posted in one statement; the rows it writes are the
rows the portable path writes, and on its own it is atomic (autocommit)."""

import json
from contextlib import nullcontext
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from ledger import entries as ledger
from ledger import paths
from ledger.entries import limits
from ledger.entries.sql import array_literal
from ledger.errors import ErrorCode, LedgerError, Outcome
from ledger.models import Entry, LogPending, Lot, LotMovement, Posting
from service.base.orm import create_engine


@pytest.fixture(autouse=True)
def postgresql_only(backend):
    if backend.name != "postgresql":
        pytest.skip("the one-statement path is PostgreSQL's")


def rows_of(session, prefix):
    entries = session.execute(
        sa.select(Entry.id, Entry.kind, Entry.request, Entry.idempotency_key, Entry.hold_id)
        .where(Entry.idempotency_key.like(f"{prefix}%"))
        .order_by(Entry.id)
    ).all()
    result = []
    for entry_id, kind, request, key, hold_id in entries:
        postings = session.execute(
            sa.select(Posting.asset, Posting.amount)
            .where(Posting.entry_id == entry_id)
            .order_by(Posting.id)
        ).all()
        leaf = json.loads(
            session.scalar(sa.select(LogPending.data).where(LogPending.source_id == str(entry_id)))
        )
        assert leaf.pop("id") == entry_id
        leaf["key"] = leaf["key"].removeprefix(prefix)
        postings = [tuple(p) for p in postings]
        result.append((kind, request, postings, leaf, key.removeprefix(prefix), hold_id))
    return result


def balances(session, *codes):
    return [ledger.balance_of(session, code) for code in codes]


def test_both_paths_write_the_same_rows(session, open_account, now):
    open_account("issuer", issuer=True)
    for name in ("a", "b"):
        open_account(name)
    batch = [
        ledger.EntryRequest(
            "one-1",
            "fund",
            [ledger.PostingRequest("issuer", -50), ledger.PostingRequest("a", 50)],
            {"note": "碳汇"},
        ),
        ledger.EntryRequest(
            "one-2", "move", [ledger.PostingRequest("a", -20), ledger.PostingRequest("b", 20)]
        ),
    ]
    fast = ledger.entries_post(session, batch, now=now)
    portable_batch = [
        ledger.EntryRequest("two-" + r.key[4:], r.kind, r.postings, r.metadata) for r in batch
    ]
    with paths.portable_path(session):
        slow = ledger.entries_post(session, portable_batch, now=now)
    assert [r.outcome for r in fast + slow] == [Outcome.CREATED] * 4
    assert rows_of(session, "one-") == rows_of(session, "two-")


def test_a_batch_opening_lots_writes_the_same_rows_and_lots(session, open_account, now):
    """A points distribution: each entry credits one lot account; the one statement opens the
    lots (with their expiry and provenance) and movements the portable path opens."""
    open_account("issuer", issuer=True)
    for name in ("farm-1", "farm-2"):
        open_account(name, lots=True)
    expires = now + timedelta(days=730)

    def batch(prefix):
        return [
            ledger.EntryRequest(
                f"{prefix}{farm}-{n}",
                "points_farm_share",
                [ledger.PostingRequest("issuer", -amount),
                 ledger.PostingRequest(farm, amount, expires_at=expires,
                                       provenance={"rule_id": 1, "version": n})],
            )
            for n, (farm, amount) in enumerate([("farm-1", 3), ("farm-2", 5), ("farm-1", 7)])
        ]  # fmt: skip

    fast = ledger.entries_post(session, batch("one-"), now=now)
    with paths.portable_path(session):
        slow = ledger.entries_post(session, batch("two-"), now=now)
    assert [r.outcome for r in fast + slow] == [Outcome.CREATED] * 6
    assert rows_of(session, "one-") == rows_of(session, "two-")
    for results in (fast, slow):
        lots = [
            session.execute(
                sa.select(Lot.account_id, Lot.amount_initial, Lot.remaining, Lot.expires_at,
                          Lot.provenance, Lot.entry_id).where(Lot.id == result.lots[0].lot_id)
            ).one()
            for result in results
        ]  # fmt: skip
        assert [lot[1:5] for lot in lots] == [
            (3, 3, expires, {"rule_id": 1, "version": 0}),
            (5, 5, expires, {"rule_id": 1, "version": 1}),
            (7, 7, expires, {"rule_id": 1, "version": 2}),
        ]
        assert [lot[5] for lot in lots] == [result.entry_id for result in results]
        assert [r.lots[0].posting_index for r in results] == [1, 1, 1]
        moved = session.scalar(
            sa.select(sa.func.sum(LotMovement.amount)).where(
                LotMovement.lot_id.in_([r.lots[0].lot_id for r in results])
            )
        )
        assert moved == 15
    assert [b.balance for b in balances(session, "farm-1", "farm-2")] == [20, 10]
    assert ledger.entries_post(session, batch("one-"), now=now)[0].outcome is Outcome.EXISTS


def test_a_single_earning_opens_its_lot_in_the_one_statement(session, open_account, now):
    """A claim's points: one entry crediting one lot account opens the same lot and movement
    through the one statement as through the portable path."""
    open_account("issuer", issuer=True)
    open_account("consumer", lots=True)
    expires = now + timedelta(days=365)
    results = []
    for prefix, portable in (("one-", False), ("two-", True)):
        request = ledger.EntryRequest(
            f"{prefix}claim",
            "points_unit_claim",
            [ledger.PostingRequest("issuer", -10),
             ledger.PostingRequest("consumer", 10, expires_at=expires, provenance={"rule_id": 4})],
            {"lot_id": 1, "unit_index": 7},
        )  # fmt: skip
        with paths.portable_path(session) if portable else nullcontext():
            [result] = ledger.entries_post(session, [request], now=now)
        results.append(result)
    assert rows_of(session, "one-") == rows_of(session, "two-")
    lots = [
        session.execute(
            sa.select(Lot.amount_initial, Lot.remaining, Lot.expires_at, Lot.provenance,
                      Lot.entry_id).where(Lot.id == result.lots[0].lot_id)
        ).one()
        for result in results
    ]  # fmt: skip
    assert [lot[:4] for lot in lots] == [(10, 10, expires, {"rule_id": 4})] * 2
    assert [lot[4] for lot in lots] == [result.entry_id for result in results]
    assert [r.lots for r in results] == [
        (ledger.LotUse(1, results[0].lots[0].lot_id, 10),),
        (ledger.LotUse(1, results[1].lots[0].lot_id, 10),),
    ]
    assert ledger.balance_of(session, "consumer").balance == 20


def test_a_single_entry_writes_the_same_rows_as_the_portable_path(session, open_account, now):
    """One entry at a time takes the lean statement; each of these is posted by both paths."""
    open_account("issuer", issuer=True)
    for name in ("a", "b"):
        open_account(name)
    seed = [ledger.PostingRequest("issuer", -10), ledger.PostingRequest("a", 10)]
    ledger.entry_post(session, ledger.EntryRequest("seed", "fund", seed), now=now)
    hold = ledger.hold_create(session, key="hold", account="a", destination="b", amount=2, now=now)
    cases = [
        ("fund", "fund", [("issuer", -90), ("a", 90)], {"note": "碳汇"}, None),
        ("split", "move", [("a", -30), ("b", 10), ("b", 20)], {}, None),
        ("round-trip", "move", [("a", -1), ("a", 1)], {}, None),
        ("issuers-only", "mint", [("issuer", -5), ("issuer", 5)], {}, None),
        ("settle", "hold_post", [("a", -1), ("b", 1)], {}, hold.hold_id),
    ]
    for prefix, portable in (("one-", False), ("two-", True)):
        for key, kind, legs, metadata, hold_id in cases:
            request = ledger.EntryRequest(
                prefix + key, kind, [ledger.PostingRequest(a, n) for a, n in legs], metadata
            )
            hold_ids = {request.key: hold_id} if hold_id else None
            with paths.portable_path(session) if portable else nullcontext():
                (result,) = ledger.entries_post(session, [request], now=now, hold_ids=hold_ids)
                assert result.outcome is Outcome.CREATED
                again = ledger.entries_post(session, [request], now=now, hold_ids=hold_ids)
            assert again[0].outcome is Outcome.EXISTS
            assert again[0].entry_id == result.entry_id
    assert rows_of(session, "one-") == rows_of(session, "two-")
    # Both paths moved the same amounts: 10 + 2 x (90 - 30 - 1) on a, 2 x (30 + 1) on b.
    assert [b.balance for b in balances(session, "a", "b")] == [128, 62]


def test_a_single_entry_that_overdraws_writes_nothing(session, open_account, now):
    open_account("issuer", issuer=True)
    open_account("a")
    ledger.entry_post(
        session,
        ledger.EntryRequest(
            "fund", "fund", [ledger.PostingRequest("issuer", -5), ledger.PostingRequest("a", 5)]
        ),
        now=now,
    )
    with pytest.raises(LedgerError) as error, session.begin_nested():
        ledger.entry_post(
            session,
            ledger.EntryRequest(
                "over", "move", [ledger.PostingRequest("a", -6), ledger.PostingRequest("issuer", 6)]
            ),
            now=now,
        )
    assert error.value.error_code is ErrorCode.INSUFFICIENT_FUNDS
    assert error.value.field == "amount"
    assert session.scalar(sa.select(sa.func.count()).select_from(Entry)) == 1
    assert ledger.balance_of(session, "a").balance == 5


def test_one_statement_is_atomic_on_its_own(scratch_database_url, now):
    engine = create_engine(scratch_database_url)
    try:
        with engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            with Session(bind=autocommit) as own:
                ledger.account_open(
                    own, code="issuer", asset="POINT", owner_type="platform", allow_negative=True
                )
                ledger.account_open(own, code="a", asset="POINT", owner_type="user")
                result = ledger.entry_post(
                    own,
                    ledger.EntryRequest(
                        "auto-1",
                        "fund",
                        [ledger.PostingRequest("issuer", -5), ledger.PostingRequest("a", 5)],
                    ),
                    now=now,
                )
                assert result.outcome is Outcome.CREATED
                with pytest.raises(LedgerError) as error:
                    ledger.entry_post(
                        own,
                        ledger.EntryRequest(
                            "auto-2",
                            "overdraw",
                            [ledger.PostingRequest("a", -6), ledger.PostingRequest("issuer", 6)],
                        ),
                        now=now,
                    )
                assert error.value.error_code is ErrorCode.INSUFFICIENT_FUNDS
                # The refused entry left nothing behind, and nothing needs rolling back.
                assert own.scalar(sa.select(sa.func.count()).select_from(Entry)) == 1
                assert ledger.balance_of(own, "a").balance == 5
                # Opening a lot is one statement too; drawing on lots takes several, so it needs
                # a transaction.
                ledger.account_open(
                    own, code="lots", asset="POINT", owner_type="user", uses_lots=True
                )
                funded = ledger.entry_post(
                    own,
                    ledger.EntryRequest(
                        "auto-3",
                        "fund",
                        [ledger.PostingRequest("issuer", -5), ledger.PostingRequest("lots", 5)],
                    ),
                    now=now,
                )
                assert funded.lots[0].amount == 5
                with pytest.raises(LedgerError) as error:
                    ledger.entry_post(
                        own,
                        ledger.EntryRequest(
                            "auto-4",
                            "spend",
                            [ledger.PostingRequest("lots", -5), ledger.PostingRequest("issuer", 5)],
                        ),
                        now=now,
                    )
                assert error.value.error_code is ErrorCode.ENTRY_INVALID
    finally:
        engine.dispose()


TRICKY_TEXT = ["", "NULL", "null", " padded ", 'say "hi"', "back\\slash", "a,b", "{x}", "碳汇",
               "\\\"", "tab\there", "new\nline"]  # fmt: skip


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
# Text PostgreSQL can hold: no NUL, and no lone surrogates (they have no UTF-8 encoding).
@given(
    st.lists(
        st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=12),
        max_size=8,
    )
)
def test_an_array_literal_is_read_back_as_the_same_text(session, texts):
    """Codes go to PostgreSQL as one array literal built from the whole string: whatever the text
    (quotes, backslashes, commas, braces, spaces, the word NULL, nothing at all), PostgreSQL
    reads back the same elements."""
    for values in (texts, TRICKY_TEXT):
        read = session.scalar(
            sa.text("SELECT CAST(:values AS text[])"), {"values": array_literal(values)}
        )
        assert read == values


def test_an_array_literal_of_integers_and_what_it_refuses(session):
    read = session.scalar(
        sa.text("SELECT CAST(:values AS bigint[])"), {"values": array_literal([3, -1, 2**62])}
    )
    assert read == [3, -1, 2**62]
    with pytest.raises(ValueError, match="NUL"):
        array_literal(["a\x00b"])
    with pytest.raises(TypeError):
        array_literal([1, "1"])


def test_batches_grow_from_a_small_first_one(monkeypatch):
    """The database starts on a batch an eighth of the largest while the helper prepares the next;
    each batch doubles the one before up to the largest, and together they cover every entry once,
    in order."""
    assert ledger.batch_bounds(0) == []
    assert ledger.batch_bounds(100) == [(0, 100)]
    bounds = ledger.batch_bounds(100_000)
    sizes = [end - start for start, end in bounds]
    assert sizes[:5] == [625, 1_250, 2_500, 5_000, 5_000]
    assert max(sizes) == ledger.ENTRIES_PER_BATCH_MAX
    assert [start for start, _ in bounds] == [0] + [end for _, end in bounds[:-1]]
    assert bounds[-1][1] == 100_000
    monkeypatch.setattr(limits, "ENTRIES_PER_BATCH_MAX", 3)
    assert ledger.batch_bounds(8) == [(0, 1), (1, 3), (3, 6), (6, 8)]


def test_many_batches_are_encoded_while_the_last_one_is_written(
    session, open_account, now, monkeypatch
):
    """``entries_post_many`` posts batch after batch while a helper thread encodes the next: the
    rows, the lots and the answers (in request order, a repeat answering ``EXISTS``) are those of
    the portable path, and a batch that repeats a key is refused (its transaction then rolls
    back, as after any ``LedgerError``)."""
    monkeypatch.setattr(limits, "ENTRIES_PER_BATCH_MAX", 3)
    open_account("issuer", issuer=True)
    for name in ("farm-1", "farm-2", "farm-3"):
        open_account(name, lots=True)
    expires = now + timedelta(days=730)

    def requests(prefix):
        return [
            ledger.EntryRequest(
                f"{prefix}{n}",
                "points_farm_share",
                [ledger.PostingRequest("issuer", -(n + 1)),
                 ledger.PostingRequest(f"farm-{n % 3 + 1}", n + 1, expires_at=expires,
                                       provenance={"rule_id": 1})],
                {"farm": n},
            )
            for n in range(8)
        ]  # fmt: skip

    fast = ledger.entries_post_many(session, requests("one-"), now=now)
    with paths.portable_path(session):
        slow = [
            result
            for start in range(0, 8, 3)
            for result in ledger.entries_post(session, requests("two-")[start : start + 3], now=now)
        ]
    assert [r.key for r in fast] == [f"one-{n}" for n in range(8)]
    assert [r.outcome for r in fast + slow] == [Outcome.CREATED] * 16
    assert rows_of(session, "one-") == rows_of(session, "two-")
    assert [r.lots[0].amount for r in fast] == [n + 1 for n in range(8)]
    again = ledger.entries_post_many(session, requests("one-"), now=now)
    assert [(r.outcome, r.entry_id) for r in again] == [(Outcome.EXISTS, r.entry_id) for r in fast]
    # farm-1 earned 1 + 4 + 7 on each path.
    assert [b.balance for b in balances(session, "farm-1", "farm-2", "farm-3")] == [24, 30, 18]
    repeated = requests("three-")
    repeated[4] = repeated[3]
    with pytest.raises(LedgerError) as error:
        ledger.entries_post_many(session, repeated, now=now)
    assert (error.value.error_code, error.value.field) == (ErrorCode.ENTRY_INVALID, "key")


def test_a_batch_the_statement_cannot_post_goes_its_own_way_between_the_others(
    session, open_account, now, monkeypatch
):
    """Batches are read off the requests one at a time: one that spends a lot (which the one
    statement does not do) is posted by the statements every database runs, between batches
    that take the one statement; a batch half posted before answers ``EXISTS`` for that half;
    and an entry naming an account outside ``account_codes`` is refused by name."""
    monkeypatch.setattr(limits, "ENTRIES_PER_BATCH_MAX", 2)
    open_account("issuer", issuer=True)
    open_account("farm", lots=True)
    expires = now + timedelta(days=730)

    def earning(key, points):
        return ledger.EntryRequest(
            key, "points_farm_share",
            [ledger.PostingRequest("issuer", -points),
             ledger.PostingRequest("farm", points, expires_at=expires)],
        )  # fmt: skip

    spending = ledger.EntryRequest(
        "spend", "points_redeem",
        [ledger.PostingRequest("farm", -3), ledger.PostingRequest("issuer", 3)],
    )  # fmt: skip
    [before] = ledger.entries_post(session, [earning("e2", 20)], now=now)  # e2, posted before
    requests = [earning("e0", 5), earning("e1", 10), spending, earning("e2", 20),
                earning("e3", 40), earning("e4", 80)]  # fmt: skip
    results = ledger.entries_post_many(session, requests, now=now, account_codes=["issuer", "farm"])
    assert [(r.key, r.outcome) for r in results] == [
        ("e0", Outcome.CREATED), ("e1", Outcome.CREATED), ("spend", Outcome.CREATED),
        ("e2", Outcome.EXISTS), ("e3", Outcome.CREATED), ("e4", Outcome.CREATED),
    ]  # fmt: skip
    # The spending took its 3 points from the oldest lot: e2's, posted first.
    assert [(use.lot_id, use.amount) for use in results[2].lots] == [(before.lots[0].lot_id, -3)]
    assert balances(session, "farm")[0].balance == 5 + 10 - 3 + 20 + 40 + 80
    stranger = [earning("s0", 1), earning("s1", 1),
                ledger.EntryRequest("s2", "points_farm_share",
                                    [ledger.PostingRequest("issuer", -1),
                                     ledger.PostingRequest("nobody", 1)])]  # fmt: skip
    with pytest.raises(LedgerError) as error:
        ledger.entries_post_many(session, stranger, now=now, account_codes=["issuer", "farm"])
    assert (error.value.error_code, error.value.field) == (ErrorCode.ACCOUNT_NOT_FOUND, "account")
