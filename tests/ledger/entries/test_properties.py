"""Property: whatever sequence of operations clients send, every invariant holds after each one,
refused operations change nothing, and balances are exactly what the accepted ones imply."""

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import entries as ledger
from ledger.errors import LedgerError, Outcome
from ledger.verify import ledger_verify
from tests.ledger.conftest import dict_sum

ACCOUNTS = ["alice", "bob", "carol"]
amounts = st.integers(min_value=1, max_value=120)
who = st.sampled_from(ACCOUNTS)
operations = st.one_of(
    st.tuples(st.just("issue"), who, amounts, st.integers(min_value=1, max_value=5)),
    st.tuples(st.just("transfer"), who, who, amounts),
    st.tuples(st.just("hold"), who, who, amounts),
    st.tuples(st.just("post_hold"), st.integers(min_value=0, max_value=9), st.booleans()),
    st.tuples(st.just("void_hold"), st.integers(min_value=0, max_value=9)),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=19)),
    st.tuples(st.just("advance"), st.integers(min_value=1, max_value=3)),
    st.tuples(
        st.just("retry_last"),
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operations, min_size=1, max_size=25))
def test_invariants_hold_over_any_sequence(session, now, steps):
    with session.begin_nested() as example:
        run(session, now, steps)
        example.rollback()


def run(session, start, steps):
    for code in ACCOUNTS:
        ledger.account_open(session, code=code, asset="POINT", owner_type="user", uses_lots=True)
    ledger.account_open(
        session, code="issuer", asset="POINT", owner_type="platform", allow_negative=True
    )
    sinks = ledger.expiry_sinks_open(session)
    expected: Counter[str] = Counter()
    holds: list[int] = []
    entries: list[int] = []
    last = None
    now = start
    for number, step in enumerate(steps):
        key = f"op-{number}"

        def transfer(source, destination, amount, key=key, now=now, **credit):
            return ledger.entry_post(
                session,
                ledger.EntryRequest(
                    key,
                    "transfer",
                    [
                        ledger.PostingRequest(source, -amount),
                        ledger.PostingRequest(destination, amount, **credit),
                    ],
                ),
                now=now,
            )

        action = step[0]
        try:
            with session.begin_nested():
                if action == "issue":
                    _, to, amount, days = step
                    last = lambda to=to, amount=amount, days=days, key=key: transfer(  # noqa: E731
                        "issuer", to, amount, key=key, expires_at=start + timedelta(days=days)
                    )
                    result = last()
                elif action == "transfer":
                    _, source, destination, amount = step
                    last = lambda s=source, d=destination, a=amount, key=key: transfer(  # noqa: E731
                        s, d, a, key=key
                    )
                    result = last()
                elif action == "hold":
                    _, source, destination, amount = step
                    held = ledger.hold_create(
                        session,
                        key=key,
                        account=source,
                        destination=destination,
                        amount=amount,
                        now=now,
                        expires_at=now + timedelta(days=2),
                    )
                    holds.append(held.hold_id)
                    result = None
                elif action == "post_hold" and holds:
                    _, index, partial = step
                    hold_id = holds[index % len(holds)]
                    from ledger.models import Hold

                    hold = session.get(Hold, hold_id)
                    amount = max(1, hold.amount // 2) if partial else None
                    result = ledger.hold_post(
                        session, hold_id=hold_id, key=key, amount=amount, now=now
                    )
                elif action == "void_hold" and holds:
                    ledger.hold_void(session, hold_id=holds[step[1] % len(holds)], now=now)
                    result = None
                elif action == "reverse" and entries:
                    result = ledger.entry_reverse(
                        session, entry_id=entries[step[1] % len(entries)], key=key, now=now
                    )
                elif action == "advance":
                    now = now + timedelta(days=step[1])
                    ledger.holds_expire(session, now=now)
                    for expiry in ledger.lots_expire(session, now=now, sink_for_asset=sinks):
                        expected.update(dict_sum(expiry.postings))
                    result = None
                elif action == "retry_last" and last is not None:
                    again = last()
                    assert again.outcome is Outcome.EXISTS
                    result = None
                else:
                    result = None
        except LedgerError:
            result = None
        if result is not None and result.outcome is Outcome.CREATED:
            expected.update(dict_sum(result.postings))
            entries.append(result.entry_id)
        for code in [*ACCOUNTS, "issuer", sinks["POINT"]]:
            assert ledger.balance_of(session, code).balance == expected[code], (step, code)
    report = ledger_verify(session)
    assert report.ok, report.problems
