"""The registry's HTTP client against a local fake registry (``tests.fakes.registry``) that
speaks ``docs/registry-protocol.md``: the platform's account holds Qingpu's two batches
(serials 1000001–1001850 of 2024 and 1001851–1003560 of 2025), Lianta and Tongli are known
beneficiaries. Each misbehaviour of a registry is shown: a refusal, a failure before it retires,
a timeout after it retired (and reconciliation by our reference), an answer given twice."""

import json

import pytest

from ledger.credits.registry import (
    Beneficiary,
    Holding,
    RefusalReason,
    RegistryRefused,
    RegistryUnavailable,
    RetireRequest,
    SerialBlock,
)
from ledger.errors import CreditError, ErrorCode
from service.base.config import (
    REGISTRY_CONNECT_TIMEOUT_S,
    REGISTRY_READ_TIMEOUT_S,
    load_config,
)
from service.base.exceptions import Upstream
from service.errors import status_of
from service.extensions import registry_client
from service.registry_http import (
    ANSWER_BYTES_MAX,
    RegistryHttpClient,
    RegistryHttpConfig,
    registry_http_config,
)
from tests.conftest import valid_uscc
from tests.fakes.registry import ACCOUNT, Block, FakeRegistry, retired_on_today

PROJECT = "YRDCI-QP-2023-001"
LIANTA = Beneficiary("青浦练塘大米有限公司", valid_uscc(1))
TONGLI = Beneficiary("同里农业发展有限公司", valid_uscc(2))
#: Short enough that a stalled answer times out quickly; the tests assert no timing.
READ_TIMEOUT_S = 0.5


@pytest.fixture()
def fake():
    registry = FakeRegistry(registry_code="YRDCI").start()
    registry.issue(ACCOUNT, Block(PROJECT, "YRDCI-QP-2024", 2024, 1000001, 1001850))
    registry.issue(ACCOUNT, Block(PROJECT, "YRDCI-QP-2025", 2025, 1001851, 1003560))
    registry.beneficiary_add(LIANTA.name, LIANTA.credit_code)
    registry.beneficiary_add(TONGLI.name, TONGLI.credit_code)
    yield registry
    registry.stop()


@pytest.fixture()
def registry(fake):
    return RegistryHttpClient(
        registry_http_config({**fake.config(), "REGISTRY_READ_TIMEOUT_S": READ_TIMEOUT_S})
    )


LIANTA_PURPOSE = "练塘大米碳中和标签"


def request(reference="TANHUI-LOT-1", quantity_t=300, beneficiary=LIANTA, purpose=LIANTA_PURPOSE):
    return RetireRequest(
        reference=reference, quantity_t=quantity_t, beneficiary=beneficiary, purpose=purpose
    )


def held(registry):
    return sum(block.quantity_t for block in registry.holdings(ACCOUNT))


# -- the protocol as it should go ---------------------------------------------------------------
def test_a_retirement_for_a_known_beneficiary_names_its_blocks_and_reads_back(registry, fake):
    retirement = registry.retire(request())

    assert retirement.retirement_id == f"YRDCI-R-{retired_on_today().year}-0001"
    assert retirement.reference == "TANHUI-LOT-1"
    assert retirement.beneficiary == LIANTA
    assert retirement.purpose == "练塘大米碳中和标签"
    assert retirement.retired_on == retired_on_today()
    assert retirement.blocks == (SerialBlock(PROJECT, "YRDCI-QP-2024", 2024, 1000001, 1000300),)
    assert fake.requests[-1] == ("POST", "/v1/retirements", "TANHUI-LOT-1")
    assert registry.retirement("TANHUI-LOT-1") == retirement
    assert registry.retirement(retirement_id=retirement.retirement_id) == retirement
    assert registry.retirement("TANHUI-LOT-2") is None
    assert registry.retirement(retirement_id="YRDCI-R-1999-0001") is None
    assert registry.holdings(ACCOUNT) == [
        Holding(PROJECT, "YRDCI-QP-2024", 2024, 1000301, 1001850),
        Holding(PROJECT, "YRDCI-QP-2025", 2025, 1001851, 1003560),
    ]


def test_a_partial_retirement_splits_the_block_and_the_next_takes_the_serials_after(registry):
    registry.retire(request())
    retirement = registry.retire(request("TANHUI-LOT-2", 1800, TONGLI, "同里大米碳中和标签"))

    assert retirement.blocks == (
        SerialBlock(PROJECT, "YRDCI-QP-2024", 2024, 1000301, 1001850),
        SerialBlock(PROJECT, "YRDCI-QP-2025", 2025, 1001851, 1002100),
    )
    assert held(registry) == 1850 + 1710 - 2100


def test_a_serial_is_issued_once_and_retired_at_most_once(registry, fake):
    with pytest.raises(ValueError, match="issued already"):
        fake.issue(ACCOUNT, Block(PROJECT, "AGAIN", 2024, 1001850, 1001900))

    for number in range(19):
        registry.retire(request(f"TANHUI-LOT-{number}", 187))
    with pytest.raises(RegistryRefused) as refused:
        registry.retire(request("TANHUI-LOT-LAST", 188))

    assert refused.value.reason is RefusalReason.HOLDING_INSUFFICIENT
    assert held(registry) == 1850 + 1710 - 19 * 187 == 7
    serials = [s for first, last in fake.retired for s in range(first, last + 1)]
    assert len(serials) == len(set(serials)) == 19 * 187


# -- a registry that answers twice --------------------------------------------------------------
def test_asking_twice_with_the_same_reference_answers_the_same_retirement(registry, fake):
    first = registry.retire(request())
    again = registry.retire(request())

    assert again == first
    assert fake.retirement_requests() == 2
    assert len(fake.retirements) == 1
    assert held(registry) == 1850 + 1710 - 300


def test_the_same_reference_with_another_body_is_refused_with_409(registry, fake):
    registry.retire(request())

    with pytest.raises(RegistryRefused) as refused:
        registry.retire(request(purpose="另一个用途"))

    assert refused.value.reason is RefusalReason.IDEMPOTENCY_CONFLICT
    assert refused.value.error_code is ErrorCode.CREDIT_REGISTRY_REFUSED
    assert status_of(refused.value) == 409
    assert len(fake.retirements) == 1


# -- a registry that refuses --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ask", "reason"),
    [
        (request(beneficiary=Beneficiary("某某公司", valid_uscc(3))), "beneficiary_unknown"),
        (request(beneficiary=Beneficiary("另一个名字", LIANTA.credit_code)), "beneficiary_unknown"),
        (request(quantity_t=1850 + 1710 + 1), "holding_insufficient"),
    ],
)
def test_the_registry_refuses_an_unknown_beneficiary_and_more_than_is_held(
    registry, fake, ask, reason
):
    with pytest.raises(RegistryRefused) as refused:
        registry.retire(ask)

    assert refused.value.reason == reason
    assert fake.retirements == {}
    assert held(registry) == 1850 + 1710


def test_a_refusal_we_do_not_know_keeps_the_registrys_message(registry, fake):
    fake.refuse_next("project_suspended")
    with pytest.raises(RegistryRefused) as refused:
        registry.retire(request())
    assert refused.value.reason is RefusalReason.OTHER
    assert refused.value.detail == "project_suspended"


def test_a_wrong_key_is_unauthorised(fake):
    wrong = RegistryHttpClient(
        registry_http_config({**fake.config(), "REGISTRY_API_KEY": "not-the-key"})
    )
    with pytest.raises(RegistryRefused) as refused:
        wrong.retire(request())
    assert refused.value.reason is RefusalReason.UNAUTHORISED
    assert fake.retirements == {}


def test_another_holders_account_is_unknown(registry):
    with pytest.raises(RegistryRefused) as refused:
        registry.holdings("SOMEONE-ELSE")
    assert refused.value.reason is RefusalReason.ACCOUNT_UNKNOWN


# -- a registry that fails ----------------------------------------------------------------------
@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_a_failure_before_retiring_is_unavailable_and_the_same_reference_retires_once(
    registry, fake, status
):
    fake.fail_next(status)
    with pytest.raises(RegistryUnavailable) as unavailable:
        registry.retire(request())

    assert unavailable.value.upstream is Upstream.BAD_ANSWER
    assert status_of(unavailable.value) == 502
    assert fake.retirements == {}
    assert registry.retirement("TANHUI-LOT-1") is None
    assert registry.retire(request()).quantity_t == 300
    assert len(fake.retirements) == 1


def test_a_timeout_after_retiring_is_reconciled_by_our_reference(registry, fake):
    fake.stall_next()
    with pytest.raises(RegistryUnavailable) as unavailable:
        registry.retire(request())

    assert unavailable.value.upstream is Upstream.TIMEOUT
    assert status_of(unavailable.value) == 504
    assert len(fake.retirements) == 1  # the registry retired; we never heard
    found = registry.retirement("TANHUI-LOT-1")
    assert found is not None and found.quantity_t == 300
    assert found.blocks == (SerialBlock(PROJECT, "YRDCI-QP-2024", 2024, 1000001, 1000300),)
    assert registry.retire(request()) == found  # asking again retires nothing more
    assert len(fake.retirements) == 1


def test_a_registry_that_is_down_is_unreachable(registry, fake):
    fake.stop()
    with pytest.raises(RegistryUnavailable) as unavailable:
        registry.retire(request())
    assert unavailable.value.upstream is Upstream.UNREACHABLE
    assert status_of(unavailable.value) == 503


# -- answers the client does not believe --------------------------------------------------------
def holdings_answer(httpserver, body):
    httpserver.expect_request(f"/v1/accounts/{ACCOUNT}/holdings").respond_with_data(
        body, content_type="application/json"
    )
    config = RegistryHttpConfig(httpserver.url_for("").rstrip("/"), "key", ACCOUNT)
    return RegistryHttpClient(config).holdings(ACCOUNT)


def test_an_answer_of_the_longest_length_is_read_and_a_longer_one_is_not(httpserver):
    empty = json.dumps({"holdings": []}).encode()
    assert holdings_answer(httpserver, empty.ljust(ANSWER_BYTES_MAX)) == []
    httpserver.clear()
    with pytest.raises(RegistryUnavailable) as unavailable:
        holdings_answer(httpserver, empty.ljust(ANSWER_BYTES_MAX + 1))
    assert unavailable.value.upstream is Upstream.BAD_ANSWER


@pytest.mark.parametrize(
    "body",
    [
        b"<html>maintenance</html>",
        b'{"holdings": "none"}',
        json.dumps(
            {
                "holdings": [
                    {
                        "project": PROJECT,
                        "batch": "B",
                        "vintage": 2024,
                        "serial_start": 10,
                        "serial_end": 19,
                        "quantity_t": 11,
                    }
                ]
            }
        ).encode(),
    ],
    ids=["not-json", "not-a-list", "serials-not-tonnes"],
)
def test_an_answer_that_does_not_follow_the_protocol_is_a_bad_answer(httpserver, body):
    with pytest.raises(RegistryUnavailable) as unavailable:
        holdings_answer(httpserver, body)
    assert unavailable.value.upstream is Upstream.BAD_ANSWER


# -- settings -----------------------------------------------------------------------------------
def test_the_client_is_built_from_the_apps_settings(make_app, fake):
    app = make_app(**fake.config())
    client = registry_client(app)
    assert registry_client(app) is client
    key = fake.config()["REGISTRY_API_KEY"]
    assert client.config == RegistryHttpConfig(fake.base_url, key, ACCOUNT)
    assert client.retire(request()).quantity_t == 300


def test_without_settings_the_missing_ones_are_named():
    with pytest.raises(CreditError) as error:
        registry_http_config({"REGISTRY_URL": "https://registry.example"})
    assert error.value.error_code is ErrorCode.CREDIT_REGISTRY_NOT_CONFIGURED
    assert error.value.detail == "REGISTRY_API_KEY, REGISTRY_ACCOUNT"


def test_the_timeouts_are_settings_with_named_defaults(tmp_path):
    config = load_config({"TANHUI_INSTANCE_PATH": str(tmp_path)})
    assert config["REGISTRY_CONNECT_TIMEOUT_S"] == REGISTRY_CONNECT_TIMEOUT_S
    assert config["REGISTRY_READ_TIMEOUT_S"] == REGISTRY_READ_TIMEOUT_S
    environ = {"TANHUI_INSTANCE_PATH": str(tmp_path), "REGISTRY_READ_TIMEOUT_S": "2.5"}
    assert load_config(environ)["REGISTRY_READ_TIMEOUT_S"] == 2.5
