"""WeChat mini-program sign-in against a local server speaking the documented protocol."""

import pytest
import sqlalchemy as sa

from service.base.parties.models import User, WeChatIdentity
from tests.conftest import count_rows


def test_a_first_sign_in_creates_a_consumer(client, fake_wechat, session):
    code = fake_wechat.issue_code("o-first-user")
    response = client.post("/api/v1/auth/wechat", json={"code": code})
    assert response.status_code == 200
    body = response.get_json()
    assert body["created"] is True
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 15 * 60
    assert "session_key" not in response.get_data(as_text=True)
    assert [m["role"] for m in body["user"]["memberships"]] == ["consumer"]

    identity = session.scalars(sa.select(WeChatIdentity)).one()
    assert (identity.openid, identity.user_id) == ("o-first-user", body["user"]["id"])
    assert fake_wechat.calls["/sns/jscode2session"] == 1


def test_the_same_openid_signs_in_as_the_same_user(client, fake_wechat, session):
    first = client.post("/api/v1/auth/wechat", json={"code": fake_wechat.issue_code("o-again")})
    second = client.post("/api/v1/auth/wechat", json={"code": fake_wechat.issue_code("o-again")})
    assert second.status_code == 200
    assert second.get_json()["created"] is False
    assert second.get_json()["user"]["id"] == first.get_json()["user"]["id"]
    assert count_rows(session, "users") == 1


def test_unionid_links_a_user_across_mini_programs(client, fake_wechat, session):
    first = client.post(
        "/api/v1/auth/wechat", json={"code": fake_wechat.issue_code("o-app-a", unionid="u-42")}
    ).get_json()
    # Another mini-program of the same Open Platform account: same unionid, another openid.
    session.add(
        WeChatIdentity(
            user_id=first["user"]["id"], appid="wx-other-app", openid="o-app-b", unionid="u-42"
        )
    )
    session.execute(sa.delete(WeChatIdentity).where(WeChatIdentity.openid == "o-app-a"))
    session.commit()
    second = client.post(
        "/api/v1/auth/wechat", json={"code": fake_wechat.issue_code("o-app-a", unionid="u-42")}
    ).get_json()
    assert second["user"]["id"] == first["user"]["id"]
    assert second["created"] is False


def test_a_unionid_that_appears_later_is_recorded(client, fake_wechat, session):
    client.post("/api/v1/auth/wechat", json={"code": fake_wechat.issue_code("o-late")})
    client.post(
        "/api/v1/auth/wechat", json={"code": fake_wechat.issue_code("o-late", unionid="u-late")}
    )
    identity = session.scalars(sa.select(WeChatIdentity)).one()
    assert identity.unionid == "u-late"


def test_a_code_works_once(client, fake_wechat, session):
    code = fake_wechat.issue_code("o-once")
    assert client.post("/api/v1/auth/wechat", json={"code": code}).status_code == 200
    again = client.post(
        "/api/v1/auth/wechat", json={"code": code}, headers={"Accept-Language": "en"}
    )
    assert again.status_code == 400
    assert again.get_json()["code"] == "wechat_code_used"


@pytest.mark.parametrize(
    ("errcode", "status", "code", "retry_after"),
    [
        (40029, 400, "wechat_code_invalid", None),
        (40163, 400, "wechat_code_used", None),
        (45011, 429, "wechat_rate_limited", "60"),
        (40226, 403, "wechat_high_risk_user", None),
        (-1, 503, "wechat_busy", "2"),
        (40013, 502, "wechat_misconfigured", None),
        (40125, 502, "wechat_misconfigured", None),
        (99999, 502, "wechat_error", None),
    ],
)
def test_every_documented_errcode_is_its_own_error(
    client, fake_wechat, session, errcode, status, code, retry_after
):
    fake_wechat.fail_next("/sns/jscode2session", errcode)
    response = client.post(
        "/api/v1/auth/wechat",
        json={"code": fake_wechat.issue_code("o-x")},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == status
    body = response.get_json()
    assert body["code"] == code
    assert response.headers.get("Retry-After") == retry_after
    if status == 400:
        assert body["fields"][0]["field"] == "code"
    assert count_rows(session, "users") == 0


def test_an_unknown_code_is_rejected_by_the_fake_as_wechat_does(client):
    response = client.post("/api/v1/auth/wechat", json={"code": "made-up"})
    assert response.status_code == 400
    assert response.get_json()["code"] == "wechat_code_invalid"


def test_wechat_unreachable_is_a_clear_502(make_app, session):
    client = make_app(WECHAT_API_BASE_URL="http://127.0.0.1:9").test_client()
    response = client.post("/api/v1/auth/wechat", json={"code": "anything"})
    assert response.status_code == 502
    assert response.get_json()["code"] == "wechat_unavailable"
    assert count_rows(session, "users") == 0


def test_a_garbled_wechat_answer_is_a_clear_502(client, fake_wechat, httpserver):
    fake_wechat.content_type = "text/html"
    httpserver.clear_all_handlers()
    httpserver.expect_request("/sns/jscode2session").respond_with_data("<html>gateway</html>")
    response = client.post("/api/v1/auth/wechat", json={"code": "anything"})
    assert response.status_code == 502
    assert response.get_json()["code"] == "wechat_unavailable"


def test_json_labelled_text_plain_is_read(client, fake_wechat):
    fake_wechat.content_type = "text/plain"
    response = client.post("/api/v1/auth/wechat", json={"code": fake_wechat.issue_code("o-txt")})
    assert response.status_code == 200


def test_without_an_appid_wechat_sign_in_is_not_configured(make_app):
    client = make_app(WECHAT_APPID="", WECHAT_SECRET="").test_client()
    response = client.post("/api/v1/auth/wechat", json={"code": "c"})
    assert response.status_code == 503
    assert response.get_json()["code"] == "wechat_not_configured"


def test_a_disabled_user_cannot_sign_in(client, fake_wechat, session):
    client.post("/api/v1/auth/wechat", json={"code": fake_wechat.issue_code("o-off")})
    session.execute(sa.update(User).values(is_active=False))
    session.commit()
    response = client.post("/api/v1/auth/wechat", json={"code": fake_wechat.issue_code("o-off")})
    assert response.status_code == 403
    assert response.get_json()["code"] == "account_disabled"
