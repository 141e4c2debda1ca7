"""The local registry, worked through: Qingpu's file is imported (batch 2024 holds serials
1000001–1001850, batch 2025 holds 1001851–1003560), and the platform retires whole tonnes for
its beneficiaries through the registry interface. The record it reads back is what
``ledger.credits.retirements`` recorded: blocks split on partial retirement, the lowest serials
first."""

from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import credits
from ledger.credits.models import CreditRetirement, CreditSerialRange
from ledger.credits.registry import (
    RETIRE_TONNES_MAX,
    Beneficiary,
    Holding,
    RefusalReason,
    RegistryRefused,
    RetireRequest,
    SerialBlock,
    retire_request_check,
)
from ledger.credits.registry_local import LOCAL_HOLDING_ACCOUNT, LocalRegistry
from ledger.errors import CreditError, ErrorCode
from tests.conftest import valid_uscc

EXAMPLES = Path(__file__).parents[3] / "examples" / "credits"
PROJECT = "YRDCI-QP-2023-001"
LIANTA = Beneficiary("青浦练塘大米有限公司", valid_uscc(1))
TONGLI = Beneficiary("同里农业发展有限公司", valid_uscc(2))


@pytest.fixture()
def registry(session, now, make_organisation):
    """The Qingpu file imported; the registry knows Lianta and Tongli (its beneficiaries are
    parties on record)."""
    for beneficiary in (LIANTA, TONGLI):
        make_organisation(name=beneficiary.name, uscc=beneficiary.credit_code)
    credits.import_file(
        session, content=(EXAMPLES / "qingpu.json").read_bytes(), file_format="json", now=now
    )
    return LocalRegistry(session, registry_code="YRD-CI", now=now)


def request(
    reference="TANHUI-LOT-1", quantity_t=300, beneficiary=LIANTA, purpose="练塘大米碳中和标签"
):
    return RetireRequest(
        reference=reference, quantity_t=quantity_t, beneficiary=beneficiary, purpose=purpose
    )


def retirements(session):
    return session.scalar(sa.select(sa.func.count()).select_from(CreditRetirement))


def test_a_retirement_takes_the_lowest_serials_and_reads_back_by_reference_and_id(registry, now):
    retirement = registry.retire(request())

    assert retirement.reference == retirement.retirement_id == "TANHUI-LOT-1"
    assert retirement.quantity_t == 300
    assert retirement.beneficiary == Beneficiary("青浦练塘大米有限公司", None)
    assert retirement.purpose == "练塘大米碳中和标签"
    assert retirement.retired_on == now.date()
    assert retirement.blocks == (SerialBlock(PROJECT, "1000001-1001850", 2024, 1000001, 1000300),)
    assert registry.retirement("TANHUI-LOT-1") == retirement
    assert registry.retirement(retirement_id="TANHUI-LOT-1") == retirement
    assert registry.retirement("TANHUI-LOT-2") is None


def test_a_retirement_across_two_batches_names_a_block_of_each_and_splits_the_second(registry):
    registry.retire(request())
    retirement = registry.retire(request("TANHUI-LOT-2", 1800, TONGLI, "同里大米碳中和标签"))

    assert retirement.blocks == (
        SerialBlock(PROJECT, "1000001-1001850", 2024, 1000301, 1001850),
        SerialBlock(PROJECT, "1001851-1003560", 2025, 1001851, 1002100),
    )
    assert registry.holdings(LOCAL_HOLDING_ACCOUNT) == [
        Holding(PROJECT, "1001851-1003560", 2025, 1002101, 1003560)
    ]


def test_asking_again_with_the_same_reference_answers_the_same_retirement(registry, session):
    first = registry.retire(request())
    again = registry.retire(request())

    assert again == first
    assert retirements(session) == 1
    assert registry.holdings(LOCAL_HOLDING_ACCOUNT)[0].serial_start == 1000301


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity_t": 301}, "quantity_t"),
        ({"beneficiary": TONGLI}, "beneficiary.name"),
        ({"purpose": "另一个用途"}, "purpose"),
    ],
)
def test_the_same_reference_with_another_request_is_refused(registry, session, change, field):
    registry.retire(request())

    with pytest.raises(RegistryRefused) as refused:
        registry.retire(request(**change))

    assert refused.value.reason is RefusalReason.IDEMPOTENCY_CONFLICT
    assert refused.value.error_code is ErrorCode.CREDIT_REGISTRY_REFUSED
    assert list(refused.value.fields) == [field]
    assert retirements(session) == 1


def test_more_than_the_platform_holds_is_refused_and_nothing_is_retired(registry, session):
    held = sum(holding.quantity_t for holding in registry.holdings(LOCAL_HOLDING_ACCOUNT))
    assert held == 1850 + 1710

    with pytest.raises(RegistryRefused) as refused, session.begin_nested():
        registry.retire(request(quantity_t=held + 1))

    assert refused.value.reason is RefusalReason.HOLDING_INSUFFICIENT
    assert retirements(session) == 0
    assert registry.retire(request(quantity_t=held)).quantity_t == held
    assert registry.holdings(LOCAL_HOLDING_ACCOUNT) == []
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(CreditSerialRange)
            .where(CreditSerialRange.status == "available")
        )
        == 0
    )


def test_another_account_is_unknown(registry):
    with pytest.raises(RegistryRefused) as refused:
        registry.holdings("someone-else")
    assert refused.value.reason is RefusalReason.ACCOUNT_UNKNOWN


def test_an_unknown_registry_is_not_found(session, now):
    with pytest.raises(CreditError) as error:
        LocalRegistry(session, registry_code="NONE", now=now).retire(request())
    assert error.value.error_code is ErrorCode.CREDIT_REGISTRY_NOT_FOUND


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"reference": "has space"}, "reference"),
        ({"reference": "R" * 129}, "reference"),
        ({"quantity_t": 0}, "quantity_t"),
        ({"quantity_t": RETIRE_TONNES_MAX + 1}, "quantity_t"),
        ({"quantity_t": 1.5}, "quantity_t"),
        ({"beneficiary": Beneficiary(" ", valid_uscc(1))}, "beneficiary.name"),
        ({"beneficiary": Beneficiary("某公司", "91310000000000000X")}, "beneficiary.credit_code"),
        ({"beneficiary": Beneficiary("某公司", None)}, "beneficiary.credit_code"),
        ({"purpose": "x" * 501}, "purpose"),
    ],
)
def test_a_request_we_would_send_wrong_is_ours_to_refuse(change, field):
    with pytest.raises(CreditError) as error:
        retire_request_check(request(**change))
    assert error.value.error_code is ErrorCode.CREDIT_RETIREMENT_INVALID
    assert list(error.value.fields) == [field]


def test_the_limits_themselves_pass_the_check():
    checked = retire_request_check(
        request(reference="R" * 128, quantity_t=RETIRE_TONNES_MAX, purpose="x" * 500)
    )
    assert checked.quantity_t == RETIRE_TONNES_MAX
    assert retire_request_check(request(beneficiary=Beneficiary(" 某公司 ", valid_uscc(1).lower())))
