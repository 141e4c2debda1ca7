"""Every failure has one JSON shape, in zh-CN or en, and changes nothing."""

import re

import pytest
from marshmallow import Schema, fields

from labels.errors import ErrorCode as LabelsCode
from ledger.errors import ErrorCode as LedgerCode
from points.errors import ErrorCode as PointsCode
from service.auth.errors import ErrorCode as SignInCode
from service.base.exceptions import ErrorCode as GroundCode
from service.base.exceptions import ServiceError, Upstream
from service.errors import _GROUND, _SIGN_IN, SECTIONS, STATUS_BY_CODE, ErrorSchema, status_of
from service.i18n import MARSHMALLOW_MESSAGES, MESSAGES, field_message, translated
from tests.conftest import count_rows

REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def assert_error_shape(response, status, code):
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert ErrorSchema().validate(body) == {}
    assert body["status"] == status
    assert body["code"] == code
    assert body["message"]
    assert REQUEST_ID.fullmatch(body["request_id"])
    assert response.headers["X-Request-ID"] == body["request_id"]
    assert "Traceback" not in response.get_data(as_text=True)
    return body


@pytest.fixture()
def app_with_failures(app):
    """Routes that fail the ways that no real route should, to show the 500 shape."""

    @app.get("/api/v1/test/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    return app


def test_400_malformed_json_names_the_problem(client):
    response = client.post(
        "/api/v1/auth/password", data="{not json", content_type="application/json"
    )
    assert_error_shape(response, 400, "invalid_json")


def test_401_without_a_token(client):
    response = client.get("/api/v1/me")
    assert_error_shape(response, 401, "authentication_required")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_403_for_a_missing_role(client, consumer_tokens, bearer, make_organisation):
    organisation = make_organisation(status="pending")
    response = client.post(
        f"/api/v1/organisations/{organisation.id}/approve", headers=bearer(consumer_tokens())
    )
    body = assert_error_shape(response, 403, "role_required")
    assert "operator" in body["message"]


def test_404_for_an_unknown_path(client):
    assert_error_shape(client.get("/api/v1/nothing-here"), 404, "not_found")


def test_405_lists_the_allowed_methods(client):
    response = client.delete("/api/v1/auth/password")
    assert_error_shape(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_409_on_a_duplicate(client, consumer_tokens, bearer, make_organisation):
    existing = make_organisation()
    response = client.post(
        "/api/v1/organisations",
        json={"kind": "enterprise", "name": "Copy", "uscc": existing.uscc},
        headers=bearer(consumer_tokens()),
    )
    body = assert_error_shape(response, 409, "already_exists")
    assert body["fields"][0]["field"] == "uscc"


def test_413_for_a_body_over_the_limit(client, app, session):
    users_before = count_rows(session, "users")
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post(
        "/api/v1/auth/password", data=b"x" * (limit + 1), content_type="application/json"
    )
    body = assert_error_shape(response, 413, "payload_too_large")
    assert str(limit) in body["message"]
    assert count_rows(session, "users") == users_before


def test_a_body_at_the_limit_is_read(client, app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    padding = " " * (limit - len('{"username": "a", "password": "b"}'))
    response = client.post(
        "/api/v1/auth/password",
        data='{"username": "a", "password": "b"}' + padding,
        content_type="application/json",
    )
    assert_error_shape(response, 401, "invalid_credentials")


def test_415_for_a_body_that_is_not_json(client):
    response = client.post(
        "/api/v1/auth/password",
        data="username=a&password=b",
        content_type="application/x-www-form-urlencoded",
    )
    assert_error_shape(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {},
            {
                "username": "Missing data for required field.",
                "password": "Missing data for required field.",
            },
        ),
        (
            {"username": 7, "password": ["x"]},
            {"username": "Not a valid string.", "password": "Not a valid string."},
        ),
        ({"username": "a", "password": "b", "admin": True}, {"admin": "Unknown field."}),
        ({"username": "a" * 65, "password": "b"}, {"username": "Length must be between 1 and 64."}),
    ],
)
def test_422_names_every_bad_field(client, body, expected):
    response = client.post("/api/v1/auth/password", json=body, headers={"Accept-Language": "en"})
    result = assert_error_shape(response, 422, "validation_failed")
    assert {row["field"]: row["message"] for row in result["fields"]} == expected
    assert all(row["location"] == "json" for row in result["fields"])


def test_422_when_the_body_is_not_an_object(client):
    response = client.post(
        "/api/v1/auth/password", json=["username", "password"], headers={"Accept-Language": "en"}
    )
    body = assert_error_shape(response, 422, "validation_failed")
    assert body["fields"] == [
        {"field": "body", "location": "json", "message": "Invalid input type."}
    ]


def test_429_carries_retry_after(make_app):
    client = make_app(RATELIMIT_SIGN_IN="2 per minute").test_client()
    for _ in range(2):
        client.post("/api/v1/auth/password", json={"username": "x", "password": "y"})
    response = client.post("/api/v1/auth/password", json={"username": "x", "password": "y"})
    body = assert_error_shape(response, 429, "rate_limited")
    retry_after_s = int(response.headers["Retry-After"])
    assert 1 <= retry_after_s <= 60
    assert str(retry_after_s) in body["message"]


def test_500_hides_the_details(app_with_failures, caplog):
    client = app_with_failures.test_client()
    response = client.get("/api/v1/test/boom")
    body = assert_error_shape(response, 500, "internal_error")
    assert "hunter2" not in response.get_data(as_text=True)
    logged = [r for r in caplog.records if r.name == "tanhui.errors"]
    assert logged and logged[0].exc_info is not None  # the log keeps what the client does not see
    assert body["request_id"]


@pytest.mark.parametrize(
    ("accept_language", "message", "content_language"),
    [
        (None, "请先登录：需要携带 Bearer 访问令牌。", "zh-CN"),
        ("zh-CN,zh;q=0.9", "请先登录：需要携带 Bearer 访问令牌。", "zh-CN"),
        ("en-US,en;q=0.8", "Sign in first: send a bearer access token.", "en"),
        ("fr-FR", "请先登录：需要携带 Bearer 访问令牌。", "zh-CN"),
        ("fr;q=1, en;q=0.5", "Sign in first: send a bearer access token.", "en"),
    ],
)
def test_messages_follow_accept_language(client, accept_language, message, content_language):
    headers = {"Accept-Language": accept_language} if accept_language else {}
    response = client.get("/api/v1/me", headers=headers)
    assert response.get_json()["message"] == message
    assert response.headers["Content-Language"] == content_language


def test_field_messages_are_localised(client):
    response = client.post(
        "/api/v1/auth/password", json={"username": "a" * 65}, headers={"Accept-Language": "zh-CN"}
    )
    messages = {row["field"]: row["message"] for row in response.get_json()["fields"]}
    assert messages == {"username": "长度须在 1 到 64 之间。", "password": "缺少必填字段。"}


def test_every_error_code_speaks_both_languages():
    for code, message in MESSAGES.items():
        assert translated(message), code


def test_every_marshmallow_message_the_api_uses_has_a_chinese_form(app):
    """Render each default message of the field types the API uses; none may stay English."""

    class Everything(Schema):
        text = fields.String(required=True)
        number = fields.Integer()
        flag = fields.Boolean()
        when = fields.DateTime()
        items = fields.List(fields.String())

    errors = Everything().validate(
        {"number": "x", "flag": "maybe", "when": "noon", "items": 3, "extra": 1}
    )
    english = [message for messages in errors.values() for message in messages]
    assert len(english) == 6
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        for message in english:
            assert field_message(message) != message, message
    assert len(MARSHMALLOW_MESSAGES) > 20


def test_one_table_gives_every_code_its_status_and_each_code_one_section():
    """Every code the service can answer has exactly one HTTP status, in one section of
    ``service.errors``, and a message in both languages."""
    seen: dict[str, int] = {}
    for section in SECTIONS:
        for code in section:
            assert code not in seen, f"{code} is in two sections"
            seen[code] = section[code]
    for enum_ in (GroundCode, SignInCode, LedgerCode, LabelsCode, PointsCode):
        assert set(enum_) <= set(STATUS_BY_CODE), enum_
    assert set(STATUS_BY_CODE) <= set(MESSAGES)
    assert all(400 <= status <= 599 for status in STATUS_BY_CODE.values())


def test_the_frame_sections_hold_exactly_their_closed_enums():
    """The ground's and the sign-in's sections are keyed by their enums, no more, no less."""
    assert set(_GROUND) == set(GroundCode)
    assert set(_SIGN_IN) == set(SignInCode)
    assert all(isinstance(code, SignInCode) for code in _SIGN_IN)


def test_an_external_service_failure_answers_by_its_cause():
    def failure(upstream):
        return ServiceError(code="wechat_unavailable", upstream=upstream)

    assert status_of(failure(None)) == 502
    assert status_of(failure(Upstream.BAD_ANSWER)) == 502
    assert status_of(failure(Upstream.UNREACHABLE)) == 503
    assert status_of(failure(Upstream.TIMEOUT)) == 504
