"""Sign-in under real parallel clients on PostgreSQL, with real commits (a scratch database)."""

import threading

import pytest
import sqlalchemy as sa

from service.app import create_app
from service.base.config import PASSWORD_PAIR_FREE_FAILURES

CLIENTS = 16


@pytest.fixture()
def committed_app(server_config, scratch_database_url):
    """An app on its own PostgreSQL database: requests commit for real, in parallel."""
    app = create_app(
        {
            **server_config,
            "DATABASE_URL": scratch_database_url,
            "RATELIMIT_SIGN_IN": "1000 per minute",
        }
    )
    yield app
    app.extensions["tanhui.db"].engine.dispose()
    app.extensions["tanhui.redis"].close()


def in_parallel(count, call):
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(index):
        barrier.wait()
        results[index] = call(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def scalar(app, query):
    with app.extensions["tanhui.db"].engine.connect() as connection:
        return connection.execute(sa.text(query)).scalar()


def test_parallel_first_sign_ins_of_one_openid_make_one_user(committed_app, fake_wechat):
    codes = [fake_wechat.issue_code("o-racing", unionid="u-racing") for _ in range(CLIENTS)]
    responses = in_parallel(
        CLIENTS,
        lambda index: committed_app.test_client().post(
            "/api/v1/auth/wechat", json={"code": codes[index]}
        ),
    )
    assert [r.status_code for r in responses] == [200] * CLIENTS
    assert len({r.get_json()["user"]["id"] for r in responses}) == 1
    assert sum(r.get_json()["created"] for r in responses) == 1
    assert scalar(committed_app, "SELECT count(*) FROM users") == 1
    assert scalar(committed_app, "SELECT count(*) FROM wechat_identities") == 1
    assert scalar(committed_app, "SELECT count(*) FROM organisations WHERE kind='platform'") == 1
    assert scalar(committed_app, "SELECT count(*) FROM memberships") == 1


def test_parallel_refreshes_of_one_token_let_exactly_one_through(committed_app, fake_wechat):
    client = committed_app.test_client()
    tokens = client.post(
        "/api/v1/auth/wechat", json={"code": fake_wechat.issue_code("o-refresh")}
    ).get_json()
    responses = in_parallel(
        CLIENTS,
        lambda _: committed_app.test_client().post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [401] * (CLIENTS - 1)
    refused = [r.get_json()["code"] for r in responses if r.status_code == 401]
    # The first loser detects the reuse and revokes the session; later ones may find it revoked.
    assert "refresh_token_reused" in refused
    assert set(refused) <= {"refresh_token_reused", "refresh_token_invalid"}
    # The replay revoked the session, so the winner's new tokens are dead too.
    winner = next(r.get_json() for r in responses if r.status_code == 200)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {winner['access_token']}"})
    assert me.get_json()["code"] == "session_revoked"
    assert scalar(committed_app, "SELECT count(*) FROM refresh_tokens WHERE used_at IS NULL") == 1
    assert (
        scalar(committed_app, "SELECT count(*) FROM sign_in_sessions WHERE revoked_at IS NOT NULL")
        == 1
    )


def test_parallel_wrong_passwords_from_one_address_are_counted_exactly(committed_app):
    from service.auth.passwords import password_hash
    from service.base.parties.services import staff_create
    from service.db import get_session

    with committed_app.app_context():
        session = get_session()
        staff_create(
            session,
            username="target",
            password_hash=password_hash("x" * 16, "cheapest"),
            role="operator",
        )
        session.commit()
    responses = in_parallel(
        CLIENTS,
        lambda _: committed_app.test_client().post(
            "/api/v1/auth/password", json={"username": "target", "password": "guess"}
        ),
    )
    codes = [r.get_json()["code"] for r in responses]
    # Guesses from one address at one name take turns (an advisory lock on the pair): the free
    # failures are checked, and every other guess meets the wait. Nothing locks the account.
    assert codes.count("invalid_credentials") == PASSWORD_PAIR_FREE_FAILURES
    assert codes.count("sign_in_throttled") == CLIENTS - PASSWORD_PAIR_FREE_FAILURES
    owner = committed_app.test_client().post(
        "/api/v1/auth/password",
        json={"username": "target", "password": "x" * 16},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert owner.status_code == 200
