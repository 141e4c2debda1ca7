"""Allocators racing for the last retired grams on PostgreSQL, each in its own transaction on its
own connection: every gram goes to exactly one of them, and none beyond what was retired."""

import threading
from datetime import UTC, date, datetime
from pathlib import Path

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
from tests.parallel import run_at_once

EXAMPLES = Path(__file__).parents[3] / "examples" / "credits"
ALLOCATORS = 32
RETIRED_G = 3 * 1_000_000
ASK_G = 130_000  # 23 asks fit in 3 t (2,990,000 g); the 24th finds 10,000 g and is refused


def test_parallel_allocators_never_over_allocate(scratch_database_url):
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
            for number, batch_id in enumerate(batch_ids[:2]):
                credits.retire(
                    session,
                    registry_code="YRD-CI",
                    registry_reference=f"R-{number}",
                    beneficiary="嘉善某米业",
                    purpose="碳中和标签",
                    retired_on=date(2026, 11, 1),
                    lines=[RetirementLine(batch_id, 1 + number)],
                    now=now,
                )

        in_transaction(factory, setup)
        won, refused = [], []
        guard = threading.Lock()

        def allocator(number):
            for attempt in range(3):
                key = f"lot-{number}-{attempt}"
                try:
                    result = in_transaction(
                        factory,
                        lambda session, key=key: credits.allocate(
                            session,
                            key=key,
                            target_type="label_lot",
                            target_id=key,
                            quantity_g=ASK_G,
                            now=now,
                        ),
                    )
                except CreditError as error:
                    with guard:
                        refused.append(error.error_code)
                    continue
                with guard:
                    won.append(result.quantity_g)

        failures = run_at_once(allocator, range(ALLOCATORS))

        assert not failures, failures
        assert len(won) == RETIRED_G // ASK_G == 23
        assert set(refused) == {ErrorCode.CREDITS_INSUFFICIENT}
        assert len(refused) == ALLOCATORS * 3 - 23
        with factory() as session:
            allocated = session.scalar(sa.select(sa.func.sum(CreditAllocation.quantity_g)))
            parts = session.scalar(sa.select(sa.func.sum(CreditAllocationPart.quantity_g)))
            assert allocated == parts == 23 * ASK_G
            remaining = ledger.balance_of(session, credits.RETIRED_ACCOUNT).balance
            assert remaining == RETIRED_G - 23 * ASK_G == 10_000
            report = ledger_verify(session)
            assert report.ok, report.problems
    finally:
        engine.dispose()
