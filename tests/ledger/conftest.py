"""Ledger fixtures: a clock, an account factory, and the log's signer."""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from ledger import entries as ledger
from ledger.tlog.note import parse_signer_key
from tests.conftest import TEST_LOG_KEY, TEST_LOG_ORIGIN

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


@pytest.fixture()
def now():
    return T0


@pytest.fixture()
def signer():
    return parse_signer_key(TEST_LOG_KEY)


@pytest.fixture()
def origin():
    return TEST_LOG_ORIGIN


@pytest.fixture()
def open_account(session):
    """Open an account: ``open_account("alice", "POINT", lots=True)``."""

    def make(code, asset="POINT", *, issuer=False, lots=False):
        return ledger.account_open(
            session,
            code=code,
            asset=asset,
            owner_type="platform" if issuer else "user",
            allow_negative=issuer,
            uses_lots=lots,
        )

    return make


@pytest.fixture()
def post(session, now):
    """Post a two-legged transfer: ``post("k1", "issuer", "alice", 100)``."""

    def transfer(key, source, destination, amount, *, at=None, kind="transfer", **credit):
        request = ledger.EntryRequest(
            key=key,
            kind=kind,
            postings=[
                ledger.PostingRequest(source, -amount),
                ledger.PostingRequest(destination, amount, **credit),
            ],
        )
        return ledger.entry_post(session, request, now=at or now)

    return transfer


def balance(session, code):
    return ledger.balance_of(session, code).balance


def available(session, code):
    return ledger.balance_of(session, code).available


def days(n):
    return timedelta(days=n)


def dict_sum(postings):
    """Net amount per account of ``(account, amount)`` pairs (an account may appear twice)."""
    total = Counter()
    for account, amount in postings:
        total[account] += amount
    return total
