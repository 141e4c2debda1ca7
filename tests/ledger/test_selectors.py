"""Worked examples of what the console reads of the journal (``ledger.selectors``).

The journal, with ``now`` = 2026-11-24 08:00 UTC:
    award-alice-1  award     points:issuer -100, alice +100
    award-bob-1    award     points:issuer -7,   bob +7
    spend-alice-1  spend     alice -20,          shop +20
    spend-10%_x    spend     alice -1,           shop +1   (a key with LIKE's wildcards)
"""

import pytest

from ledger import selectors


@pytest.fixture()
def journal(session, open_account, post):
    open_account("points:issuer", issuer=True)
    for code in ("alice", "bob", "shop"):
        open_account(code)
    return {
        key: post(key, source, destination, amount, kind=kind).entry_id
        for key, kind, source, destination, amount in (
            ("award-alice-1", "award", "points:issuer", "alice", 100),
            ("award-bob-1", "award", "points:issuer", "bob", 7),
            ("spend-alice-1", "spend", "alice", "shop", 20),
            ("spend-10%_x", "spend", "alice", "shop", 1),
        )
    }


def keys(session, **search):
    return [entry.idempotency_key for entry in session.scalars(selectors.entries(**search))]


def test_every_entry_newest_first_when_nothing_is_searched(session, journal):
    assert keys(session) == ["spend-10%_x", "spend-alice-1", "award-bob-1", "award-alice-1"]
    assert keys(session, key="", kind="", account="") == keys(session)


def test_search_by_part_of_the_key_kind_and_account(session, journal):
    assert keys(session, key="alice") == ["spend-alice-1", "award-alice-1"]
    # The key's text is matched literally: % and _ are not wildcards.
    assert keys(session, key="10%_") == ["spend-10%_x"]
    assert keys(session, key="%") == ["spend-10%_x"]
    assert keys(session, kind="award") == ["award-bob-1", "award-alice-1"]
    assert keys(session, account="shop") == ["spend-10%_x", "spend-alice-1"]
    assert keys(session, account="alice", kind="award") == ["award-alice-1"]
    assert keys(session, account="nobody") == []


def test_postings_by_entry_in_the_order_posted(session, journal):
    wanted = [journal["award-bob-1"], journal["spend-alice-1"]]
    assert selectors.postings_of(session, entry_ids=wanted) == {
        journal["award-bob-1"]: [("points:issuer", "POINT", -7), ("bob", "POINT", 7)],
        journal["spend-alice-1"]: [("alice", "POINT", -20), ("shop", "POINT", 20)],
    }
    assert selectors.postings_of(session, entry_ids=[]) == {}


def test_the_kinds_of_entry_alphabetically(session, journal):
    assert selectors.entry_kinds(session) == ["award", "spend"]
