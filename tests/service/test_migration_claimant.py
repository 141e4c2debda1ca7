"""Revision 0017 on a database holding an allocation that breaks the claimant rule: the
beneficiaries are backfilled by name, the violating allocation is recorded as a finding and
reported, not rewritten, and ``ledger verify`` lists it as known and passes."""

from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from ledger import credits
from ledger.verify import ledger_verify
from service.base.parties.models import Organisation
from service.base.parties.services import platform_organisation
from service.db import create_engine
from service.migrations import alembic_command
from tests.service.test_migrations import empty_database_url  # noqa: F401

EXAMPLES = Path(__file__).parents[2] / "examples" / "credits"
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def _seed(session):
    """Lianta and the platform's programme each with 1 t retired; a personal offset of 30 kg
    drawn on the programme's tonne."""
    lianta = Organisation(
        kind="enterprise", name="青浦练塘大米有限公司 Lianta Rice Co.", uscc="91310118MA1FL4XQ09",
        status="approved",
    )  # fmt: skip
    tongli = Organisation(
        kind="enterprise", name="吴江同里米业有限公司 Tongli Rice Co.", uscc="91320509MA1NQ7K2TQ",
        status="approved",
    )  # fmt: skip
    session.add_all([lianta, tongli])
    programme = platform_organisation(session)
    session.flush()
    credits.import_file(
        session, content=(EXAMPLES / "qingpu.json").read_bytes(), file_format="json", now=NOW
    )
    batch = session.scalar(sa.text("SELECT id FROM credit_batches WHERE vintage = 2024"))
    for reference, name, organisation in (
        ("R-PROGRAMME", programme.name, programme),
        ("R-LIANTA", "青浦练塘大米有限公司", lianta),
    ):
        credits.retire(
            session, registry_code="YRD-CI", registry_reference=reference, beneficiary=name,
            beneficiary_organisation_id=organisation.id, purpose="碳中和",
            retired_on=date(2026, 11, 1), lines=[credits.RetirementLine(batch, 1)], now=NOW,
        )  # fmt: skip
    credits.allocate(
        session, key="offset:1", target_type="personal_offset", target_id="order:1",
        claimant_organisation_id=programme.id, quantity_g=30_000, now=NOW,
    )  # fmt: skip
    return lianta.id, tongli.id


def _retirement_rename(connection, reference, beneficiary):
    """What a registry file recorded before 0017 could say: the programme's tonne written in
    Tongli's name (past the table's immutability trigger)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("ALTER TABLE credit_retirements DISABLE TRIGGER USER"))
    else:
        connection.execute(sa.text("DROP TRIGGER credit_retirements_no_update"))
    connection.execute(
        sa.text("UPDATE credit_retirements SET beneficiary = :b WHERE registry_reference = :r"),
        {"b": beneficiary, "r": reference},
    )


def test_0017_records_an_allocation_that_breaks_the_claimant_rule(
    empty_database_url,  # noqa: F811
    capsys,
):
    alembic_command(empty_database_url, "upgrade", "head")
    engine = create_engine(empty_database_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        with factory.begin() as session:
            lianta, tongli = _seed(session)
        alembic_command(empty_database_url, "downgrade", "0016")
        with engine.begin() as connection:
            _retirement_rename(connection, "R-PROGRAMME", "吴江同里米业有限公司")

        alembic_command(empty_database_url, "upgrade", "0017")

        assert "0017 finding: allocation 1" in capsys.readouterr().out
        with factory() as session:
            beneficiaries = dict(
                session.execute(
                    sa.text(
                        "SELECT registry_reference, beneficiary_organisation_id "
                        "FROM credit_retirements"
                    )
                ).all()
            )
            assert beneficiaries == {"R-PROGRAMME": tongli, "R-LIANTA": lianta}
            findings = session.execute(
                sa.text(
                    "SELECT allocation_id, problem, quantity_g, status, "
                    "beneficiary_organisation_id FROM credit_allocation_findings"
                )
            ).all()
            assert findings == [(1, "other_beneficiary", 30_000, "open", tongli)]
            # History is not rewritten: the allocation and its part are as they were.
            part = session.execute(
                sa.text("SELECT quantity_g, claimant_organisation_id FROM credit_allocation_parts")
            ).one()
            assert part == (30_000, None)
        # The rest of the migrations, then the audit: the finding is known, not a failure.
        alembic_command(empty_database_url, "upgrade", "head")
        with factory() as session:
            report = ledger_verify(session)
            assert report.ok, report.problems
            assert len(report.known) == 1
    finally:
        engine.dispose()
