"""Suspending an organisation, worked through: Tongli's staff still read but every write of theirs
is refused (403 organisation_suspended); its units resolve as suspended on the page, in JSON and
in the linkset, and earn no points; reinstating it restores everything. A farm is suspended the
same way."""

from urllib.parse import urlparse

import pytest

from tests.admin.conftest import form_token
from tests.conftest import count_rows
from tests.labels.conftest import order
from tests.points.test_claims_api import claim
from tests.points.test_practices_api import RECORD

JSON = {"Accept": "application/json"}
TABLES = (
    "products",
    "footprints",
    "labels",
    "label_lots",
    "unit_revocations",
    "memberships",
    "invitations",
)


def set_status(client, operator, organisation, action):  # noqa: F811
    response = client.post(f"/api/v1/organisations/{organisation.id}/{action}", headers=operator)
    assert response.status_code == 200, response.get_json()


def staff_writes(client, staff, lot, label):  # noqa: F811
    """Every write an enterprise's staff make, by the API (and the codes they print)."""
    organisation, headers = staff
    product_id = lot["product_id"]
    return {
        "product": client.post("/api/v1/products", headers=headers, json={
            "organisation_id": organisation.id, "gtin": "6901234567885", "name": "新米",
            "category": "milled_rice", "declared_unit": "unit", "net_content_g": 5000}),
        "product edit": client.patch(
            f"/api/v1/products/{product_id}", headers=headers, json={"name": "改名"}),
        "label": client.post("/api/v1/labels", headers=headers, json={
            "product_id": product_id, "footprint_id": label["footprint_id"],
            "scheme": "footprint", "markets": ["CN"]}),
        "lot": order(client, headers, label, 10, lot_number="LT2026B"),
        "revocation": client.post(f"/api/v1/lots/{lot['id']}/revocations", headers=headers,
                                  json={"index_start": 1, "index_end": 1, "reason": "退货"}),
        "codes": client.get(f"/api/v1/lots/{lot['id']}/codes.csv", headers=headers),
        "organisation": client.patch(
            f"/api/v1/organisations/{organisation.id}", headers=headers, json={"address": "青浦"}),
        "invitation": client.post(f"/api/v1/organisations/{organisation.id}/invitations",
                              headers=headers, json={"phone": "13800138000",
                                                     "role": "enterprise_staff"}),
    }  # fmt: skip


def test_a_suspended_enterprise_reads_but_writes_nothing_until_reinstated(
    client, staff, certified, lot_codes, operator, retired_tonne, session
):
    organisation, headers = staff
    lot, label = lot_codes.lot, certified("footprint")
    set_status(client, operator, organisation, "suspend")
    before = {table: count_rows(session, table) for table in TABLES}

    refused = staff_writes(client, staff, lot, label)
    answers = {name: (r.status_code, r.get_json()["code"]) for name, r in refused.items()}
    assert answers == {name: (403, "organisation_suspended") for name in refused}
    assert {table: count_rows(session, table) for table in TABLES} == before
    assert client.get(f"/api/v1/products/{lot['product_id']}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/lots/{lot['id']}", headers=headers).status_code == 200
    chinese = client.patch(f"/api/v1/products/{lot['product_id']}", json={"name": "x"},
                           headers={**headers, "Accept-Language": "zh-CN"})  # fmt: skip
    assert chinese.get_json()["message"] == "该组织已被暂停：可以查看，但不能进行任何操作。"

    set_status(client, operator, organisation, "approve")
    done = staff_writes(client, staff, lot, label)
    statuses = {name: response.status_code for name, response in done.items()}
    assert statuses == {
        "product": 201, "product edit": 200, "label": 201, "lot": 201, "revocation": 201,
        "codes": 200, "organisation": 200, "invitation": 201,
    }  # fmt: skip


def test_a_suspended_enterprise_cannot_cancel_its_order(
    client, staff, certified, operator, retired_tonne, session
):
    organisation, headers = staff
    lot = order(client, headers, certified("footprint"), 10).get_json()
    set_status(client, operator, organisation, "suspend")
    response = client.post(f"/api/v1/lots/{lot['id']}/cancel", headers=headers)
    assert (response.status_code, response.get_json()["code"]) == (403, "organisation_suspended")
    assert client.get(f"/api/v1/lots/{lot['id']}", headers=headers).get_json()["status"] == (
        "reserved"
    )
    set_status(client, operator, organisation, "approve")
    assert client.post(f"/api/v1/lots/{lot['id']}/cancel", headers=headers).status_code == 200


def test_its_units_resolve_as_suspended_even_when_cached_and_earn_nothing(
    client, staff, lot_codes, operator, rule, consumer_tokens, bearer, session
):
    organisation, _ = staff
    path = urlparse(lot_codes(3)).path
    cached = client.get(path, headers=JSON).get_json()  # cached as genuine
    assert (cached["outcome"], cached["enterprise"]["status"]) == ("genuine", "approved")
    set_status(client, operator, organisation, "suspend")

    record = client.get(path, headers=JSON)
    assert record.status_code == 200
    body = record.get_json()
    assert (body["outcome"], body["enterprise"]["status"]) == ("suspended", "suspended")
    page = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "The platform has suspended the enterprise behind this label" in page
    assert "Genuine" not in page and "/me/claim" not in page
    chinese = client.get(path, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "平台已暂停此标签所属企业" in chinese
    linkset = client.get(path, query_string={"linkType": "all"}).get_json()["linkset"][0]
    assert linkset["https://gs1.org/voc/defaultLink"][0]["outcome"] == ["suspended"]
    alice = consumer_tokens()
    refused = claim(client, alice, bearer, lot_codes(3), "s1")
    assert (refused.status_code, refused.get_json()["code"]) == (409, "claim_enterprise_suspended")
    assert count_rows(session, "unit_claims") == 0

    set_status(client, operator, organisation, "approve")
    assert client.get(path, headers=JSON).get_json()["outcome"] == "genuine"
    assert "Genuine" in client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert claim(client, alice, bearer, lot_codes(3), "s2").status_code == 201


def test_a_suspended_farms_staff_cannot_write(client, farm, operator, session):
    organisation, headers = farm
    set_status(client, operator, organisation, "suspend")
    before = count_rows(session, "practice_records")
    for response in (
        client.post("/api/v1/points/practices", headers=headers,
                    json={**RECORD, "organisation_id": organisation.id}),
        client.post("/api/v1/points/payouts", headers={**headers, "Idempotency-Key": "p1"},
                    json={"organisation_id": organisation.id, "points": 100, "method": "bank",
                          "payee_name": "东厍村", "payee_account": "6222000011112222"}),
        client.patch(f"/api/v1/organisations/{organisation.id}", headers=headers,
                     json={"address": "练塘"}),
    ):  # fmt: skip
        assert (response.status_code, response.get_json()["code"]) == (
            403,
            "organisation_suspended",
        ), response.get_json()
    assert count_rows(session, "practice_records") == before
    assert client.get(f"/api/v1/organisations/{organisation.id}", headers=headers).status_code == (
        200
    )
    set_status(client, operator, organisation, "approve")
    response = client.patch(
        f"/api/v1/organisations/{organisation.id}", headers=headers, json={"address": "练塘"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("page", ["/desk/products", "/desk/lots"])
def test_the_desk_refuses_a_suspended_enterprise_too(
    client, make_organisation, make_staff, operator, page, session
):
    organisation = make_organisation("enterprise")
    user = make_staff(role="enterprise_staff", organisation=organisation)
    token = form_token(client.get("/admin/login").get_data(as_text=True))
    client.post("/admin/login", data={"username": user.username,
                "password": "correct horse battery staple", "csrf_token": token})  # fmt: skip
    set_status(client, operator, organisation, "suspend")
    with client.session_transaction() as cookie:
        csrf = cookie["csrf"]
    before = count_rows(session, "products"), count_rows(session, "label_lots")
    response = client.post(page, data={"csrf_token": csrf, "organisation_id": organisation.id})
    assert response.status_code == 403
    assert "organisation is suspended" in client.post(
        page, data={"csrf_token": csrf}, headers={"Accept-Language": "en"}
    ).get_data(as_text=True)
    assert (count_rows(session, "products"), count_rows(session, "label_lots")) == before
