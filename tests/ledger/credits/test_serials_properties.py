"""Property: over any sequence of retirements, label lots and personal offsets, no gram of any
serial is allocated twice, every part stays inside its retired range and retirement, each range's
allocated grams are its lowest ones, and ``ledger verify`` agrees."""

from collections import Counter, defaultdict
from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import credits
from ledger.credits import RetirementLine
from ledger.credits.models import CreditAllocationPart, CreditSerialRange
from ledger.credits.serials import serial_span
from ledger.errors import CreditError, ErrorCode
from ledger.verify import ledger_verify
from tests.ledger.credits.test_credits import batch_at, example

T = 1_000_000
CLAIMANTS = ("甲米业有限公司", "乙米业有限公司")
#: The Qingpu file's two batches, by their first serial.
BATCH_STARTS = (1_000_001, 1_001_851)
grams = st.one_of(
    st.integers(min_value=1, max_value=4 * T),
    st.sampled_from([T, 250_000, 6_250_000, T - 1, T + 1]),
)
operations = st.one_of(
    st.tuples(st.just("retire"), st.sampled_from(BATCH_STARTS), st.integers(1, 4)),
    st.tuples(st.just("label_lot"), grams),
    st.tuples(st.just("personal_offset"), grams),
)


@pytest.fixture()
def imported(session, now):
    credits.import_file(session, content=example("qingpu.json"), file_format="json", now=now)
    return {start: batch_at(session, start).id for start in BATCH_STARTS}


@pytest.fixture()
def claimants(make_organisation):
    """Two enterprises: each retirement is made for one of them, each claim by one of them."""
    return [make_organisation(name=name).id for name in CLAIMANTS]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(operations, min_size=1, max_size=12))
def test_no_gram_of_any_serial_is_allocated_twice(session, now, imported, claimants, steps):
    with session.begin_nested() as example_run:
        run(session, now, imported, claimants, steps)
        example_run.rollback()


def run(session, now, batches, claimants, steps):
    retired_g, allocated_g = Counter(), Counter()
    for number, step in enumerate(steps):
        # The claimant of a step: the two enterprises in turn.
        party = claimants[number % len(claimants)]
        if step[0] == "retire":
            _, start, tonnes = step
            credits.retire(
                session,
                beneficiary_organisation_id=party,
                registry_code="YRD-CI",
                registry_reference=f"R-{number}",
                beneficiary=CLAIMANTS[number % len(claimants)],
                purpose="碳中和标签",
                retired_on=date(2026, 11, 1),
                lines=[RetirementLine(batches[start], tonnes)],
                now=now,
            )
            retired_g[party] += tonnes * T
            continue
        target_type, quantity_g = step
        try:
            credits.allocate(
                session,
                claimant_organisation_id=party,
                key=f"k-{number}",
                target_type=target_type,
                target_id=f"t-{number}",
                quantity_g=quantity_g,
                now=now,
            )
        except CreditError as error:
            assert error.error_code is ErrorCode.CREDITS_INSUFFICIENT
            # Only ever short of the claimant's own retired grams, whatever the other holds.
            assert quantity_g > retired_g[party] - allocated_g[party]
            continue
        allocated_g[party] += quantity_g
    session.flush()
    check(session, sum(retired_g.values()), sum(allocated_g.values()))


def check(session, retired_g, allocated_g):
    ranges = {
        piece.id: piece
        for piece in session.scalars(
            sa.select(CreditSerialRange).where(CreditSerialRange.status == "retired")
        )
    }
    per_serial: Counter[int] = Counter()
    per_range = defaultdict(list)
    for part in session.scalars(sa.select(CreditAllocationPart)):
        piece = ranges[part.range_id]
        assert part.retirement_id == piece.retirement_id
        assert 0 <= part.start_g < part.end_g <= piece.quantity_t * T
        span = serial_span(piece.serial_start, part.start_g, part.end_g)
        assert piece.serial_start <= span.serial_start <= span.serial_end <= piece.serial_end
        per_serial[span.serial_start] += span.first_serial_g
        if span.serial_end != span.serial_start:
            per_serial[span.serial_end] += span.last_serial_g
            for serial in range(span.serial_start + 1, span.serial_end):
                per_serial[serial] += T
        per_range[part.range_id].append((part.start_g, part.end_g))
    assert all(grams <= T for grams in per_serial.values())
    assert sum(per_serial.values()) == allocated_g
    for intervals in per_range.values():
        # Lowest grams first: a range's parts tile a prefix of its gram line.
        cursor = 0
        for start_g, end_g in sorted(intervals):
            assert start_g == cursor
            cursor = end_g
    assert sum(piece.quantity_t for piece in ranges.values()) * T == retired_g
    result = ledger_verify(session)
    assert result.ok, result.problems
