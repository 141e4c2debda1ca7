# ruff: noqa: E501 - the table reads best one route to a line
"""Every role held to its word: one table names, for every write route of the app (every POST,
PUT, PATCH and DELETE of the JSON API and of the console's, the desk's and the reader's forms),
the roles that may make it. The test reads the app's url_map, so a new write route without a row
fails; then it tries every other role on every write and checks each is refused (the API: 401 or
403; the pages: a redirect to sign in, or 403) and that the database is exactly as before.

A 404 stands for a refusal only where the row says so: the object is out of that role's sight,
and answering 403 would tell them it exists."""

from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

import service.models  # noqa: F401 - every table on Base.metadata
from service.base.orm import Base
from tests.admin.conftest import form_token
from tests.admin.test_mine import wechat_sign_in
from tests.labels.conftest import order
from tests.points.test_claims_api import RULE
from tests.points.test_practices_api import RECORD

ROLES = ("anonymous", "consumer", "enterprise_staff", "farm_staff", "operator", "certifier",
         "auditor")  # fmt: skip
EVERYONE = frozenset(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}
OUTSIDERS = frozenset({"consumer", "farm_staff"})  # an enterprise's things are out of their sight
NONE = 999_999  # an id no row has: the role check comes first
PRODUCT = {"gtin": "6901234567885", "name": "新米", "category": "milled_rice",
           "declared_unit": "unit", "net_content_g": 5000}  # fmt: skip
FOOTPRINT = {"method": "declared", "kg_per_unit": "6.2500", "boundary": "cradle_to_gate",
             "gwp_set": "AR5", "period_start": "2025-05-01", "period_end": "2025-10-31",
             "breakdown": {"paddy": "1.0"}, "data_quality": {"primary_data_percent": 80},
             "verifier": "x", "report": {"title": "x", "number": "R-1", "issued_on": "2025-12-01"}}  # fmt: skip
PAYOUT = {"points": 100, "method": "bank", "payee_name": "东厍村", "payee_account": "62220000"}

#: (method, rule) -> (the roles that may, the request, the roles for whom the object is hidden).
#: The request is a function of the fixtures' ids: the path and the JSON body (or form fields).
API = {
    ("POST", "/api/v1/auth/password"): (EVERYONE, lambda c: ("/api/v1/auth/password", {"username": "nobody", "password": "wrong-password"})),
    ("POST", "/api/v1/auth/password/challenge"): (EVERYONE, lambda c: ("/api/v1/auth/password/challenge", {"username": "nobody"})),
    ("POST", "/api/v1/auth/refresh"): (EVERYONE, lambda c: ("/api/v1/auth/refresh", {"refresh_token": "x" * 40})),
    ("POST", "/api/v1/auth/wechat"): (EVERYONE, lambda c: ("/api/v1/auth/wechat", {"code": "x" * 32})),
    ("POST", "/api/v1/auth/wechat/phone"): (SIGNED_IN, lambda c: ("/api/v1/auth/wechat/phone", {"code": "x" * 32})),
    ("POST", "/api/v1/auth/logout"): (SIGNED_IN, lambda c: ("/api/v1/auth/logout", None)),
    ("POST", "/api/v1/payments/wechatpay/notify"): (EVERYONE, lambda c: ("/api/v1/payments/wechatpay/notify", {})),
    ("POST", "/api/v1/credits/imports"): ({"operator"}, lambda c: ("/api/v1/credits/imports", {"format": "json", "content": "{}"})),
    ("POST", "/api/v1/credits/retirements"): ({"operator"}, lambda c: ("/api/v1/credits/retirements", {"registry_code": "YRD-CI", "registry_reference": "R-X", "beneficiary": "x", "purpose": "x", "retired_on": "2026-11-01", "lines": [{"batch_id": 1, "quantity_t": 1}]})),
    ("POST", "/api/v1/labels"): ({"enterprise_staff", "operator"}, lambda c: ("/api/v1/labels", {"product_id": c["product"], "footprint_id": c["footprint"], "scheme": "footprint", "markets": ["CN"]})),
    ("POST", "/api/v1/labels/<id:label_id>/transitions"): ({"certifier"}, lambda c: (f"/api/v1/labels/{c['label']}/transitions", {"to_status": "suspended", "reason": "x"})),
    ("POST", "/api/v1/labels/benchmarks"): ({"operator"}, lambda c: ("/api/v1/labels/benchmarks", {"category": "milled_rice", "kg_per_kg": "1.0", "source": "x", "valid_from": "2026-01-01"})),
    ("POST", "/api/v1/lots"): ({"enterprise_staff", "operator"}, lambda c: ("/api/v1/lots", {"label_id": c["label"], "lot_number": "RT1", "units": 10})),
    ("POST", "/api/v1/lots/<id:lot_id>/cancel"): ({"enterprise_staff", "operator"}, lambda c: (f"/api/v1/lots/{c['reserved']}/cancel", None)),
    ("POST", "/api/v1/lots/<id:lot_id>/offline-payment"): ({"operator"}, lambda c: (f"/api/v1/lots/{c['reserved']}/offline-payment", {"reference": "BOC-1", "amount_fen": c["amount_fen"]})),
    ("POST", "/api/v1/lots/<id:lot_id>/revocations"): ({"enterprise_staff", "operator", "certifier"}, lambda c: (f"/api/v1/lots/{c['issued']}/revocations", {"index_start": 1, "index_end": 1, "reason": "x"})),
    ("POST", "/api/v1/lots/<id:lot_id>/wechatpay"): ({"enterprise_staff"}, lambda c: (f"/api/v1/lots/{c['reserved']}/wechatpay", None)),
    ("POST", "/api/v1/organisations"): (SIGNED_IN, lambda c: ("/api/v1/organisations", {"kind": "farm", "name": "x", "region_code": "310118"})),
    ("PATCH", "/api/v1/organisations/<id:organisation_id>"): ({"enterprise_staff", "operator"}, lambda c: (f"/api/v1/organisations/{c['enterprise']}", {"address": "x"}), OUTSIDERS),
    ("POST", "/api/v1/organisations/<id:organisation_id>/approve"): ({"operator"}, lambda c: (f"/api/v1/organisations/{c['enterprise']}/approve", None)),
    ("POST", "/api/v1/organisations/<id:organisation_id>/suspend"): ({"operator"}, lambda c: (f"/api/v1/organisations/{c['enterprise']}/suspend", None)),
    ("POST", "/api/v1/organisations/<id:organisation_id>/invitations"): ({"enterprise_staff", "operator"}, lambda c: (f"/api/v1/organisations/{c['enterprise']}/invitations", {"phone": "13800138000", "role": "enterprise_staff"}), OUTSIDERS),
    ("POST", "/api/v1/me/invitations/<id:invitation_id>/accept"): (SIGNED_IN, lambda c: (f"/api/v1/me/invitations/{NONE}/accept", None)),
    ("POST", "/api/v1/me/invitations/<id:invitation_id>/decline"): (SIGNED_IN, lambda c: (f"/api/v1/me/invitations/{NONE}/decline", None)),
    ("POST", "/api/v1/points/catalogue"): ({"operator"}, lambda c: ("/api/v1/points/catalogue", {"code": "x", "name_zh": "x", "name_en": "x", "audience": "consumer", "kind": "goods", "price_points": 1, "stock": 1})),
    ("PATCH", "/api/v1/points/catalogue/<int:item_id>"): ({"operator"}, lambda c: (f"/api/v1/points/catalogue/{NONE}", {"active": False})),
    ("POST", "/api/v1/points/claims"): ({"consumer"}, lambda c: ("/api/v1/points/claims", {"code": c["unit"]})),
    ("POST", "/api/v1/points/flags/<int:flag_id>/resolution"): ({"operator"}, lambda c: (f"/api/v1/points/flags/{NONE}/resolution", {"status": "dismissed"})),
    ("POST", "/api/v1/points/grants"): ({"operator"}, lambda c: ("/api/v1/points/grants", {"owner_type": "organisation", "owner_id": c["farm"], "points": 1, "reason": "x"})),
    ("POST", "/api/v1/points/orders"): ({"consumer", "enterprise_staff", "farm_staff"}, lambda c: ("/api/v1/points/orders", {"item_id": NONE})),
    ("POST", "/api/v1/points/orders/<int:order_id>/cancel"): ({"operator"}, lambda c: (f"/api/v1/points/orders/{NONE}/cancel", {}), SIGNED_IN),
    ("POST", "/api/v1/points/orders/<int:order_id>/fulfil"): ({"operator"}, lambda c: (f"/api/v1/points/orders/{NONE}/fulfil", None)),
    ("POST", "/api/v1/points/payouts"): ({"farm_staff"}, lambda c: ("/api/v1/points/payouts", {**PAYOUT, "organisation_id": c["farm"]})),
    ("POST", "/api/v1/points/payouts/<int:payout_id>/decision"): ({"operator"}, lambda c: (f"/api/v1/points/payouts/{NONE}/decision", {"decision": "approved"})),
    ("POST", "/api/v1/points/payouts/exports"): ({"operator"}, lambda c: ("/api/v1/points/payouts/exports", {"method": "bank"})),
    ("POST", "/api/v1/points/practices"): ({"farm_staff"}, lambda c: ("/api/v1/points/practices", {**RECORD, "organisation_id": c["farm"]})),
    ("POST", "/api/v1/points/practices/<int:record_id>/decision"): ({"operator"}, lambda c: (f"/api/v1/points/practices/{NONE}/decision", {"decision": "verified"})),
    ("POST", "/api/v1/points/rules"): ({"operator"}, lambda c: ("/api/v1/points/rules", {**RULE, "event_type": "operator_grant"})),
    ("POST", "/api/v1/products"): ({"enterprise_staff", "operator"}, lambda c: ("/api/v1/products", {**PRODUCT, "organisation_id": c["enterprise"]})),
    ("PATCH", "/api/v1/products/<id:product_id>"): ({"enterprise_staff", "operator"}, lambda c: (f"/api/v1/products/{c['product']}", {"name": "x"})),
    ("POST", "/api/v1/products/<id:product_id>/footprints"): ({"enterprise_staff", "operator"}, lambda c: (f"/api/v1/products/{c['product']}/footprints", FOOTPRINT)),
}  # fmt: skip
OPERATOR_FORMS = {
    "/admin/anomalies/flags/<id:flag_id>": f"/admin/anomalies/flags/{NONE}",
    "/admin/credits": "/admin/credits",
    "/admin/credits/retirements": "/admin/credits/retirements",
    "/admin/credits/findings/<id:finding_id>/resolution": f"/admin/credits/findings/{NONE}/resolution",
    "/admin/lots/<id:lot_id>/payment": "/admin/lots/{reserved}/payment",
    "/admin/organisations/<id:organisation_id>/status": "/admin/organisations/{enterprise}/status",
    "/admin/points/catalogue": "/admin/points/catalogue",
    "/admin/points/catalogue/<id:item_id>": f"/admin/points/catalogue/{NONE}",
    "/admin/points/orders/<id:order_id>": f"/admin/points/orders/{NONE}",
    "/admin/points/payouts/<id:payout_id>": f"/admin/points/payouts/{NONE}",
    "/admin/points/payouts/exports": "/admin/points/payouts/exports",
    "/admin/points/rules": "/admin/points/rules",
    "/admin/publications": "/admin/publications",
    "/admin/publications/<id:publication_id>/status": f"/admin/publications/{NONE}/status",
}
DESK_FORMS = {
    "/desk/labels": "/desk/labels",
    "/desk/lots": "/desk/lots",
    "/desk/lots/<id:lot_id>/cancel": "/desk/lots/{reserved}/cancel",
    "/desk/products": "/desk/products",
    "/desk/products/<id:product_id>/footprints": "/desk/products/{product}/footprints",
}
PAGES = {
    **{("POST", rule): ({"operator"}, path) for rule, path in OPERATOR_FORMS.items()},
    **{("POST", rule): ({"enterprise_staff"}, path) for rule, path in DESK_FORMS.items()},
    ("POST", "/admin/audit"): ({"operator", "auditor"}, "/admin/audit"),
    ("POST", "/admin/labels/<id:label_id>/transitions"): ({"certifier"}, "/admin/labels/{label}/transitions"),
    ("POST", "/admin/login"): (EVERYONE, "/admin/login"),
    ("POST", "/admin/logout"): (EVERYONE, "/admin/logout"),
    ("POST", "/me/claim"): ({"consumer"}, "/me/claim"),
    ("POST", "/me/orders"): ({"consumer"}, "/me/orders"),
}  # fmt: skip
SIGN_IN_PAGES = ("/admin/login", "/me/sign-in")


def write_routes(app):
    return {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}
    }


def test_every_write_route_has_a_row(app):
    assert write_routes(app) == set(API) | set(PAGES)


def snapshot(session):
    """Every row of every table: what a refused write must leave as it was."""
    session.expire_all()
    return {
        table.name: sorted(map(repr, session.execute(sa.select(table)).all()))
        for table in Base.metadata.sorted_tables
    }


@pytest.fixture()
def world(app, client, staff, farm, lot_codes, certified, operator, make_staff, consumer_tokens,
          bearer, sign_in, fake_wechat, session):  # fmt: skip
    """The ids the rows name, every role's API headers, and every role's signed-in page client."""
    enterprise, enterprise_headers = staff
    farm_organisation, farm_headers = farm
    issued = lot_codes.lot
    reserved = order(client, enterprise_headers, certified("footprint"), 10, "RT0").get_json()
    ids = {
        "enterprise": enterprise.id, "farm": farm_organisation.id, "issued": issued["id"],
        "reserved": reserved["id"], "amount_fen": reserved["amount_fen"],
        "product": issued["product_id"], "label": issued["label_id"], "unit": lot_codes(7),
    }  # fmt: skip
    ids["footprint"] = session.scalar(sa.text(f"SELECT footprint_id FROM labels WHERE id = {ids['label']}"))  # noqa: S608  # fmt: skip
    headers = {"anonymous": {}, "consumer": bearer(consumer_tokens()), "operator": operator,
               "enterprise_staff": enterprise_headers, "farm_staff": farm_headers}  # fmt: skip
    pages = {"anonymous": app.test_client()}
    pages["anonymous"].get("/admin/login")  # a visitor's form carries its CSRF token too
    for role in ("certifier", "auditor"):
        headers[role] = bearer(sign_in(make_staff(role=role).username))
    for role, organisation in (("operator", None), ("enterprise_staff", enterprise),
                               ("farm_staff", farm_organisation), ("certifier", None),
                               ("auditor", None)):  # fmt: skip
        user = make_staff(role=role, organisation=organisation)
        page = pages[role] = app.test_client()
        page.environ_base["REMOTE_ADDR"] = f"10.0.0.{len(pages)}"  # sign-ins are limited
        token = form_token(page.get("/admin/login").get_data(as_text=True))
        page.post("/admin/login", data={"username": user.username, "csrf_token": token,
                                        "password": "correct horse battery staple"})  # fmt: skip
    pages["consumer"] = app.test_client()
    pages["consumer"].environ_base["REMOTE_ADDR"] = "10.0.1.1"
    wechat_sign_in(pages["consumer"], app)
    return ids, headers, pages


def test_every_role_is_held_to_its_word_on_every_write(app, world, session):
    ids, headers, pages = world
    before = snapshot(session)
    answers = {}
    for (method, rule), (allowed, request, *hidden) in sorted(API.items()):
        path, body = request(ids)
        for role in sorted(EVERYONE - set(allowed)):
            response = app.test_client().open(
                path, method=method, json=body,
                headers={**headers[role], "Idempotency-Key": f"roles-{role}"},
            )  # fmt: skip
            refusals = {401, 403} | ({404} if hidden and role in hidden[0] else set())
            if response.status_code not in refusals:
                answers[(method, rule, role)] = (response.status_code, response.get_json()["code"])
    for (method, rule), (allowed, path) in sorted(PAGES.items()):
        path = path.format(**ids)
        for role in sorted(EVERYONE - set(allowed)):
            client = pages[role]
            with client.session_transaction() as cookie:
                token = cookie.get("csrf", "")
            response = client.open(path, method=method, data={"csrf_token": token, "code": ids["unit"], "key": "k" * 32})  # fmt: skip
            location = urlparse(response.headers.get("Location", "")).path
            sent_to_sign_in = response.status_code in (302, 303) and location in SIGN_IN_PAGES
            if not (response.status_code == 403 or (role == "anonymous" and sent_to_sign_in)):
                answers[(method, rule, role)] = (response.status_code, location)
    assert sorted(answers.items()) == []
    after = snapshot(session)
    assert {name: rows for name, rows in after.items() if rows != before[name]} == {}
