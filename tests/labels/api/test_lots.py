"""Label lots, worked through: an enterprise quotes and orders a lot of a certified carbon-neutral
label, the credits are held, an operator confirms the bank transfer, and the lot is backed by
allocated retired grams and issued; units can then be revoked."""

import pytest
import sqlalchemy as sa

from labels import lots
from labels.codes import CodeInvalid, serial_for
from labels.models import LabelLot, Product
from ledger import credits
from ledger import entries as ledger
from ledger.models import Account
from tests.labels.conftest import order

T = 1_000_000


def pool(session):
    """The retired pool of the enterprise the lots are ordered for (the only one a test has)."""
    (code,) = session.scalars(
        sa.select(Account.code).where(Account.code.like("credits:retired:org:%"))
    ).all()
    return code


def available_g(session):
    return ledger.balance_of(session, pool(session)).available


def test_a_quote_prices_the_grams_and_the_fee(client, staff, certified):
    _, headers = staff
    label = certified()
    response = client.get(
        "/api/v1/lots/quote", headers=headers, query_string={"label_id": label["id"], "units": 100}
    )
    assert response.status_code == 200
    # 100 bags × 6,250 g; 0.625 t × 8,000 fen/t = 5,000 fen, plus the 20,000 fen fee.
    assert response.get_json() == {
        "units": 100,
        "grams_per_unit": 6_250,
        "grams_required": 625_000,
        "price_per_tonne_fen": 8_000,
        "service_fee_fen": 20_000,
        "amount_fen": 25_000,
        # Nothing is retired in the enterprise's name yet: 0.625 t means retiring 1 t.
        "retired_available_g": 0,
        "tonnes_to_retire": 1,
    }


def test_order_pay_and_issue(client, staff, certified, operator, session, retired_tonne):
    _, headers = staff
    label = certified()
    ordered = order(client, headers, label, 100)
    assert ordered.status_code == 201, ordered.get_json()
    lot = ordered.get_json()
    assert (lot["status"], lot["amount_fen"]) == ("reserved", 25_000)
    assert available_g(session) == T - 625_000

    wrong = client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "ICBC-20261124-001", "amount_fen": 24_999},
    )
    assert wrong.status_code == 422
    paid = client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "ICBC-20261124-001", "amount_fen": 25_000},
    )
    assert paid.status_code == 200, paid.get_json()
    assert paid.get_json()["status"] == "issued"
    backing = credits.allocations_of(session, "label_lot", str(lot["id"]))
    assert [b["quantity_g"] for b in backing] == [625_000]
    assert ledger.balance_of(session, lots.PLATFORM_REVENUE_ACCOUNT).balance == 25_000
    assert ledger.balance_of(session, pool(session)).balance == T - 625_000

    again = client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "ICBC-20261124-001", "amount_fen": 25_000},
    )
    assert again.status_code == 200
    other = client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "ICBC-20261124-002", "amount_fen": 25_000},
    )
    assert (other.status_code, other.get_json()["code"]) == (409, "lot_state_conflict")
    assert ledger.balance_of(session, lots.PLATFORM_REVENUE_ACCOUNT).balance == 25_000
    assert client.post(f"/api/v1/lots/{lot['id']}/cancel", headers=headers).status_code == 409


def test_an_order_beyond_the_retired_credits_holds_what_there_is_and_names_the_tonnes_to_retire(
    client, staff, certified, session, retired_tonne
):
    _, headers = staff
    label = certified()
    response = order(client, headers, label, 161)  # 161 × 6,250 g = 1,006,250 g > 1 t
    assert response.status_code == 201, response.get_json()
    lot = response.get_json()
    assert (lot["status"], lot["held_g"], lot["tonnes_to_retire"]) == ("reserved", T, 1)
    assert lot["retirement"] is None
    assert available_g(session) == 0


def test_cancelling_releases_the_hold(client, staff, certified, session, retired_tonne):
    _, headers = staff
    lot = order(client, headers, certified(), 160).get_json()
    assert available_g(session) == 0
    for _ in range(2):
        response = client.post(f"/api/v1/lots/{lot['id']}/cancel", headers=headers)
        assert (response.status_code, response.get_json()["status"]) == (200, "cancelled")
    assert available_g(session) == T


def test_a_footprint_label_lot_needs_no_credits(client, staff, certified, operator, session):
    _, headers = staff
    lot = order(client, headers, certified("footprint"), 5_000).get_json()
    assert (lot["grams_required"], lot["amount_fen"]) == (0, 20_000)
    paid = client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "BOC-1", "amount_fen": 20_000},
    )
    assert (paid.get_json()["status"], paid.get_json()["allocation_id"]) == ("issued", None)


def test_only_certified_labels_take_orders(client, staff, certified):
    _, headers = staff
    response = order(client, headers, certified(decide=False), 10)
    assert (response.status_code, response.get_json()["code"]) == (409, "label_not_certified")


@pytest.mark.parametrize("lot_number", ["", "LOT 1", "批次1", "L" * 21, "A/B"])
def test_lot_numbers_fit_gs1_ai_10(client, staff, certified, lot_number):
    _, headers = staff
    response = order(client, headers, certified("footprint"), 10, lot_number=lot_number)
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "lot_number"


def test_units_are_revoked_by_range(app, client, staff, certified, operator, session):
    _, headers = staff
    lot = order(client, headers, certified("footprint"), 1_000).get_json()
    client.post(
        f"/api/v1/lots/{lot['id']}/offline-payment",
        headers=operator,
        json={"reference": "BOC-2", "amount_fen": 20_000},
    )
    response = client.post(
        f"/api/v1/lots/{lot['id']}/revocations",
        headers=headers,
        json={"index_start": 100, "index_end": 199, "reason": "包装破损，整箱召回"},
    )
    assert response.status_code == 201, response.get_json()
    bad = client.post(
        f"/api/v1/lots/{lot['id']}/revocations",
        headers=headers,
        json={"index_start": 5, "index_end": 1_000, "reason": "x"},
    )
    assert bad.status_code == 422

    row = session.get(LabelLot, lot["id"])
    product = session.get(Product, row.product_id)
    keys = app.config["UNIT_CODE_MASTER_KEYS"]
    key = lots.lot_key_of(row, product, keys)
    assert lots.unit_check(session, row, product, serial_for(key, 150), keys) == (150, True)
    assert lots.unit_check(session, row, product, serial_for(key, 99), keys) == (99, False)
    genuine = serial_for(key, 99)
    forged = genuine[:-1] + ("B" if genuine[-1] == "A" else "A")
    with pytest.raises(CodeInvalid):
        lots.unit_check(session, row, product, forged, keys)
