"""Every endpoint that takes an Idempotency-Key, worked through in one table: a request, the same
request again (the same answer, nothing new), then the key with each field of the body changed in
turn, one row per field: each is refused with ``idempotency_conflict`` naming the header, and
nothing changes. The table must name every view that reads the header, so a new idempotent
endpoint without its rows fails here."""

import inspect
from dataclasses import dataclass

import pytest

from points import idempotency
from tests.conftest import count_rows

#: What a refused request must leave as it was.
TABLES = ("unit_claims", "redemption_orders", "farm_payouts", "ledger_entries", "ledger_holds")
#: A field that chooses whose keys the key is one of, not a field of the request the key names:
#: a payout's key is its farm's (the same key for another farm is another key).
SCOPE_FIELDS = {"/api/v1/points/payouts": {"organisation_id"}}
TEA_SET = {"code": "TEA-SET", "name_zh": "青浦茶具", "name_en": "Qingpu tea set",
           "audience": "consumer", "kind": "goods", "price_points": 300, "stock": 3}  # fmt: skip
BANK = {"points": 1000, "method": "bank", "payee_name": "东厍村家庭农场",
        "payee_account": "6222021001112223334", "bank_name": "青浦农商银行练塘支行"}  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    path: str
    headers: dict
    body: dict
    #: Each field of the body, and another valid value for it.
    changes: dict


def _grants(fixture):
    operator = fixture("operator")
    fixture("give")  # the operator_grant rule
    alice, bob = fixture("consumer_tokens")(), fixture("consumer_tokens")()
    body = {"owner_type": "user", "owner_id": alice["user"]["id"], "points": 10,
            "reason": "活动奖励"}  # fmt: skip
    changes = {"owner_type": "organisation", "owner_id": bob["user"]["id"], "points": 11,
               "reason": "另一个"}  # fmt: skip
    return Endpoint("/api/v1/points/grants", operator, body, changes)


def _orders(fixture):
    client, operator = fixture("client"), fixture("operator")
    items = [
        client.post("/api/v1/points/catalogue", headers=operator, json=item).get_json()["id"]
        for item in (TEA_SET, {**TEA_SET, "code": "TEA-CUP"})
    ]
    alice = fixture("consumer_tokens")()
    fixture("give")(alice, 1000)
    body = {"item_id": items[0], "quantity": 1, "holder_name": "王小明"}
    changes = {"item_id": items[1], "quantity": 2, "holder_name": "李雷"}
    return Endpoint("/api/v1/points/orders", fixture("bearer")(alice), body, changes)


def _claims(fixture):
    client, lot_codes = fixture("client"), fixture("lot_codes")
    rule = {"event_type": "unit_claim", "formula": {"kind": "fixed", "points": 10},
            "validity_days": 365}  # fmt: skip
    assert client.post("/api/v1/points/rules", headers=fixture("operator"), json=rule).status_code
    body = {"code": lot_codes(0), "region": "310118"}
    changes = {"code": lot_codes(1), "region": "320509"}
    headers = fixture("bearer")(fixture("consumer_tokens")())
    return Endpoint("/api/v1/points/claims", headers, body, changes)


def _payouts(fixture):
    organisation, headers = fixture("farm")
    fixture("give")(organisation, 1500)
    body = {**BANK, "organisation_id": organisation.id}
    changes = {"points": 1100, "method": "wechat", "payee_name": "东厍村合作社",
               "payee_account": "6222021001112229999", "bank_name": "青浦农商银行"}  # fmt: skip
    return Endpoint("/api/v1/points/payouts", headers, body, changes)


ENDPOINTS = {
    "/api/v1/points/grants": _grants,
    "/api/v1/points/orders": _orders,
    "/api/v1/points/claims": _claims,
    "/api/v1/points/payouts": _payouts,
}
ROWS = [
    ("/api/v1/points/grants", "owner_type"),
    ("/api/v1/points/grants", "owner_id"),
    ("/api/v1/points/grants", "points"),
    ("/api/v1/points/grants", "reason"),
    ("/api/v1/points/orders", "item_id"),
    ("/api/v1/points/orders", "quantity"),
    ("/api/v1/points/orders", "holder_name"),
    ("/api/v1/points/claims", "code"),
    ("/api/v1/points/claims", "region"),
    ("/api/v1/points/payouts", "points"),
    ("/api/v1/points/payouts", "method"),
    ("/api/v1/points/payouts", "payee_name"),
    ("/api/v1/points/payouts", "payee_account"),
    ("/api/v1/points/payouts", "bank_name"),
]


def _views_reading_the_header(app):
    """(path, method) of every view whose code reads the Idempotency-Key header."""
    found = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            function = getattr(view_class, method.lower(), None) if view_class else view
            if function is None:
                continue
            source = inspect.getsource(inspect.unwrap(function))
            if "idempotency_key()" in source or "Idempotency-Key" in source:
                found.add((rule.rule, method))
    return found


def test_the_table_names_every_idempotent_endpoint_and_every_field(app, request):
    assert _views_reading_the_header(app) == {(path, "POST") for path in ENDPOINTS}
    assert {path for path, _ in ROWS} == set(ENDPOINTS)
    for path, setup in ENDPOINTS.items():
        endpoint = setup(request.getfixturevalue)
        fields = set(endpoint.body) - SCOPE_FIELDS.get(path, set())
        assert fields == set(endpoint.changes) == {f for p, f in ROWS if p == path}, path


def _post(client, endpoint, key, body):
    return client.post(
        endpoint.path, headers={**endpoint.headers, "Idempotency-Key": key}, json=body
    )


def _counts(session):
    return {table: count_rows(session, table) for table in TABLES}


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_the_same_request_again_answers_the_same_and_adds_nothing(client, session, request, path):
    endpoint = ENDPOINTS[path](request.getfixturevalue)
    first = _post(client, endpoint, "key-1", endpoint.body)
    assert first.status_code == 201, first.get_json()
    before = _counts(session)
    # The same body in another key order and spacing is the same request.
    again = _post(client, endpoint, "key-1", dict(reversed(endpoint.body.items())))
    assert again.status_code in (200, 201), again.get_json()
    assert again.get_json() == first.get_json()
    assert _counts(session) == before


@pytest.mark.parametrize(("path", "field"), ROWS)
def test_the_key_with_one_field_changed_is_refused_and_changes_nothing(
    client, session, request, path, field
):
    endpoint = ENDPOINTS[path](request.getfixturevalue)
    first = _post(client, endpoint, "key-1", endpoint.body)
    assert first.status_code == 201, first.get_json()
    before = _counts(session)
    changed = _post(client, endpoint, "key-1", {**endpoint.body, field: endpoint.changes[field]})
    answer = changed.get_json()
    assert (changed.status_code, answer["code"]) == (409, "idempotency_conflict"), answer
    assert [f["field"] for f in answer["fields"]] in (["Idempotency-Key"], [field])
    assert _counts(session) == before
    assert _post(client, endpoint, "key-1", endpoint.body).get_json() == first.get_json()


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_a_field_added_or_a_query_is_another_request(client, session, request, path):
    endpoint = ENDPOINTS[path](request.getfixturevalue)
    assert _post(client, endpoint, "key-1", endpoint.body).status_code == 201
    before = _counts(session)
    added = _post(client, endpoint, "key-1", {**endpoint.body, "note": "x"})
    assert added.status_code in (409, 422), added.get_json()  # unknown fields are refused anyway
    queried = client.post(
        f"{endpoint.path}?dry_run=1",
        headers={**endpoint.headers, "Idempotency-Key": "key-1"},
        json=endpoint.body,
    )
    assert queried.get_json()["code"] == "idempotency_conflict"
    assert _counts(session) == before


def test_a_fingerprint_is_the_whole_request_in_canonical_form():
    same = idempotency.request_sha256(method="post", path="/p", query={}, body={"b": 1, "a": "碳"})
    assert same == idempotency.request_sha256(
        method="POST", path="/p", query={}, body={"a": "碳", "b": 1}
    )
    assert len(same) == idempotency.REQUEST_SHA256_CHARS
    for other in (
        {"method": "PUT", "path": "/p", "query": {}, "body": {"a": "碳", "b": 1}},
        {"method": "POST", "path": "/q", "query": {}, "body": {"a": "碳", "b": 1}},
        {"method": "POST", "path": "/p", "query": {"x": ["1"]}, "body": {"a": "碳", "b": 1}},
        {"method": "POST", "path": "/p", "query": {}, "body": {"a": "碳", "b": 2}},
    ):
        assert idempotency.request_sha256(**other) != same
