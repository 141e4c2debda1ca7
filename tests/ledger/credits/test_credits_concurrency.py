"""Allocators racing for the last retired grams on PostgreSQL, each in its own transaction on its
own connection: every gram goes to exactly one of them, none beyond what was retired, and lots of
two enterprises allocated at once each draw only on their own enterprise's retirements."""

import threading
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from ledger import credits
from ledger import entries as ledger
from ledger.credits import RetirementLine
from ledger.credits.models import CreditAllocation, CreditAllocationPart
from ledger.errors import CreditError, ErrorCode
from ledger.retry import in_transaction
from ledger.verify import ledger_verify
from service.base.orm import create_engine
from service.base.parties.models import Organisation
from tests.parallel import run_at_once

EXAMPLES = Path(__file__).parents[3] / "examples" / "credits"
ALLOCATORS = 32
#: Enterprise A has 1 t retired in its name, enterprise B 2 t: 3 t in all.
RETIRED_G = 3 * 1_000_000
ASK_G = 130_000  # 23 asks fit in 3 t: 7 in A's 1 t (910,000 g), 15 in B's 2 t (1,950,000 g)
WINS = {"A": 7, "B": 15}


@pytest.mark.postgresql_only
def test_parallel_lots_of_two_enterprises_draw_only_on_their_own_retirements(
    scratch_database_url,
):
    engine = create_engine(scratch_database_url, pool_size=ALLOCATORS + 2)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    now = datetime.now(UTC)
    try:

        def setup(session):
            credits.import_file(
                session,
                content=(EXAMPLES / "jiashan.json").read_bytes(),
                file_format="json",
                now=now,
            )
            batch_ids = session.scalars(sa.text("SELECT id FROM credit_batches ORDER BY id")).all()
            enterprises = {}
            for number, name in enumerate(("A", "B")):
                organisation = Organisation(
                    kind="enterprise",
                    name=f"嘉善{name}米业有限公司",
                    uscc=f"9133042100000000{number}X",
                    status="approved",
                )
                session.add(organisation)
                session.flush()
                credits.retire(
                    session,
                    registry_code="YRD-CI",
                    registry_reference=f"R-{name}",
                    beneficiary=organisation.name,
                    beneficiary_organisation_id=organisation.id,
                    purpose="碳中和标签",
                    retired_on=date(2026, 11, 1),
                    lines=[RetirementLine(batch_ids[number], 1 + number)],
                    now=now,
                )
                enterprises[name] = organisation.id
            return enterprises

        enterprises = in_transaction(factory, setup)
        won, refused = {"A": 0, "B": 0}, []
        guard = threading.Lock()

        def allocator(number):
            name = "AB"[number % 2]
            for attempt in range(3):
                key = f"lot-{number}-{attempt}"
                try:
                    in_transaction(
                        factory,
                        lambda session, key=key: credits.allocate(
                            session,
                            key=key,
                            target_type="label_lot",
                            target_id=key,
                            claimant_organisation_id=enterprises[name],
                            quantity_g=ASK_G,
                            now=now,
                        ),
                    )
                except CreditError as error:
                    with guard:
                        refused.append(error.error_code)
                    continue
                with guard:
                    won[name] += 1

        failures = run_at_once(allocator, range(ALLOCATORS))

        assert not failures, failures
        assert won == WINS
        assert set(refused) == {ErrorCode.CREDITS_INSUFFICIENT}
        with factory() as session:
            allocated = session.scalar(sa.select(sa.func.sum(CreditAllocation.quantity_g)))
            parts = session.scalar(sa.select(sa.func.sum(CreditAllocationPart.quantity_g)))
            assert allocated == parts == 22 * ASK_G
            strays = session.execute(
                sa.text(
                    "SELECT count(*) FROM credit_allocation_parts p "
                    "JOIN credit_allocations a ON a.id = p.allocation_id "
                    "JOIN credit_retirements r ON r.id = p.retirement_id "
                    "WHERE r.beneficiary_organisation_id <> a.claimant_organisation_id"
                )
            ).scalar()
            assert strays == 0
            for name, tonnes in (("A", 1), ("B", 2)):
                pool = credits.retired_account(enterprises[name])
                left = ledger.balance_of(session, pool).balance
                assert left == tonnes * 1_000_000 - WINS[name] * ASK_G
            report = ledger_verify(session)
            assert report.ok, report.problems
    finally:
        engine.dispose()
