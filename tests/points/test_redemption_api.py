"""Redemption, worked through: an operator stocks the catalogue; a consumer orders with points
(held, stock reserved); orders are fulfilled or cancelled; limits, audiences, stock and balance
refuse clearly and change nothing; a personal offset allocates retired credits and issues a
certificate entered in the transparency log."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from ledger import entries as ledger
from ledger.tlog import log_sequence, proof_verify
from ledger.tlog.note import parse_signer_key
from tests.conftest import TEST_LOG_KEY, TEST_LOG_ORIGIN, count_rows

TEA_SET = {
    "code": "TEA-SET",
    "name_zh": "青浦茶具",
    "name_en": "Qingpu tea set",
    "audience": "consumer",
    "kind": "goods",
    "price_points": 300,
    "stock": 3,
    "per_party_limit": 2,
}
OFFSET = {
    "code": "OFFSET-10KG",
    "name_zh": "个人碳抵消 10 千克",
    "name_en": "Personal offset, 10 kg",
    "audience": "consumer",
    "kind": "personal_offset",
    "price_points": 100,
    "stock": 1000,
    "offset_g_per_unit": 10_000,
}


def stock(client, operator, item):
    response = client.post("/api/v1/points/catalogue", headers=operator, json=item)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def place(client, headers, key, **body):
    return client.post(
        "/api/v1/points/orders", headers={**headers, "Idempotency-Key": key}, json=body
    )


def me(client, headers):
    return client.get("/api/v1/points/me", headers=headers).get_json()


def test_an_order_holds_points_and_stock_then_is_fulfilled(
    client, operator, consumer_tokens, bearer, give
):
    item = stock(client, operator, TEA_SET)
    alice = consumer_tokens()
    give(alice, 1000)
    headers = bearer(alice)
    response = place(client, headers, "o-1", item_id=item["id"])
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert (order["status"], order["points"]) == ("reserved", 300)
    held = me(client, headers)
    assert (held["balance"], held["available"], held["lifetime_spent"]) == (1000, 700, 0)
    catalogue = client.get("/api/v1/points/catalogue?audience=consumer").get_json()
    assert catalogue[0]["stock_available"] == 2
    replay = place(client, headers, "o-1", item_id=item["id"])
    assert (replay.status_code, replay.get_json()["id"]) == (200, order["id"])
    other = place(client, headers, "o-1", item_id=item["id"], quantity=2)
    assert (other.status_code, other.get_json()["code"]) == (409, "idempotency_conflict")
    fulfilled = client.post(f"/api/v1/points/orders/{order['id']}/fulfil", headers=operator)
    assert fulfilled.get_json()["status"] == "fulfilled"
    spent = me(client, headers)
    assert (spent["balance"], spent["available"], spent["lifetime_spent"]) == (700, 700, 300)
    cancel = client.post(f"/api/v1/points/orders/{order['id']}/cancel", headers=headers, json={})
    assert (cancel.status_code, cancel.get_json()["code"]) == (409, "order_state_conflict")


def test_cancelling_returns_points_and_stock(client, operator, consumer_tokens, bearer, give):
    item = stock(client, operator, TEA_SET)
    alice = consumer_tokens()
    give(alice, 1000)
    order = place(client, bearer(alice), "o-1", item_id=item["id"], quantity=2).get_json()
    cancelled = client.post(
        f"/api/v1/points/orders/{order['id']}/cancel",
        headers=bearer(alice),
        json={"note": "改主意"},
    )
    assert cancelled.get_json()["status"] == "cancelled"
    assert me(client, bearer(alice))["available"] == 1000
    assert client.get("/api/v1/points/catalogue").get_json()[0]["stock_available"] == 3
    # The limit counts live orders only: two more may be ordered again.
    assert place(client, bearer(alice), "o-2", item_id=item["id"], quantity=2).status_code == 201


def test_refusals_are_clear_and_change_nothing(
    client, operator, consumer_tokens, bearer, give, staff, session
):
    item = stock(client, operator, TEA_SET)
    farm_item = stock(client, operator, {**TEA_SET, "code": "SEEDS", "audience": "farm"})
    alice, bob, carol = consumer_tokens(), consumer_tokens(), consumer_tokens()
    give(alice, 1000)
    give(bob, 1000)
    give(carol, 200)
    english = {**bearer(alice), "Accept-Language": "en"}
    limit = place(client, english, "a-1", item_id=item["id"], quantity=3)
    assert (limit.status_code, limit.get_json()["code"]) == (409, "redemption_limit_reached")
    assert place(client, english, "a-2", item_id=item["id"], quantity=2).status_code == 201
    assert place(client, english, "a-3", item_id=item["id"]).get_json()["code"] == (
        "redemption_limit_reached"
    )
    sold_out = place(client, bearer(bob), "b-1", item_id=item["id"], quantity=2)
    assert (sold_out.status_code, sold_out.get_json()["code"]) == (409, "out_of_stock")
    poor = place(client, bearer(carol), "c-1", item_id=item["id"])
    assert (poor.status_code, poor.get_json()["code"]) == (409, "points_insufficient")
    wrong = place(client, bearer(bob), "b-2", item_id=farm_item["id"])
    assert (wrong.status_code, wrong.get_json()["code"]) == (403, "item_not_for_party")
    _, enterprise = staff
    assert place(client, enterprise, "e-1", item_id=item["id"]).status_code == 422
    assert me(client, bearer(bob))["available"] == 1000
    assert me(client, bearer(carol))["available"] == 200
    assert count_rows(session, "redemption_orders") == 1
    stocked = {row["code"]: row["stock_available"] for row in
               client.get("/api/v1/points/catalogue").get_json()}  # fmt: skip
    assert stocked == {"TEA-SET": 1, "SEEDS": 3}


def test_orders_are_private(client, operator, consumer_tokens, bearer, give):
    item = stock(client, operator, TEA_SET)
    alice, bob = consumer_tokens(), consumer_tokens()
    give(alice, 1000)
    order = place(client, bearer(alice), "a-1", item_id=item["id"]).get_json()
    assert (
        client.get(f"/api/v1/points/orders/{order['id']}", headers=bearer(bob)).status_code == 404
    )
    assert (
        client.post(
            f"/api/v1/points/orders/{order['id']}/cancel", headers=bearer(bob), json={}
        ).status_code
        == 404
    )
    assert client.get("/api/v1/points/orders", headers=bearer(bob)).get_json() == []
    assert len(client.get("/api/v1/points/orders", headers=operator).get_json()) == 1


@pytest.mark.usefixtures("programme_tonne")
def test_a_personal_offset_allocates_retired_credits_with_a_certificate(
    client, operator, consumer_tokens, bearer, give, session
):
    item = stock(client, operator, OFFSET)
    alice = consumer_tokens()
    give(alice, 500)
    response = place(client, bearer(alice), "off-1", item_id=item["id"], quantity=3,
                     holder_name="王小明")  # fmt: skip
    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["status"] == "fulfilled"
    number = order["certificate_number"]
    assert number.startswith("TH-PO-")
    assert me(client, bearer(alice))["balance"] == 200
    allocated = session.execute(
        sa.text("SELECT target_type, target_id, quantity_g FROM credit_allocations")
    ).all()
    assert allocated == [("personal_offset", f"order:{order['id']}", 30_000)]
    certificate = client.get(f"/api/v1/points/offsets/{number}").get_json()
    assert (certificate["holder_name"], certificate["quantity_g"]) == ("王小明", 30_000)
    # The programme claims; the consumer is the end beneficiary.
    assert certificate["end_beneficiary"] == "王小明"
    assert certificate["claimant"] == "碳汇平台 Tanhui platform"
    retirement = certificate["retirements"][0]
    assert retirement["registry_reference"] == "R-OFFSETS"
    assert retirement["batches"][0]["vintage"] == 2024
    assert "make no claim" in certificate["statement"]
    assert certificate["log"] is None  # not yet sequenced
    signer = parse_signer_key(TEST_LOG_KEY)
    log_sequence(session, signer=signer, origin=TEST_LOG_ORIGIN, now=datetime.now(UTC))
    proof = client.get(f"/api/v1/points/offsets/{number}").get_json()["log"]
    verified = proof_verify(proof, verifier=signer.verifier(), origin=TEST_LOG_ORIGIN)
    assert '"type":"points.personal_offset"' in verified.data
    assert f'"certificate":"{number}"' in verified.data
    assert client.get("/api/v1/points/offsets/TH-PO-2026-9999999").status_code == 404


@pytest.mark.usefixtures("programme_tonne")
def test_an_offset_beyond_the_retired_credits_changes_nothing(
    client, operator, consumer_tokens, bearer, give, session
):
    item = stock(client, operator, {**OFFSET, "offset_g_per_unit": 600_000, "price_points": 1})
    alice = consumer_tokens()
    give(alice, 10)
    response = place(client, bearer(alice), "off-1", item_id=item["id"], quantity=2)
    assert (response.status_code, response.get_json()["code"]) == (409, "credits_insufficient")
    assert me(client, bearer(alice))["available"] == 10
    assert count_rows(session, "redemption_orders") == 0
    assert client.get("/api/v1/points/catalogue").get_json()[0]["stock_available"] == 1000
    assert ledger.balance_of(session, "platform:credits:allocated").balance == 0


@pytest.mark.usefixtures("retired_tonne")
def test_an_offset_never_draws_on_an_enterprises_retirement(
    client, operator, consumer_tokens, bearer, give, session
):
    """Issue 20: a consumer's certificate pointed at Lianta's retirement. Only the programme's
    retirements back personal offsets; an enterprise's tonne is not the programme's."""
    item = stock(client, operator, OFFSET)
    alice = consumer_tokens()
    give(alice, 500)
    response = place(client, bearer(alice), "off-1", item_id=item["id"], quantity=1)
    assert (response.status_code, response.get_json()["code"]) == (409, "credits_insufficient")
    assert count_rows(session, "credit_allocations") == 0


def test_an_auditor_reads_an_order_but_cannot_cancel_it(
    client, operator, consumer_tokens, bearer, give, make_staff, sign_in, session
):
    """Auditors read every order; cancelling one is its owner's or an operator's act, and the
    refusal changes nothing."""
    item = stock(client, operator, TEA_SET)
    alice = consumer_tokens()
    give(alice, 1000)
    order = place(client, bearer(alice), "a-1", item_id=item["id"]).get_json()
    auditor = bearer(sign_in(make_staff(role="auditor").username))
    assert client.get(f"/api/v1/points/orders/{order['id']}", headers=auditor).status_code == 200
    refused = client.post(
        f"/api/v1/points/orders/{order['id']}/cancel", headers=auditor, json={"note": "x"}
    )
    assert (refused.status_code, refused.get_json()["code"]) == (403, "forbidden")
    assert (
        client.get(f"/api/v1/points/orders/{order['id']}", headers=auditor).get_json()["status"]
        == "reserved"
    )
    assert me(client, bearer(alice))["available"] == 1000 - order["points"]
    cancelled = client.post(
        f"/api/v1/points/orders/{order['id']}/cancel", headers=operator, json={"note": "退回"}
    )
    assert cancelled.get_json()["status"] == "cancelled"


def test_the_personal_offset_programme_is_the_configured_organisation(session, make_organisation):
    """``PERSONAL_OFFSET_PROGRAMME_USCC`` names the programme; empty, it is the platform."""
    from points.redemption import offset_programme
    from service.base.exceptions import NotFound
    from service.base.parties.services import platform_organisation

    programme = make_organisation("enterprise", name="长三角个人碳抵消计划")
    assert offset_programme(session, programme.uscc).id == programme.id
    assert offset_programme(session, "").id == platform_organisation(session).id
    with pytest.raises(NotFound):
        offset_programme(session, "91310000000000000X")
