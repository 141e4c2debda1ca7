"""Claims by market, as worked examples with an explicit ``now``.

A label names the markets where its product is sold. Directive (EU) 2024/825 bans, in the EU from
27 September 2026, a claim that a product has a neutral impact based on offsetting: a
carbon-neutral label for a product sold in a member state or in ``EU`` is refused when applied
for, and a label still pending on that date is not certified after it. The footprint and
low-carbon labels state measurements and stay available.
"""

import doctest
from datetime import UTC, datetime, timedelta

import pytest

from labels import certification, markets
from labels.errors import ClaimBannedInMarket
from labels.markets import EU_OFFSET_CLAIM_BAN_FROM, MARKETS, MARKETS_MAX_COUNT
from labels.models import Label, Product
from service.base.exceptions import ValidationFailed
from service.base.parties.services import principal_for

#: The first instant of the ban, and the last instant before it.
BAN = EU_OFFSET_CLAIM_BAN_FROM
BEFORE = BAN - timedelta(microseconds=1)
BAN_MESSAGE = (
    "Directive (EU) 2024/825 bans offset-based carbon-neutral claims in the EU from "
    "27 September 2026: remove {markets}, or apply for a footprint or low-carbon label."
)


def test_the_module_examples_hold():
    assert doctest.testmod(markets).failed == 0


def test_the_ban_starts_as_27_september_begins_in_the_easternmost_member_states():
    assert datetime(2026, 9, 26, 21, 0, tzinfo=UTC) == BAN
    assert BAN.astimezone(UTC).isoformat() == "2026-09-26T21:00:00+00:00"


def test_the_eu_is_its_27_member_states_and_the_whole_market():
    assert len(markets.EU_MEMBER_STATES) == 27 and set(markets.EU_MEMBER_STATES) <= set(MARKETS)
    assert {*markets.EU_MEMBER_STATES, "EU"} == markets.EU_MARKETS
    assert "CN" in MARKETS and not {"CN", "HK", "GB", "CH", "NO"} & markets.EU_MARKETS
    assert MARKETS_MAX_COUNT == len(MARKETS) == len(set(MARKETS))


@pytest.fixture()
def application(session, certified, make_staff):
    """Apply, through the domain, for a label on the 6.25 kg CO2e bag's footprint, at ``now``."""
    pending = certified("footprint", decide=False)
    product = session.get(Product, pending["product_id"])
    principal = principal_for(make_staff(role="operator"))

    def apply(scheme, sold_in, now):
        return certification.label_apply(
            session,
            principal=principal,
            product=product,
            footprint_id=pending["footprint_id"],
            scheme=scheme,
            markets=sold_in,
            now=now,
        )

    return apply


@pytest.fixture()
def decide(session, make_staff):
    """Move a label as a certifier, at ``now``."""
    certifier = principal_for(make_staff(role="certifier"))

    def move(label, to_status, now, reason=""):
        return certification.label_transition(
            session, label=label, to_status=to_status, actor=certifier, now=now, reason=reason
        )

    return move


@pytest.mark.parametrize(
    ("sold_in", "banned"),
    [(["DE"], "DE"), (["EU"], "EU"), (["CN", "FR", "HK", "IT"], "FR, IT")],
)
def test_a_carbon_neutral_label_for_an_eu_market_is_refused_from_the_ban(
    session, application, sold_in, banned
):
    with pytest.raises(ClaimBannedInMarket) as refused:
        application("carbon_neutral", sold_in, BAN)
    assert refused.value.code == "label_claim_banned_in_market"
    assert refused.value.params == {"markets": banned}
    [message] = refused.value.fields["markets"]
    assert (message.template, message.params) == (BAN_MESSAGE, {"markets": banned})
    assert session.query(Label).filter(Label.scheme == "carbon_neutral").count() == 0


def test_the_same_application_an_instant_before_the_ban_is_taken(application):
    label = application("carbon_neutral", ["CN", "DE"], BEFORE)
    assert (label.status, label.markets) == ("submitted", ["CN", "DE"])


def test_a_carbon_neutral_label_for_mainland_china_is_taken_after_the_ban(application):
    label = application("carbon_neutral", ["CN", "HK", "GB"], BAN + timedelta(days=60))
    assert label.markets == ["CN", "HK", "GB"]


@pytest.mark.parametrize("scheme", ["footprint", "low_carbon"])
def test_footprint_and_low_carbon_labels_stay_available_for_the_eu(application, scheme):
    label = application(scheme, ["EU", "DE", "CN"], BAN + timedelta(days=60))
    assert (label.scheme, label.markets) == (scheme, ["EU", "DE", "CN"])


def test_a_label_pending_at_the_ban_is_not_certified_after_it(application, decide):
    label = application("carbon_neutral", ["CN", "NL"], BEFORE - timedelta(days=10))
    decide(label, "under_review", BEFORE - timedelta(days=5))
    with pytest.raises(ClaimBannedInMarket) as refused:
        decide(label, "certified", BAN)
    assert refused.value.params == {"markets": "NL"}
    assert (label.status, label.certificate_number) == ("under_review", None)
    # the certifier can still reject it, saying why
    decide(label, "rejected", BAN, reason="Directive (EU) 2024/825")
    assert label.status == "rejected"


def test_a_label_pending_is_certified_before_the_ban(application, decide):
    label = application("carbon_neutral", ["CN", "NL"], BEFORE - timedelta(days=10))
    decide(label, "under_review", BEFORE - timedelta(days=5))
    decide(label, "certified", BEFORE)
    assert label.status == "certified" and label.certificate_number


def test_a_suspended_label_is_not_reinstated_after_the_ban(application, decide):
    label = application("carbon_neutral", ["DE"], BEFORE - timedelta(days=10))
    decide(label, "under_review", BEFORE - timedelta(days=9))
    decide(label, "certified", BEFORE - timedelta(days=8))
    decide(label, "suspended", BEFORE - timedelta(days=1), reason="审核中")
    with pytest.raises(ClaimBannedInMarket):
        decide(label, "certified", BAN)
    assert label.status == "suspended"


def test_a_footprint_label_for_the_eu_is_certified_after_the_ban(application, decide):
    now = BAN + timedelta(days=1)
    label = application("footprint", ["EU"], now)
    decide(label, "under_review", now)
    decide(label, "certified", now)
    assert label.status == "certified"


# -- the markets themselves -------------------------------------------------------------------
UNKNOWN = (
    "Unknown market: {codes}. Use a country's ISO 3166-1 alpha-2 code in capitals (CN for "
    "mainland China), or EU for the European Union as a whole."
)
COUNT = "Name between 1 and {markets_max_count} markets."


@pytest.mark.parametrize(
    ("sold_in", "template", "params"),
    [
        (["CN", "XX"], UNKNOWN, {"codes": "XX"}),
        (["cn"], UNKNOWN, {"codes": "cn"}),
        (["EL"], UNKNOWN, {"codes": "EL"}),  # the EU's code for Greece; ISO's is GR
        ([], COUNT, {"markets_max_count": MARKETS_MAX_COUNT}),
        ([*MARKETS, "XX"], COUNT, {"markets_max_count": MARKETS_MAX_COUNT}),
    ],
    ids=["unknown", "lower case", "EL", "none", "one more than every market"],
)
def test_markets_are_known_codes_at_least_one(application, sold_in, template, params):
    with pytest.raises(ValidationFailed) as refused:
        application("footprint", sold_in, BAN)
    [message] = refused.value.fields["markets"]
    assert (message.template, message.params) == (template, params)


def test_every_market_at_once_is_the_limit(application):
    label = application("footprint", list(MARKETS), BAN)
    assert len(label.markets) == MARKETS_MAX_COUNT


def test_a_market_named_twice_is_kept_once(application):
    assert application("footprint", ["CN", "DE", "CN"], BAN).markets == ["CN", "DE"]
