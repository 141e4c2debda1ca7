"""Authentication before validation, over every API write route: an anonymous caller learns
nothing of a protected endpoint's body. Malformed JSON, a body of the wrong shape and a body that
looks valid all answer the same 401, before the body is read; routes open to anyone are listed
here by name, so a new write route must be one or the other."""

import pytest
from marshmallow import fields
from werkzeug.routing import IntegerConverter

from service.auth.authz import required_roles

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: API writes anyone may call: signing in, and WeChat Pay's signed notification.
OPEN_WRITES = {
    ("/api/v1/auth/wechat", "POST"),
    ("/api/v1/auth/password", "POST"),
    ("/api/v1/auth/password/challenge", "POST"),
    ("/api/v1/auth/refresh", "POST"),
    ("/api/v1/payments/wechatpay/notify", "POST"),
}
MALFORMED = {
    "not JSON": b'{"owner_id": ',
    "the wrong shape": b'{"unexpected": [1, {"x": null}], "points": "many"}',
}
#: A value of each field type, to make a body that looks valid.
LOOKS_VALID = {
    fields.Integer: 1,
    fields.Decimal: "1.5",
    fields.Float: 1.5,
    fields.Boolean: True,
    fields.AwareDateTime: "2026-11-26T08:00:00+08:00",
    fields.DateTime: "2026-11-26T08:00:00+08:00",
    fields.Date: "2026-11-26",
    fields.List: [],
    fields.Dict: {},
    fields.Nested: {},
    fields.String: "练塘",
}


def _api_writes(app):
    """(rule, method, view) of every API write route."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods & WRITE_METHODS):
            yield rule, method, app.view_functions[rule.endpoint]


def _path(rule):
    values = {
        name: 1 if isinstance(converter, IntegerConverter) else "x"
        for name, converter in rule._converters.items()
    }
    return rule.build(values, append_unknown=False)[1]


def _valid_looking(view, method):
    handler = getattr(view.view_class, method.lower()) if hasattr(view, "view_class") else view
    body = {}
    for parameter in getattr(handler, "_apidoc", {}).get("arguments", {}).get("parameters", []):
        if parameter["in"] != "json":
            continue
        schema = parameter["schema"]
        schema = schema() if isinstance(schema, type) else schema
        for name, field in schema.fields.items():
            if field.dump_only:
                continue
            kind = next(k for k in LOOKS_VALID if isinstance(field, k))
            body[field.data_key or name] = LOOKS_VALID[kind]
    return body


def test_every_api_write_route_is_protected_or_listed_as_open(app):
    open_routes = {
        (rule.rule, method)
        for rule, method, view in _api_writes(app)
        if required_roles(view, method) is None
    }
    assert open_routes == OPEN_WRITES


def test_anonymous_writes_answer_401_whatever_the_body(app, client, session):
    answers = {}
    checked = 0
    for rule, method, view in _api_writes(app):
        if (rule.rule, method) in OPEN_WRITES:
            continue
        path = _path(rule)
        bodies = {**MALFORMED, "looks valid": _valid_looking(view, method)}
        for name, body in bodies.items():
            sent = {"data": body} if isinstance(body, bytes) else {"json": body}
            response = client.open(path, method=method, content_type="application/json", **sent)
            answer = response.get_json() or {}
            if (response.status_code, answer.get("code")) != (401, "authentication_required"):
                answers[(rule.rule, method, name)] = (response.status_code, answer.get("code"))
            checked += 1
    assert answers == {}
    assert checked > 3 * 30  # every protected write (34 today), three bodies each


@pytest.mark.parametrize("body", list(MALFORMED.values()))
def test_a_signed_in_caller_is_still_told_what_is_wrong(client, make_staff, sign_in, bearer, body):
    operator = bearer(sign_in(make_staff(role="operator").username))
    response = client.post(
        "/api/v1/points/grants",
        headers={**operator, "Idempotency-Key": "k"},
        data=body,
        content_type="application/json",
    )
    assert response.status_code in (400, 422), response.get_json()
