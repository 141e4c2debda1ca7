"""The console's points pages: an operator publishes rule versions, runs the catalogue and its
orders, and decides and exports farm payouts, through forms that load the API's own schemas."""

import hashlib

import sqlalchemy as sa

from points.models import CatalogueItem, FarmPayout, PointRule
from tests.conftest import count_rows
from tests.points.test_payouts_api import ask

OFFSET = {"code": "OFFSET-1KG", "name_zh": "个人碳抵消 1 千克", "name_en": "Personal offset, 1 kg",
          "audience": "consumer", "kind": "personal_offset", "price_points": "100", "stock": "50",
          "offset_g_per_unit": "1000"}  # fmt: skip


def test_an_operator_publishes_a_new_rule_version(client, console_sign_in, csrf, session):
    console_sign_in("operator")
    form = {
        "csrf_token": csrf(),
        "event_type": "unit_claim",
        "formula.kind": "per_kg_co2e",
        "formula.points_per_kg": "2.5",
        "cap_per_day": "200",
        "validity_days": "365",
    }
    for _ in range(2):
        assert client.post("/admin/points/rules", data=form).status_code == 303
    rules = session.scalars(sa.select(PointRule).order_by(PointRule.version)).all()
    assert [(rule.version, rule.formula, rule.cap_per_day) for rule in rules] == [
        (1, {"kind": "per_kg_co2e", "points_per_kg": "2.5"}, 200),
        (2, {"kind": "per_kg_co2e", "points_per_kg": "2.5"}, 200),
    ]
    page = client.get("/admin/points/rules?event_type=unit_claim&lang=en").get_data(as_text=True)
    assert page.count("in force") == 1 and "v2" in page and "v1" in page


def test_a_rule_form_with_a_bad_number_names_the_field_and_publishes_nothing(
    client, console_sign_in, csrf, session
):
    console_sign_in("operator")
    response = client.post(
        "/admin/points/rules?lang=en",
        data={"csrf_token": csrf(), "event_type": "unit_claim", "formula.kind": "fixed",
              "formula.points": "ten", "validity_days": "0"},
        headers={"Accept-Language": "en"},
        follow_redirects=True,
    )  # fmt: skip
    text = response.get_data(as_text=True)
    assert "formula.points: Not a valid integer." in text
    assert "Days the points stay valid: Must be greater than or equal to 1" in text
    missing = client.post(
        "/admin/points/rules",
        data={"csrf_token": csrf(), "event_type": "unit_claim", "formula.kind": "fixed",
              "validity_days": "30"},
        follow_redirects=True,
    )  # fmt: skip
    assert "formula.points" in missing.get_data(as_text=True)
    assert count_rows(session, "point_rules") == 0


def test_an_auditor_reads_the_rules_but_cannot_publish(client, console_sign_in, csrf, session):
    console_sign_in("auditor")
    page = client.get("/admin/points/rules")
    assert page.status_code == 200 and "发布新版本" not in page.get_data(as_text=True)
    refused = client.post(
        "/admin/points/rules",
        data={"csrf_token": csrf(), "event_type": "unit_claim", "formula.kind": "fixed",
              "formula.points": "5", "validity_days": "30"},
    )  # fmt: skip
    assert refused.status_code == 403
    assert count_rows(session, "point_rules") == 0


def test_an_operator_adds_an_item_restocks_it_and_takes_it_down(
    client, console_sign_in, csrf, session
):
    console_sign_in("operator")
    assert (
        client.post("/admin/points/catalogue", data={"csrf_token": csrf(), **OFFSET}).status_code
        == 303
    )
    item = session.scalars(sa.select(CatalogueItem)).one()
    assert (item.kind, item.price_points, item.stock_total, item.offset_g_per_unit) == (
        "personal_offset", 100, 50, 1000)  # fmt: skip
    again = client.post("/admin/points/catalogue?lang=en", data={"csrf_token": csrf(), **OFFSET},
                        follow_redirects=True)  # fmt: skip
    assert "Code: Already in use." in again.get_data(as_text=True)
    changed = client.post(
        f"/admin/points/catalogue/{item.id}",
        data={"csrf_token": csrf(), "stock_added": "25", "price_points": "120", "active": "0"},
    )
    assert changed.status_code == 303
    session.expire_all()
    item = session.get(CatalogueItem, item.id)
    assert (item.stock_total, item.stock_available, item.price_points, item.active) == (
        75, 75, 120, False)  # fmt: skip
    page = client.get("/admin/points/catalogue?lang=en").get_data(as_text=True)
    assert "Personal offset, 1 kg" in page and "75 / 75" in page and "inactive" in page


def test_goods_without_grams_and_an_offset_without_them_are_refused(
    client, console_sign_in, csrf, session
):
    console_sign_in("operator")
    response = client.post(
        "/admin/points/catalogue?lang=en",
        data={"csrf_token": csrf(), **OFFSET, "offset_g_per_unit": ""},
        follow_redirects=True,
    )
    assert "offset_g_per_unit: Required for personal offsets" in response.get_data(as_text=True)
    assert count_rows(session, "catalogue_items") == 0


def test_an_operator_fulfils_and_cancels_orders(
    client,
    console_sign_in,
    csrf,
    consumer_tokens,
    give,
    session,
):
    console_sign_in("operator")
    goods = {**OFFSET, "code": "RICE-1KG", "kind": "goods", "offset_g_per_unit": "",
             "name_zh": "有机大米 1 千克", "name_en": "Organic rice, 1 kg"}  # fmt: skip
    client.post("/admin/points/catalogue", data={"csrf_token": csrf(), **goods})
    item = session.scalars(sa.select(CatalogueItem)).one()
    consumer = consumer_tokens()
    give(consumer, 500)
    headers = {"Authorization": f"Bearer {consumer['access_token']}"}
    orders = [
        client.post(
            "/api/v1/points/orders",
            headers={**headers, "Idempotency-Key": f"o-{n}"},
            json={"item_id": item.id},
        ).get_json()  # fmt: skip
        for n in range(2)
    ]
    assert [order["status"] for order in orders] == ["reserved", "reserved"]
    fulfil = client.post(f"/admin/points/orders/{orders[0]['id']}",
                         data={"csrf_token": csrf(), "action": "fulfil"})  # fmt: skip
    cancel = client.post(
        f"/admin/points/orders/{orders[1]['id']}",
        data={"csrf_token": csrf(), "action": "cancel", "note": "缺货"},
    )
    assert (fulfil.status_code, cancel.status_code) == (303, 303)
    mine = client.get("/api/v1/points/me", headers=headers).get_json()
    assert (mine["balance"], mine["available"], mine["lifetime_spent"]) == (400, 400, 100)
    session.expire_all()
    assert session.get(CatalogueItem, item.id).stock_available == 49
    page = client.get("/admin/points/catalogue?status=cancelled&lang=en").get_data(as_text=True)
    assert f"Cancel order {orders[1]['id']}" not in page and "cancelled" in page


def test_an_operator_approves_rejects_and_exports_payouts(
    client,
    console_sign_in,
    csrf,
    farm,
    give,
    session,
):
    organisation, _ = farm
    give(organisation, 3000)
    first, second = (ask(client, farm, key).get_json() for key in ("p-1", "p-2"))
    console_sign_in("operator")
    page = client.get("/admin/points/payouts?status=requested&lang=en").get_data(as_text=True)
    assert f"Approve payout {first['id']}" in page and "10.00" in page
    decide = {"csrf_token": csrf(), "decision": "approved"}
    assert client.post(f"/admin/points/payouts/{first['id']}", data=decide).status_code == 303
    reject = {"csrf_token": csrf(), "decision": "rejected", "note": "账号有误"}
    client.post(f"/admin/points/payouts/{second['id']}", data=reject)
    session.expire_all()
    assert [session.get(FarmPayout, p["id"]).status for p in (first, second)] == [
        "approved",
        "rejected",
    ]
    made = client.post(
        "/admin/points/payouts/exports", data={"csrf_token": csrf(), "method": "bank"}
    )
    assert made.status_code == 303
    export_id = session.get(FarmPayout, first["id"]).export_id
    download = client.get(f"/admin/points/payouts/exports/{export_id}")
    assert (
        download.headers["Content-Disposition"] == f'attachment; filename="payouts-{export_id}.csv"'
    )
    assert download.headers["X-Content-SHA256"] == hashlib.sha256(download.data).hexdigest()
    assert "东厍村家庭农场" in download.data.decode("utf-8-sig")
    # Nothing is left to export: the form says so and makes no empty file.
    nothing = client.post(
        "/admin/points/payouts/exports?lang=en",
        data={"csrf_token": csrf(), "method": "bank"},
        follow_redirects=True,
    )
    assert "payouts-" not in nothing.get_data(as_text=True).split("Transfer files")[0]
    assert nothing.status_code == 200


def test_a_decision_with_an_unknown_value_is_refused(
    client,
    console_sign_in,
    csrf,
    farm,
    give,
    session,
):
    organisation, _ = farm
    give(organisation, 1000)
    payout = ask(client, farm, "p-1").get_json()
    console_sign_in("operator")
    response = client.post(
        f"/admin/points/payouts/{payout['id']}?lang=en",
        data={"csrf_token": csrf(), "decision": "maybe"},
        follow_redirects=True,
    )
    assert "decision: Must be one of: approved, rejected." in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(FarmPayout, payout["id"]).status == "requested"


def test_items_and_orders_page_apart(client, console_sign_in, csrf):
    console_sign_in("operator")
    for number in range(21):
        form = {**OFFSET, "code": f"ITEM-{number:02d}", "name_en": f"Item {number:02d}"}
        assert (
            client.post("/admin/points/catalogue", data={"csrf_token": csrf(), **form}).status_code
            == 303
        )
    first = client.get("/admin/points/catalogue?lang=en").get_data(as_text=True)
    assert "Item 20" in first and "Item 00" not in first
    assert "items_page=2" in first and "Page 1 of 2" in first
    second = client.get("/admin/points/catalogue?lang=en&items_page=2").get_data(as_text=True)
    assert "Item 00" in second and "Item 20" not in second
    assert "No orders match." in second  # the orders list keeps its own first page
