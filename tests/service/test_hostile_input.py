"""No input makes the API answer 500: every write endpoint in the OpenAPI document is fed
hostile bodies, as a signed-in operator and anonymously, and must answer in the error shape."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.bodies import JSON_NESTING_MAX
from service.errors import ErrorSchema
from tests.conftest import count_rows

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
FIELD_NAMES = [
    "code",
    "username",
    "password",
    "refresh_token",
    "kind",
    "name",
    "uscc",
    "region_code",
    "phone",
    "role",
    "contact_name",
    "address",
]
bodies = json_values | st.dictionaries(st.sampled_from(FIELD_NAMES), json_values, max_size=6)


def write_operations(client):
    spec = client.get("/api/openapi.json").get_json()
    for path, operations in spec["paths"].items():
        for method in ("post", "patch", "put", "delete"):
            if method in operations:
                yield method, re.sub(r"\{\w+\}", "1", path)


@pytest.fixture()
def operator_headers(make_staff, sign_in, bearer):
    return bearer(sign_in(make_staff(role="operator").username))


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, signed_in=st.booleans())
def test_no_body_makes_a_write_endpoint_fail_with_500(client, operator_headers, body, signed_in):
    headers = operator_headers if signed_in else {}
    for method, path in write_operations(client):
        response = getattr(client, method)(path, json=body, headers=headers)
        assert response.status_code < 500 or response.status_code in (502, 503), (path, body)
        if response.status_code >= 400:
            assert ErrorSchema().validate(response.get_json()) == {}, (path, body)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/organisations/99999999999999999999", 404),
        ("/api/v1/organisations/0", 404),
        ("/api/v1/organisations/2147483648", 404),
        ("/api/v1/organisations/abc", 404),
        ("/api/v1/organisations?page=100000", 200),
        ("/api/v1/organisations?page=100001", 422),
        ("/api/v1/organisations?page=100000000000000000000", 422),
        ("/api/v1/organisations?page_size=0", 422),
    ],
)
def test_extreme_paths_and_pages(client, operator_headers, path, status):
    response = client.get(path, headers=operator_headers)
    assert response.status_code == status


def test_control_characters_are_refused_by_field(client, operator_headers, session):
    response = client.post(
        "/api/v1/organisations",
        headers=operator_headers,
        json={"kind": "farm", "name": "沈氏\x00农场", "region_code": "310118"},
    )
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "name"


def post_raw(client, text):
    return client.post(
        "/api/v1/auth/password",
        data=text.encode("utf-8"),
        headers={"Content-Type": "application/json", "Accept-Language": "en"},
    )


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5_000 + "]" * 5_000,  # deeper than the decoder can recurse
        '{"a":' * 33 + "1" + "}" * 33,  # one level past JSON_NESTING_MAX
        '{"username": "\\ud800", "password": "x"}',  # a lone high surrogate
        '{"username": "x\\udfff", "password": "x"}',  # a lone low surrogate
        '{"\\ud800": 1}',  # in a key
        '{"username": ',  # cut short
    ],
    ids=["deep", "past-limit", "high-surrogate", "low-surrogate", "surrogate-key", "truncated"],
)
def test_json_the_service_cannot_hold_is_malformed_json(client, session, text):
    """Deep nesting and lone surrogates are the client's malformed JSON: 400 invalid_json in the
    one error shape, before anything is read or written."""
    sessions = count_rows(session, "sign_in_sessions")
    response = post_raw(client, text)
    assert response.status_code == 400
    assert ErrorSchema().validate(response.get_json()) == {}
    assert response.get_json()["code"] == "invalid_json"
    assert count_rows(session, "sign_in_sessions") == sessions


def test_json_at_the_nesting_limit_and_surrogate_pairs_reach_the_schema(client):
    """The limit itself is allowed, and a character outside the BMP (a surrogate pair in JSON's
    escapes) is an ordinary character: both go on to the schema, which names the fields."""
    nested = '{"a":' * (JSON_NESTING_MAX - 1) + "1" + "}" * (JSON_NESTING_MAX - 1)
    at_limit = post_raw(client, '{"username": "x", "password": "y", "extra": ' + nested + "}")
    assert (at_limit.status_code, at_limit.get_json()["code"]) == (422, "validation_failed")
    pair = post_raw(client, '{"username": "\\ud83c\\udf3e", "password": "wrong password"}')
    assert pair.status_code == 401
    assert pair.get_json()["code"] == "invalid_credentials"
