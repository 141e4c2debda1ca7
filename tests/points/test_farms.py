"""Farm benefit-sharing: a label lot's allocation draws on Qingpu's batch, and the batch's farms
earn points pro rata to their shares, exactly, once."""

import gc
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from ledger import credits
from ledger import entries as ledger
from ledger.entries import limits
from points import accounts, farms, rules
from points.models import FarmDistribution
from service import commands

EXAMPLES = Path(__file__).parents[2] / "examples" / "credits"
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_the_split_loses_no_point_and_follows_the_largest_remainders():
    # 7 points at 40 / 35 / 25 %: 2.8, 2.45, 1.75 → 2, 2, 1, and the 2 left over go to the
    # largest fractions (0.8 and 0.75).
    assert farms.split(7, [(5, 400_000), (6, 350_000), (9, 250_000)]) == {5: 3, 6: 2, 9: 2}
    assert farms.split(10, [(1, 333_334), (2, 333_333), (3, 333_333)]) == {1: 4, 2: 3, 3: 3}
    with pytest.raises(ValueError):
        farms.split(1, [(1, 999_999)])


@given(
    total=st.integers(min_value=0, max_value=10**9),
    parts=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=30),
)
def test_any_split_adds_up_exactly(total, parts):
    scale = sum(parts)
    ppm = [part * 1_000_000 // scale for part in parts]
    ppm[0] += 1_000_000 - sum(ppm)
    if ppm[0] <= 0:
        return
    shares = list(zip(range(1, len(ppm) + 1), ppm, strict=True))
    result = farms.split(total, shares)
    assert sum(result.values()) == total
    for farm, share in shares:  # nobody is more than one point from their exact share
        assert abs(result[farm] - total * share / 1_000_000) < 1


@pytest.fixture()
def allocation(claimant, session, make_organisation):
    """Qingpu imported, QP-LT-01 linked to a registered farm, 1 t retired, 250 kg allocated."""
    credits.import_file(
        session, content=(EXAMPLES / "qingpu.json").read_bytes(), file_format="json", now=NOW
    )
    farm = make_organisation("farm", uscc=None)
    credits.farm_link(
        session, project_external_id="YRDCI-QP-2023-001", farm_code="QP-LT-01",
        organisation_id=farm.id,
    )  # fmt: skip
    batch = session.scalar(sa.text("SELECT id FROM credit_batches WHERE vintage = 2024"))
    credits.retire(
        session,
        beneficiary_organisation_id=claimant.id,
        registry_code="YRD-CI",
        registry_reference="R-FARMS",
        beneficiary="上海某米业有限公司",
        purpose="碳中和标签",
        retired_on=date(2026, 11, 1),
        lines=[credits.RetirementLine(batch, 1)],
        now=NOW,
    )
    result = credits.allocate(
        session,
        claimant_organisation_id=claimant.id,
        key="lot-9",
        target_type="label_lot",
        target_id="9",
        quantity_g=250_003,
        now=NOW,
    )
    rules.rule_publish(
        session,
        event_type="farm_share",
        values={"formula": {"kind": "per_kg_co2e", "points_per_kg": "2"}, "validity_days": 730},
        user_id=None,
        now=NOW,
    )
    return result.allocation_id, farm


@pytest.mark.parametrize("entries_per_batch", [3, ledger.ENTRIES_PER_BATCH_MAX])
def test_farms_earn_their_shares_of_an_allocation_once(
    session, allocation, entries_per_batch, monkeypatch
):
    """The same shares whether the four earnings go to the ledger in one batch or in two (on
    PostgreSQL a helper thread builds and encodes the second while the first is written)."""
    monkeypatch.setattr(limits, "ENTRIES_PER_BATCH_MAX", entries_per_batch)
    allocation_id, farm = allocation
    paid = farms.distribute(session, allocation_id=allocation_id, now=NOW)
    # 250.003 kg × 2 points per kg = 500.006 → 500 points, split 31.5 / 27.25 / 22.75 / 18.5 %.
    assert paid == 500
    linked = ledger.balance_of(session, accounts.account_code("organisation", farm.id)).balance
    assert linked == 158  # 157.5, and it has the largest remainder among the halves
    unlinked = ledger.balance_of(session, farms.UNLINKED_ACCOUNT).balance
    assert linked + unlinked == 500
    assert farms.distribute(session, allocation_id=allocation_id, now=NOW) == 0
    assert farms.distribute_pending(session, now=NOW) == 0


def test_a_distribution_run_by_the_command_has_the_cycle_collector_paused(
    app, session, allocation, monkeypatch
):
    """A distribution makes many short-lived objects: the process that runs one (``tanhui points
    distribute``) pauses the collector around it, and the collector runs again afterwards. The
    domain function itself leaves the collector alone. (What the command does outside the
    distribution, committing and rewarding purchases, runs with the collector as usual, so the
    test asks how the collector stood while the distribution ran.)"""
    allocation_id, _ = allocation
    collector_running = []
    distribute_pending = commands.distribute_pending

    def watched(*args, **kwargs):
        collector_running.append(gc.isenabled())
        return distribute_pending(*args, **kwargs)

    monkeypatch.setattr(commands, "distribute_pending", watched)
    result = app.test_cli_runner().invoke(args=["points", "distribute"])
    assert result.exit_code == 0, result.output
    assert "1 allocations distributed to their farms" in result.output
    assert collector_running == [False]
    assert gc.isenabled()
    assert session.get(FarmDistribution, allocation_id).points == 500
