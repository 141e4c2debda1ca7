"""Every refusal a sink-credit operation can answer, one table row each: the codes are those of
``ledger.errors.ErrorCode``, shared with entries (``idempotency_conflict`` is the same code)."""

import socket
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger import credits
from ledger.credits.models import CreditAllocationFinding, CreditBatch
from ledger.credits.registry import Beneficiary, RetireRequest
from ledger.credits.registry_local import LocalRegistry
from ledger.errors import CreditError, ErrorCode
from service.base.parties.models import Organisation
from service.errors import STATUS_BY_CODE, status_of
from service.registry_http import RegistryHttpClient, RegistryHttpConfig, registry_http_config
from tests.conftest import valid_uscc

EXAMPLES = Path(__file__).parents[3] / "examples" / "credits"


def _claimant_id(session):
    """The ``claimant`` fixture's enterprise, which ``world`` makes."""
    return session.scalar(
        sa.select(Organisation.id).where(Organisation.name.startswith("上海某米业有限公司"))
    )


def retire(session, now, reference="R-1", **changes):
    batch_id = session.query(CreditBatch.id).order_by(CreditBatch.id).first()[0]
    arguments = {
        "registry_code": "YRD-CI",
        "registry_reference": reference,
        "beneficiary": "上海某米业有限公司",
        "beneficiary_organisation_id": _claimant_id(session),
        "purpose": "碳中和大米标签 2026 年第一批",
        "retired_on": date(2026, 11, 20),
        "lines": [credits.RetirementLine(batch_id, 10)],
        "now": now,
    } | changes
    return credits.retire(session, **arguments)


def allocate(session, now, **changes):
    arguments = {
        "key": "a-1",
        "target_type": "label_lot",
        "target_id": "1",
        "quantity_g": 1_000,
        "now": now,
    } | changes
    return credits.allocate(session, claimant_organisation_id=_claimant_id(session), **arguments)


def finding_resolve(session, now, status="open"):
    """Resolve a finding: one that does not exist, or one recorded already ``status``."""
    finding_id = 999_999
    if status != "open":
        allocated = allocate(session, now, key="a-finding")
        retirement_id = allocated.parts[0].retirement_id
        finding = CreditAllocationFinding(
            allocation_id=allocated.allocation_id, retirement_id=retirement_id,
            problem="other_beneficiary", quantity_g=1_000, status=status, created_at=now,
        )  # fmt: skip
        session.add(finding)
        session.flush()
        finding_id = finding.id
    return credits.finding_resolve(session, finding_id=finding_id, actor=1, now=now,
                                   retarget=lambda *arguments: None)  # fmt: skip


def registry_retire(registry, quantity_t=10**6):
    beneficiary = Beneficiary("上海某米业有限公司", valid_uscc(1))
    return registry.retire(RetireRequest("TANHUI-LOT-1", quantity_t, beneficiary, "碳中和标签"))


def nobody_listening():
    """A registry at a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return RegistryHttpClient(RegistryHttpConfig(f"http://127.0.0.1:{port}", "key", "A"))


@pytest.fixture()
def world(session, now, claimant):
    credits.import_file(
        session, content=(EXAMPLES / "qingpu.json").read_bytes(), file_format="json", now=now
    )
    retire(session, now)
    return session


CASES = {
    ErrorCode.IDEMPOTENCY_CONFLICT: lambda s, now: retire(s, now, purpose="another purpose"),
    ErrorCode.CREDIT_IMPORT_REJECTED: lambda s, now: credits.import_file(
        s, content=b"not json", file_format="json", now=now
    ),
    ErrorCode.CREDIT_REGISTRY_NOT_FOUND: lambda s, now: retire(s, now, registry_code="NONE"),
    ErrorCode.CREDIT_BATCH_NOT_FOUND: lambda s, now: retire(
        s, now, "R-2", lines=[credits.RetirementLine(999_999, 1)]
    ),
    ErrorCode.CREDIT_RETIREMENT_INVALID: lambda s, now: retire(s, now, "R-2", purpose=""),
    ErrorCode.CREDIT_RETIREMENT_NOT_FOUND: lambda s, now: allocate(
        s, now, retirement_ids=[999_999]
    ),
    ErrorCode.CREDITS_INSUFFICIENT: lambda s, now: allocate(s, now, quantity_g=10**12),
    ErrorCode.CREDIT_ALLOCATION_INVALID: lambda s, now: allocate(s, now, target_type="nothing"),
    ErrorCode.CREDIT_FINDING_NOT_FOUND: lambda s, now: finding_resolve(s, now),
    ErrorCode.CREDIT_FINDING_RESOLVED: lambda s, now: finding_resolve(s, now, status="resolved"),
    ErrorCode.CREDIT_REGISTRY_REFUSED: lambda s, now: registry_retire(
        LocalRegistry(s, registry_code="YRD-CI", now=now)
    ),
    ErrorCode.CREDIT_REGISTRY_UNAVAILABLE: lambda s, now: registry_retire(nobody_listening(), 1),
    ErrorCode.CREDIT_REGISTRY_NOT_CONFIGURED: lambda s, now: registry_http_config({}),
}


@pytest.mark.parametrize("code", list(CASES), ids=str)
def test_each_refusal(world, now, code):
    with pytest.raises(CreditError) as error, world.begin_nested():
        CASES[code](world, now)
    assert error.value.error_code is code
    assert error.value.code == code.value
    assert status_of(error.value) == STATUS_BY_CODE[code]
