"""Worked examples of what other packages read of the credit registry
(``ledger.credits.selectors``).

The registry, with ``now`` = 2026-11-24 08:00 UTC:
    Qingpu  (310118)  batch 2024: serials 1,000,001-1,001,850 (1,850 t)
                      batch 2025: serials 1,001,851-1,003,560 (1,710 t)
    Jiashan (330421)  batch 2024: serials 3,000,001-3,000,960 (960 t)
                      batch 2025: serials 3,000,961-3,002,220 (1,260 t)
    retired  R-OCT    5 t of Qingpu 2024, on the registry's date 2026-10-31
             R-NOV    3 t of Jiashan 2025, on 2026-11-01
    allocated lot-1   250,003 g at 2026-10-31 17:00 UTC (1 November, 01:00 in Shanghai)
              lot-2   1,000 g now (November)
"""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import NoResultFound

from ledger import credits
from ledger.credits import selectors
from service.base.units import SHANGHAI

EXAMPLES = Path(__file__).parents[3] / "examples" / "credits"
QINGPU_2024, QINGPU_2025, JIASHAN_2024, JIASHAN_2025 = 1_000_001, 1_001_851, 3_000_001, 3_000_961
LATE_OCTOBER_UTC = datetime(2026, 10, 31, 17, 0, tzinfo=UTC)


def load(session, now):
    for name in ("qingpu.json", "jiashan.json"):
        credits.import_file(
            session, content=(EXAMPLES / name).read_bytes(), file_format="json",
            filename=name, now=now,
        )  # fmt: skip


@pytest.fixture()
def registry(claimant, session, now):
    load(session, now)
    retirements = {}
    for reference, serial, tonnes, retired_on in (
        ("R-OCT", QINGPU_2024, 5, date(2026, 10, 31)),
        ("R-NOV", JIASHAN_2025, 3, date(2026, 11, 1)),
    ):
        batch = selectors.batch_id_at(session, serial_start=serial)
        retirements[reference] = credits.retire(
            session, beneficiary_organisation_id=claimant.id, registry_code="YRD-CI",
            registry_reference=reference, beneficiary="上海某米业有限公司",
            purpose="碳中和标签", retired_on=retired_on,
            lines=[credits.RetirementLine(batch, tonnes)], now=now,
        ).retirement  # fmt: skip
    for key, grams, at in (("lot-1", 250_003, LATE_OCTOBER_UTC), ("lot-2", 1_000, now)):
        credits.allocate(session, claimant_organisation_id=claimant.id,
                         key=key, target_type="label_lot", target_id=key,
                         quantity_g=grams, now=at)  # fmt: skip
    return retirements


def test_an_empty_registry_counts_zero(session):
    assert selectors.registry_figures(session) == selectors.RegistryFigures(
        issued_t=0, retired_t=0, allocated_g=0, projects=0, batches=0
    )
    assert selectors.credits_by_month(session, zone=SHANGHAI) == selectors.CreditMonths()
    assert selectors.projects_all(session) == []
    assert selectors.imports_recent(session, limit=10) == []


def test_the_registry_in_numbers(session, registry):
    assert selectors.registry_figures(session) == selectors.RegistryFigures(
        issued_t=1_850 + 1_710 + 960 + 1_260,
        retired_t=5 + 3,
        allocated_g=250_003 + 1_000,
        projects=2,
        batches=4,
    )


def test_months_are_the_registry_date_for_retirements_and_the_zone_for_allocations(
    session, registry
):
    # lot-1 was allocated on 31 October in UTC, but on 1 November in Shanghai.
    assert selectors.credits_by_month(session, zone=SHANGHAI) == selectors.CreditMonths(
        retired_t={"2026-10": 5, "2026-11": 3},
        allocated_g={"2026-11": 251_003},
    )
    assert selectors.credits_by_month(session, zone=UTC).allocated_g == {
        "2026-10": 250_003,
        "2026-11": 1_000,
    }


def test_lists_are_statements_in_their_order_and_filtered(session, registry):
    projects = session.scalars(selectors.projects()).all()
    assert [project.region_code for project in projects] == ["310118", "330421"]
    assert selectors.projects_all(session) == projects
    (jiashan,) = session.scalars(selectors.projects(region_code="330421")).all()
    assert session.scalars(selectors.projects(region_code="110000")).all() == []

    def serials(statement):
        return [batch.serial_start for batch in session.scalars(statement)]

    assert serials(selectors.batches()) == [QINGPU_2024, QINGPU_2025, JIASHAN_2024, JIASHAN_2025]
    assert serials(selectors.batches(vintage=2025)) == [QINGPU_2025, JIASHAN_2025]
    assert serials(selectors.batches(project_id=jiashan.id, vintage=2024)) == [JIASHAN_2024]
    rows = session.execute(selectors.batches_with_projects()).all()
    assert [(batch.serial_start, project.region_code) for batch, project in rows] == [
        (JIASHAN_2025, "330421"),
        (JIASHAN_2024, "330421"),
        (QINGPU_2025, "310118"),
        (QINGPU_2024, "310118"),
    ]
    newest_first = session.scalars(selectors.retirements()).all()
    assert [row.registry_reference for row in newest_first] == ["R-NOV", "R-OCT"]


def test_single_records_by_id_or_none(session, registry):
    october = registry["R-OCT"]
    assert selectors.retirement(session, retirement_id=october.id) is october
    assert selectors.retirement(session, retirement_id=october.id + 100) is None
    first = selectors.projects_all(session)[0]
    assert selectors.project(session, project_id=first.id) is first
    assert selectors.project(session, project_id=first.id + 100) is None


def test_batches_named_by_their_serials(session, registry):
    ids = [batch.id for batch in session.scalars(selectors.batches())]
    assert selectors.batch_id_at(session, serial_start=JIASHAN_2024) == ids[2]
    with pytest.raises(NoResultFound):
        selectors.batch_id_at(session, serial_start=JIASHAN_2024 + 1)
    # Only Jiashan's serials start above three million.
    assert selectors.batch_ids_starting_above(session, serial_start=3_000_000) == ids[2:]
    assert selectors.batch_ids_starting_above(session, serial_start=3_000_961) == []


def test_farms_by_code_pattern(session, registry):
    farms = selectors.farms_coded(session, pattern="JS-%")
    assert [code for _, code in farms] == ["JS-YZ-01", "JS-XT-02", "JS-TZ-03"]
    assert [farm_id for farm_id, _ in farms] == sorted(farm_id for farm_id, _ in farms)
    assert selectors.farms_coded(session, pattern="XX-%") == []


def test_the_latest_imports_newest_first(session, registry):
    recent = selectors.imports_recent(session, limit=10)
    assert [row.filename for row in recent] == ["jiashan.json", "qingpu.json"]
    assert [row.filename for row in selectors.imports_recent(session, limit=1)] == ["jiashan.json"]
