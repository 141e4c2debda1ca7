"""``ledger verify`` checks the sink-credit invariants too: serials conserved and never
overlapping, retirements holding their tonnes, allocations within what was retired."""

from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import credits
from ledger.credits import RetirementLine
from ledger.verify import ledger_verify
from tests.ledger.test_verify import unprotect

EXAMPLES = Path(__file__).parents[3] / "examples" / "credits"
T = 1_000_000


@pytest.fixture()
def holdings(claimant, session, now):
    """The Qingpu file imported, 100 t of its 2024 batch retired, 30 t of those allocated."""
    credits.import_file(
        session,
        content=(EXAMPLES / "qingpu.json").read_bytes(),
        file_format="json",
        now=now,
    )
    batch_id = session.scalar(sa.text("SELECT id FROM credit_batches WHERE vintage = 2024"))
    credits.retire(
        session,
        beneficiary_organisation_id=claimant.id,
        registry_code="YRD-CI",
        registry_reference="R-1",
        beneficiary="上海某米业有限公司",
        purpose="碳中和标签",
        retired_on=date(2026, 11, 1),
        lines=[RetirementLine(batch_id, 100)],
        now=now,
    )
    credits.allocate(
        session,
        claimant_organisation_id=claimant.id,
        key="a",
        target_type="label_lot",
        target_id="L1",
        quantity_g=30 * T,
        now=now,
    )
    session.flush()
    return session


def test_honest_holdings_verify(holdings):
    result = ledger_verify(holdings)
    assert result.ok, result.problems
    for name in (
        "credit serials are conserved",
        "credit serials never overlap",
        "retirements hold their tonnes",
        "allocations stay within retirements",
        "allocations trace to retirements",
        "no gram of a serial is allocated twice",
        "allocation parts stay inside their ranges",
        "allocations draw on their claimant's retirements",
    ):
        assert result.checks[name] == 0
    assert result.known == []


CORRUPTIONS = {
    "credit serials are conserved": (
        None,
        ["UPDATE credit_serial_ranges SET serial_end = serial_end - 1 WHERE status = 'available'"],
    ),
    "credit serials never overlap": (
        None,
        [
            "INSERT INTO credit_serial_ranges (batch_id, serial_start, serial_end, status) "
            "SELECT batch_id, serial_start, serial_start, 'available' FROM credit_serial_ranges "
            "WHERE status = 'retired'"
        ],
    ),
    "retirements hold their tonnes": (
        None,
        [
            "UPDATE credit_serial_ranges SET serial_end = serial_end - 1 WHERE status = 'retired'",
            "UPDATE credit_serial_ranges SET serial_start = serial_start - 1 "
            "WHERE status = 'available'",
        ],
    ),
    "allocations stay within retirements": (
        None,
        [
            "INSERT INTO credit_allocation_parts (allocation_id, range_id, retirement_id, "
            "quantity_g, start_g, end_g) SELECT allocation_id, range_id, retirement_id, "
            "71000000, 30000000, 101000000 FROM credit_allocation_parts"
        ],
    ),
    "allocations trace to retirements": (
        "credit_allocation_parts",
        ["DELETE FROM credit_allocation_parts"],
    ),
    # Every sum still agrees: the part moves past its range's 100 t, grams it does not have.
    "allocation parts stay inside their ranges": (
        "credit_allocation_parts",
        [
            "UPDATE credit_allocation_parts "
            "SET start_g = start_g + 80000000, end_g = end_g + 80000000"
        ],
    ),
    # A null claimant escapes the composite foreign keys (MATCH SIMPLE); the audit does not.
    "allocations draw on their claimant's retirements": (
        "credit_allocation_parts",
        ["UPDATE credit_allocation_parts SET claimant_organisation_id = NULL"],
    ),
}


@pytest.mark.parametrize("check", sorted(CORRUPTIONS))
def test_tampering_with_credits_is_found(holdings, check):
    table, statements = CORRUPTIONS[check]
    if table:
        unprotect(holdings, table)
    for statement in statements:
        holdings.execute(sa.text(statement))

    result = ledger_verify(holdings)
    assert not result.ok
    assert result.checks[check] >= 1, result.problems


def _second_allocation(session, claimant, now):
    """A second lot of 5 t: it takes grams 30,000,000–35,000,000 of the retired range."""
    credits.allocate(
        session, claimant_organisation_id=claimant.id, key="b", target_type="label_lot",
        target_id="L2", quantity_g=5 * T, now=now,
    )  # fmt: skip
    session.flush()


def test_a_gram_allocated_twice_is_found(holdings, claimant, now):
    """The second lot's part is moved onto grams the first already has: every total still
    agrees, only the grams of serials 1000001–1000005 are now claimed twice."""
    _second_allocation(holdings, claimant, now)
    unprotect(holdings, "credit_allocation_parts")
    if holdings.get_bind().dialect.name == "postgresql":
        # The database refuses it first (next test); drop its guard to reach the audit.
        holdings.execute(
            sa.text(
                "ALTER TABLE credit_allocation_parts "
                "DROP CONSTRAINT ex_credit_allocation_parts_no_shared_gram"
            )
        )
    holdings.execute(
        sa.text(
            "UPDATE credit_allocation_parts SET start_g = 0, end_g = 5000000 "
            "WHERE start_g = 30000000"
        )
    )

    result = ledger_verify(holdings)
    assert result.checks["no gram of a serial is allocated twice"] == 1, result.problems
    assert result.checks["allocations stay within retirements"] == 0
    assert any("already allocated" in problem for problem in result.problems)


def test_postgresql_refuses_two_parts_sharing_a_gram(holdings, claimant, now):
    if holdings.get_bind().dialect.name != "postgresql":
        pytest.skip("the EXCLUDE constraint (btree_gist) is PostgreSQL's")
    _second_allocation(holdings, claimant, now)
    unprotect(holdings, "credit_allocation_parts")
    with pytest.raises(sa.exc.IntegrityError, match="no_shared_gram"):
        with holdings.begin_nested():
            holdings.execute(
                sa.text(
                    "UPDATE credit_allocation_parts SET start_g = 29999999, end_g = 34999999 "
                    "WHERE start_g = 30000000"
                )
            )


@pytest.mark.parametrize(
    ("start_g", "end_g"), [(5, 5), (-1, 4), (7, 3)], ids=["empty", "negative", "reversed"]
)
def test_the_database_refuses_a_part_that_is_not_an_interval(holdings, start_g, end_g):
    with pytest.raises(sa.exc.IntegrityError):
        with holdings.begin_nested():
            holdings.execute(
                sa.text(
                    "INSERT INTO credit_allocation_parts (allocation_id, range_id, "
                    "retirement_id, quantity_g, start_g, end_g) SELECT allocation_id, range_id, "
                    "retirement_id, :quantity_g, :start_g, :end_g FROM credit_allocation_parts"
                ),
                {"quantity_g": max(end_g - start_g, 1), "start_g": start_g, "end_g": end_g},
            )


def _beneficiary_change(session, organisation_id):
    """Say the retirement was made for another organisation, past the composite foreign key
    (dropped on PostgreSQL, deferred on SQLite: the test's transaction is rolled back)."""
    unprotect(session, "credit_retirements")
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            sa.text(
                "ALTER TABLE credit_allocation_parts "
                "DROP CONSTRAINT fk_credit_allocation_parts_claimant_is_beneficiary"
            )
        )
    else:
        session.execute(sa.text("PRAGMA defer_foreign_keys = ON"))
    session.execute(
        sa.text("UPDATE credit_retirements SET beneficiary_organisation_id = :o"),
        {"o": organisation_id},
    )


def test_the_database_refuses_a_retirement_changing_its_beneficiary(holdings, make_organisation):
    other = make_organisation("enterprise")
    unprotect(holdings, "credit_retirements")
    with pytest.raises(sa.exc.IntegrityError), holdings.begin_nested():
        holdings.execute(
            sa.text("UPDATE credit_retirements SET beneficiary_organisation_id = :o"),
            {"o": other.id},
        )


def test_an_allocation_on_another_beneficiarys_retirement_fails_verify(holdings, make_organisation):
    other = make_organisation("enterprise")
    _beneficiary_change(holdings, other.id)

    result = ledger_verify(holdings)

    assert not result.ok
    assert result.checks["allocations draw on their claimant's retirements"] == 1
    assert "draws on retirement" in result.problems[0]


def test_a_recorded_finding_is_reported_not_failed(holdings, make_organisation):
    """Migration 0017 records what it found; the audit lists it as known and passes."""
    other = make_organisation("enterprise")
    _beneficiary_change(holdings, other.id)
    holdings.execute(
        sa.text(
            "INSERT INTO credit_allocation_findings (allocation_id, retirement_id, "
            "claimant_organisation_id, beneficiary_organisation_id, problem, quantity_g, "
            "status, created_at) SELECT a.id, r.id, a.claimant_organisation_id, :o, "
            "'other_beneficiary', a.quantity_g, 'open', CURRENT_TIMESTAMP "
            "FROM credit_allocations a, credit_retirements r"
        ),
        {"o": other.id},
    )

    result = ledger_verify(holdings)

    assert result.ok, result.problems
    assert len(result.known) == 1
