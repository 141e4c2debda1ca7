"""Exact serials, worked through: one serial is one tonne, and each allocation names the serials
it took, with the grams of the first and last when they are partial; the next allocation starts
where the last one stopped, inside the same serial."""

import json
from datetime import date

import pytest
import sqlalchemy as sa

from ledger import credits
from ledger.credits import RetirementLine
from ledger.credits.serials import free_intervals, intervals_take, serial_span
from ledger.tlog import leaf_proof, log_sequence
from service.base.parties.models import Organisation
from tests.ledger.credits.test_credits import batch_at, example

T = 1_000_000  # grams per tonne, and per serial


LIANTA = "青浦练塘大米有限公司"


@pytest.fixture()
def retired_300_t(session, now, make_organisation):
    """Qingpu's file imported and 300 t of its 2024 batch retired for Lianta: serials
    1000001–1000300."""
    lianta = make_organisation(name=LIANTA)
    credits.import_file(session, content=example("qingpu.json"), file_format="json", now=now)
    return credits.retire(
        session,
        beneficiary_organisation_id=lianta.id,
        registry_code="YRD-CI",
        registry_reference="YRDCI-R-2026-0001",
        beneficiary="青浦练塘大米有限公司",
        purpose="练塘大米碳中和标签",
        retired_on=date(2026, 11, 1),
        lines=[RetirementLine(batch_at(session, 1_000_001).id, 300)],
        now=now,
    ).retirement


def lot(session, now, key, quantity_g):
    """A lot of Lianta's, the claimant of every lot here."""
    lianta = session.scalar(sa.select(Organisation.id).where(Organisation.name == LIANTA))
    return credits.allocate(
        session, claimant_organisation_id=lianta, key=key, target_type="label_lot",
        target_id=key, quantity_g=quantity_g, now=now,
    )  # fmt: skip


def shown(part):
    return (part.serial_start, part.serial_end, part.first_serial_g, part.last_serial_g)


def test_a_lot_of_6_25_t_takes_six_serials_whole_and_a_quarter_of_the_seventh(
    session, now, retired_300_t
):
    first = lot(session, now, "TL2026A", 6_250_000)

    # Serials 1000001–1000006 whole and 250,000 g of 1000007: never the retirement's 300.
    assert [shown(part) for part in first.parts] == [(1_000_001, 1_000_007, T, 250_000)]
    assert (first.parts[0].start_g, first.parts[0].end_g) == (0, 6_250_000)


def test_the_next_lot_starts_where_the_last_one_stopped_inside_a_serial(
    session, now, retired_300_t
):
    lot(session, now, "TL2026A", 6_250_000)
    second = lot(session, now, "TL2026B", 3 * T)
    third = lot(session, now, "TL2026C", 500_000)

    # 750,000 g of 1000007, 1000008–1000009 whole, 250,000 g of 1000010.
    assert [shown(part) for part in second.parts] == [(1_000_007, 1_000_010, 750_000, 250_000)]
    assert (second.parts[0].from_g, second.parts[0].to_g) == (250_000, 250_000)
    # Inside one serial: 500,000 g of 1000010, from its 250,000th gram.
    assert [shown(part) for part in third.parts] == [(1_000_010, 1_000_010, 500_000, 500_000)]
    assert (third.parts[0].start_g, third.parts[0].end_g) == (9_250_000, 9_750_000)


def test_a_lot_larger_than_a_retired_range_takes_the_next_range_from_its_start(
    session, now, retired_300_t
):
    credits.retire(
        session,
        beneficiary_organisation_id=retired_300_t.beneficiary_organisation_id,
        registry_code="YRD-CI",
        registry_reference="YRDCI-R-2026-0002",
        beneficiary="青浦练塘大米有限公司",
        purpose="练塘大米碳中和标签",
        retired_on=date(2026, 11, 2),
        lines=[RetirementLine(batch_at(session, 1_000_001).id, 10)],
        now=now,
    )
    lot(session, now, "big", 299 * T + 400_000)
    spill = lot(session, now, "spill", 1 * T)

    # The last 600,000 g of 1000300, then 400,000 g of the next retirement's 1000301.
    assert [shown(part) for part in spill.parts] == [
        (1_000_300, 1_000_300, 600_000, 600_000),
        (1_000_301, 1_000_301, 400_000, 400_000),
    ]


def test_the_log_leaf_names_the_exact_serials(session, now, retired_300_t, signer, origin):
    lot(session, now, "TL2026A", 6_250_000)
    allocation = lot(session, now, "TL2026B", 1_000_000)
    log_sequence(session, signer=signer, origin=origin, now=now)

    bundle = leaf_proof(session, kind="credits.allocation", source_id=str(allocation.allocation_id))
    assert json.loads(bundle["leaf_data"])["parts"] == [
        {
            "retirement_id": retired_300_t.id,
            "serial_start": 1_000_007,
            "serial_end": 1_000_008,
            "from_g": 250_000,
            "to_g": 250_000,
            "quantity_g": T,
        }
    ]


@pytest.mark.parametrize(
    ("start_g", "end_g", "expected"),
    [
        # (serial_start, serial_end, from_g, to_g, first_serial_g, last_serial_g)
        (0, 6_250_000, (1_000_001, 1_000_007, 0, 250_000, T, 250_000)),
        (6_250_000, 6_500_000, (1_000_007, 1_000_007, 250_000, 500_000, 250_000, 250_000)),
        (6_250_000, 10_000_000, (1_000_007, 1_000_010, 250_000, T, 750_000, T)),
        (0, 1, (1_000_001, 1_000_001, 0, 1, 1, 1)),
        (T - 1, T + 1, (1_000_001, 1_000_002, T - 1, 1, 1, 1)),
        (T, 2 * T, (1_000_002, 1_000_002, 0, T, T, T)),
    ],
)
def test_a_parts_offsets_name_its_serials(start_g, end_g, expected):
    span = serial_span(1_000_001, start_g, end_g)
    assert (
        span.serial_start,
        span.serial_end,
        span.from_g,
        span.to_g,
        span.first_serial_g,
        span.last_serial_g,
    ) == expected
    assert span.quantity_g == end_g - start_g


@pytest.mark.parametrize(("start_g", "end_g"), [(5, 5), (6, 5), (-1, 3)])
def test_an_empty_or_reversed_part_is_no_part(start_g, end_g):
    with pytest.raises(ValueError):
        serial_span(1_000_001, start_g, end_g)


def test_draws_take_the_lowest_free_grams_first():
    free = free_intervals(10 * T, [(2 * T, 3 * T), (0, T + 500_000)])
    assert free == [(T + 500_000, 2 * T), (3 * T, 10 * T)]
    assert intervals_take(free, T) == [(T + 500_000, 2 * T), (3 * T, 3 * T + 500_000)]
    assert intervals_take(free, 100 * T) == free
