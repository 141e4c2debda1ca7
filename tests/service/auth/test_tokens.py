"""Access tokens are pinned and checked; refresh tokens rotate; reuse and logout revoke."""

import time
import uuid
from datetime import datetime, timedelta

import jwt
import pytest

from service.auth import tokens
from service.base.exceptions import AuthenticationFailed
from tests.conftest import TEST_SECRET


def claims(**changes):
    now = int(time.time())
    base = {
        "iss": "tanhui",
        "aud": "tanhui-api",
        "sub": "1",
        "sid": "s",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def forge(payload, *, key=TEST_SECRET, algorithm="HS256", typ="at+jwt"):
    return jwt.encode(payload, key, algorithm=algorithm, headers={"typ": typ})


@pytest.fixture()
def signed_in(client, make_staff, sign_in):
    user = make_staff()
    return sign_in(user.username)


def me(client, token):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})


def test_a_valid_token_reaches_the_user(client, signed_in):
    response = me(client, signed_in["access_token"])
    assert response.status_code == 200
    assert response.get_json()["id"] == signed_in["user"]["id"]


def test_the_token_states_its_issuer_audience_and_session(signed_in):
    header = jwt.get_unverified_header(signed_in["access_token"])
    payload = jwt.decode(signed_in["access_token"], options={"verify_signature": False})
    assert header == {"alg": "HS256", "typ": "at+jwt"}
    assert payload["iss"] == "tanhui" and payload["aud"] == "tanhui-api"
    assert payload["exp"] - payload["iat"] == 15 * 60
    assert payload["sid"] and payload["jti"]


def _with_session(signed_in, **changes):
    payload = jwt.decode(signed_in["access_token"], options={"verify_signature": False})
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


@pytest.mark.parametrize(
    ("case", "make_token", "code"),
    [
        ("tampered payload", lambda s: s["access_token"][:-4] + "AAAA", "token_invalid"),
        (
            "wrong key",
            lambda s: forge(_with_session(s), key="another-secret-" + "y" * 40),
            "token_invalid",
        ),
        (
            "alg none",
            lambda s: jwt.encode(
                _with_session(s), None, algorithm="none", headers={"typ": "at+jwt"}
            ),
            "token_invalid",
        ),
        ("other algorithm", lambda s: forge(_with_session(s), algorithm="HS512"), "token_invalid"),
        ("wrong issuer", lambda s: forge(_with_session(s, iss="someone-else")), "token_invalid"),
        ("wrong audience", lambda s: forge(_with_session(s, aud="another-api")), "token_invalid"),
        ("missing jti", lambda s: forge(_with_session(s, jti=None)), "token_invalid"),
        ("missing session", lambda s: forge(_with_session(s, sid=None)), "token_invalid"),
        ("unknown session", lambda s: forge(_with_session(s, sid="nope")), "token_invalid"),
        ("other user's id", lambda s: forge(_with_session(s, sub="999999")), "token_invalid"),
        ("refresh token as access", lambda s: s["refresh_token"], "token_invalid"),
        ("not a JWT type", lambda s: forge(_with_session(s), typ="JWT"), "token_invalid"),
        (
            "expired",
            lambda s: forge(
                _with_session(
                    s,
                    iat=int(time.time()) - 3600,
                    nbf=int(time.time()) - 3600,
                    exp=int(time.time()) - 60,
                )
            ),
            "token_expired",
        ),
    ],
)
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # forging HS512
def test_bad_tokens_are_refused(client, signed_in, case, make_token, code):
    response = me(client, make_token(signed_in))
    assert response.status_code == 401, case
    assert response.get_json()["code"] == code, case
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "token abc"])
def test_malformed_authorization_headers(client, header):
    response = client.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["code"] == "token_invalid"


def test_refresh_rotates_the_refresh_token(client, signed_in):
    response = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": signed_in["refresh_token"]}
    )
    assert response.status_code == 200
    rotated = response.get_json()
    assert rotated["refresh_token"] != signed_in["refresh_token"]
    assert me(client, rotated["access_token"]).status_code == 200
    # The session is the same, so the first access token keeps working until it expires.
    assert me(client, signed_in["access_token"]).status_code == 200


def test_reusing_a_refresh_token_revokes_its_whole_family(client, signed_in):
    first = signed_in["refresh_token"]
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first}).get_json()

    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert replay.status_code == 401
    assert replay.get_json()["code"] == "refresh_token_reused"

    # Everything in that session is dead now: the successor and every access token.
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401
    assert after.get_json()["code"] == "refresh_token_invalid"
    assert me(client, second["access_token"]).get_json()["code"] == "session_revoked"
    assert me(client, signed_in["access_token"]).get_json()["code"] == "session_revoked"


def test_reuse_revokes_only_that_session(client, make_staff, sign_in):
    user = make_staff()
    phone, desk = sign_in(user.username), sign_in(user.username)
    client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert me(client, phone["access_token"]).status_code == 401
    assert me(client, desk["access_token"]).status_code == 200


def test_an_unknown_refresh_token(client):
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"})
    assert response.status_code == 401
    assert response.get_json()["code"] == "refresh_token_invalid"


def test_an_expired_refresh_token(make_app, make_staff):
    app = make_app(REFRESH_TOKEN_TTL_S=1)
    client = app.test_client()
    user = make_staff()
    tokens = client.post(
        "/api/v1/auth/password",
        json={"username": user.username, "password": "correct horse battery staple"},
    ).get_json()
    time.sleep(1.1)
    response = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert response.status_code == 401
    assert response.get_json()["code"] == "refresh_token_invalid"


def test_logout_ends_access_and_refresh_at_once(client, signed_in, bearer):
    response = client.post("/api/v1/auth/logout", headers=bearer(signed_in))
    assert response.status_code == 204
    assert me(client, signed_in["access_token"]).get_json()["code"] == "session_revoked"
    refresh = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": signed_in["refresh_token"]}
    )
    assert refresh.status_code == 401
    assert refresh.get_json()["code"] == "refresh_token_invalid"


def test_logout_needs_a_token(client):
    assert client.post("/api/v1/auth/logout").status_code == 401


def test_a_remembered_token_still_expires_and_a_tampered_one_is_not_remembered(monkeypatch):
    """A token verified once is not verified again, but its expiry still applies; a token that
    differs by a byte is another token and fails verification."""
    settings = tokens.TokenSettings(TEST_SECRET, "tanhui", "tanhui-api", 900, 86_400)
    token = forge(claims(sid="s-remembered", exp=int(time.time()) + 60))
    first = tokens.access_token_decode(settings, token)
    assert tokens.access_token_decode(settings, token) is first  # remembered
    with pytest.raises(AuthenticationFailed) as error:
        tokens.access_token_decode(settings, token[:-2] + ("AA" if token[-2:] != "AA" else "BB"))
    assert error.value.code == "token_invalid"
    other_secret = tokens.TokenSettings("x" * 48, "tanhui", "tanhui-api", 900, 86_400)
    with pytest.raises(AuthenticationFailed):
        tokens.access_token_decode(other_secret, token)

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.now(tz) + timedelta(seconds=60 + tokens.CLOCK_LEEWAY_S)

    monkeypatch.setattr(tokens, "datetime", Later)
    with pytest.raises(AuthenticationFailed) as error:
        tokens.access_token_decode(settings, token)
    assert error.value.code == "token_expired"
