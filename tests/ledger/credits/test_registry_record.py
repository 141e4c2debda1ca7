"""Recording a retirement a registry's API made, with the exact serial blocks it names:
Qingpu's file is imported (batch 2024: serials 1000001–1001850; batch 2025: 1001851–1003560)
and the registry answers blocks anywhere in them, as its own holding dictates. Our record takes
exactly those serials, splitting a range around a block in its middle."""

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import credits
from ledger.credits.models import CreditBatch, CreditSerialRange
from ledger.errors import CreditError, ErrorCode, Outcome
from ledger.verify import ledger_verify
from service.base.units import SHANGHAI

EXAMPLES = Path(__file__).parents[3] / "examples" / "credits"
ENTERPRISE = "嘉善米业有限公司"


@pytest.fixture()
def enterprise(session, now, make_organisation):
    credits.import_file(
        session, content=(EXAMPLES / "qingpu.json").read_bytes(), file_format="json", now=now
    )
    return make_organisation(name=f"{ENTERPRISE} Jiashan Rice Co.")


def record(session, now, organisation, serials, reference="YRDCI-R-2026-0042", retired_on=None):
    return credits.retirement_record(
        session,
        registry_code="YRD-CI",
        registry_reference=reference,
        beneficiary=ENTERPRISE,
        beneficiary_organisation_id=organisation.id,
        purpose="碳中和标签 批次 JS2026A",
        retired_on=retired_on or now.astimezone(SHANGHAI).date(),
        serials=serials,
        now=now,
    )


def ranges(session, batch_start):
    rows = session.execute(
        sa.select(
            CreditSerialRange.serial_start, CreditSerialRange.serial_end, CreditSerialRange.status
        )
        .join(CreditBatch, CreditBatch.id == CreditSerialRange.batch_id)
        .where(CreditBatch.serial_start == batch_start)
        .order_by(CreditSerialRange.serial_start)
    ).all()
    return [tuple(row) for row in rows]


def test_blocks_in_the_middle_of_ranges_are_taken_exactly(session, now, enterprise):
    result = record(session, now, enterprise, [(1000101, 1000102), (1001851, 1001851)])
    assert (result.outcome, result.retirement.quantity_t) == (Outcome.CREATED, 3)
    assert ranges(session, 1000001) == [
        (1000001, 1000100, "available"),
        (1000101, 1000102, "retired"),
        (1000103, 1001850, "available"),
    ]
    assert ranges(session, 1001851) == [
        (1001851, 1001851, "retired"),
        (1001852, 1003560, "available"),
    ]
    pool = credits.retired_account(enterprise.id)
    assert (
        session.scalar(sa.text("SELECT balance FROM ledger_accounts WHERE code = :c"), {"c": pool})
        == 3_000_000
    )
    report = ledger_verify(session)
    assert report.ok, report.problems


def test_recording_the_same_retirement_again_answers_it(session, now, enterprise):
    first = record(session, now, enterprise, [(1000101, 1000102)])
    again = record(session, now, enterprise, [(1000101, 1000102)])
    assert (again.outcome, again.retirement.id) == (Outcome.EXISTS, first.retirement.id)


@pytest.mark.parametrize(
    ("serials", "code"),
    [
        ([(9000001, 9000001)], ErrorCode.CREDIT_BATCH_NOT_FOUND),  # no batch of ours holds it
        ([(1001850, 1001851)], ErrorCode.CREDIT_BATCH_NOT_FOUND),  # a block across two batches
    ],
)
def test_serials_our_record_does_not_hold_are_refused(session, now, enterprise, serials, code):
    with pytest.raises(CreditError) as refused:
        record(session, now, enterprise, serials)
    assert refused.value.error_code is code


def test_serials_retired_already_are_refused(session, now, enterprise):
    record(session, now, enterprise, [(1000101, 1000102)])
    with pytest.raises(CreditError) as refused:
        record(session, now, enterprise, [(1000102, 1000103)], reference="YRDCI-R-2026-0043")
    assert refused.value.error_code is ErrorCode.CREDITS_INSUFFICIENT


def test_the_registrys_day_is_beijings_not_after_it(session, now, enterprise):
    beijing = now.astimezone(SHANGHAI).date()
    assert record(session, now, enterprise, [(1000101, 1000101)], retired_on=beijing)
    with pytest.raises(CreditError) as refused:
        record(
            session, now, enterprise, [(1000102, 1000102)], reference="R-2",
            retired_on=beijing + timedelta(days=1),
        )  # fmt: skip
    assert refused.value.fields == {"retired_on": ["in the future"]}
