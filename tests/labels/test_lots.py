"""Lot numbers keep to GS1 AI 10: at most ``LOT_NUMBER_MAX_CHARS`` characters, and only those a
Digital Link path carries without escaping. The edge is checked in the domain (the API's body
schema refuses a 21st character before the domain sees it)."""

from datetime import UTC, datetime

import pytest

from labels import lots
from labels.models import Label
from service.base.exceptions import ValidationFailed
from service.base.parties.services import principal_for
from tests.labels.conftest import order

PRICING = lots.Pricing(price_per_tonne_fen=8_000, service_fee_fen=20_000)


def test_the_pattern_is_built_from_the_limit():
    assert lots.LOT_NUMBER_MAX_CHARS == 20
    assert lots.LOT_NUMBER_PATTERN.fullmatch("L" * lots.LOT_NUMBER_MAX_CHARS)
    assert not lots.LOT_NUMBER_PATTERN.fullmatch("L" * (lots.LOT_NUMBER_MAX_CHARS + 1))
    assert not lots.LOT_NUMBER_PATTERN.fullmatch("")


@pytest.fixture()
def order_directly(session, certified, make_staff):
    """Order a lot of a certified footprint label through the domain, as an operator."""
    label = session.get(Label, certified("footprint")["id"])
    principal = principal_for(make_staff(role="operator"))

    def place(lot_number):
        return lots.lot_order(
            session,
            principal=principal,
            label=label,
            lot_number=lot_number,
            units=10,
            pricing=PRICING,
            key_id="A",
            now=datetime.now(UTC),
        )

    return place


def test_a_lot_number_of_20_characters_is_taken(order_directly):
    lot = order_directly("L" * 20)
    assert (lot.lot_number, lot.status) == ("L" * 20, "reserved")


def test_a_lot_number_of_21_characters_is_refused(order_directly):
    with pytest.raises(ValidationFailed) as refused:
        order_directly("L" * 21)
    assert refused.value.fields == {"lot_number": [lots.LOT_NUMBER_MESSAGE]}


def test_the_api_takes_20_characters(client, staff, certified):
    _, headers = staff
    response = order(client, headers, certified("footprint"), 10, lot_number="L" * 20)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["lot_number"] == "L" * 20
