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


def test_cset_82_is_the_specifications_table():
    """GS1 General Specifications, Figure 7.11-1, "GS1 AI encodable character set 82": the
    82 characters, in the table's order."""
    table = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
    assert set(table) == lots.CSET_82 and len(lots.CSET_82) == len(table) == 82
    # Of them, a lot number takes those an RFC 3986 path carries unencoded ("unreserved").
    unreserved = {c for c in table if c.isalnum() or c in "-._~"}
    assert {c for c in table if lots.LOT_NUMBER_PATTERN.fullmatch(c)} == unreserved


@pytest.mark.parametrize(
    ("lot_number", "why"),
    [
        (".", "dot segment"),  # RFC 3986 5.2.4: /10/./21/x is /10/21/x to a browser
        ("..", "dot segment"),  # and /10/../21/x is /21/x
        ("A/B", "needs encoding"),  # CSET 82, but a path separator
        ("A?B", "needs encoding"),  # CSET 82, but starts the query
        ("A%41", "needs encoding"),  # CSET 82, but starts an escape: read as "AA"
        ("A&B", "needs encoding"),
        ("A+B", "needs encoding"),
        ("A#B", "not CSET 82"),  # '#' is not in set 82 at all
        ("A B", "not CSET 82"),
        ("批次1", "not CSET 82"),
        ("A~B", "not CSET 82"),  # unreserved in a URI, but not in set 82
    ],
)
def test_a_lot_number_a_path_cannot_carry_is_refused(order_directly, session, lot_number, why):
    with pytest.raises(ValidationFailed) as refused:
        order_directly(lot_number)
    assert list(refused.value.fields) == ["lot_number"], why


@pytest.mark.parametrize("lot_number", ["...", "A.", ".A", "LT-2026.11_a", "a..b"])
def test_dots_within_a_lot_number_resolve_end_to_end(
    app, client, staff, certified, operator, session, lot_number
):
    """Order the lot, pay, export its codes, and open a printed unit code and the lot code."""
    _, headers = staff
    lot = order(client, headers, certified("footprint"), 3, lot_number=lot_number)
    assert lot.status_code == 201, lot.get_json()
    lot = lot.get_json()
    paid = client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "BOC-78", "amount_fen": lot["amount_fen"]},
    )
    assert paid.status_code == 200, paid.get_json()
    codes = client.get(f"/api/v1/lots/{lot['id']}/codes.csv", headers=headers)
    assert codes.status_code == 200
    uri = codes.get_data(as_text=True).splitlines()[-1].split(",")[-1]
    path = uri.split("://", 1)[1].split("/", 1)[1]
    assert f"/10/{lot_number}/21/" in f"/{path}"
    unit = client.get(f"/{path}", headers={"Accept": "application/json"})
    assert unit.status_code == 200, unit.get_data(as_text=True)[:200]
    assert unit.get_json()["lot"]["lot_number"] == lot_number
    lot_code = client.get(f"/{path.rsplit('/21/', 1)[0]}", headers={"Accept": "application/json"})
    assert lot_code.status_code == 200
