"""Staff password sign-in: argon2id hashes, and lockout after repeated failures."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.auth import services
from service.auth.passwords import lockout_after_failure, password_hash, password_verify
from service.auth.tokens import TokenSettings
from service.base.parties.models import User

PASSWORD = "correct horse battery staple"
SETTINGS = TokenSettings(
    secret="s" * 40, issuer="tanhui", audience="tanhui-api", access_ttl_s=900, refresh_ttl_s=86400
)


def test_hashes_are_argon2id_and_salted():
    first, second = password_hash(PASSWORD), password_hash(PASSWORD)
    assert first.startswith("$argon2id$")
    assert first != second
    assert password_verify(first, PASSWORD)
    assert not password_verify(first, PASSWORD + "!")
    assert not password_verify(None, PASSWORD)
    assert not password_verify("not-a-hash", PASSWORD)


def test_staff_sign_in(client, make_staff):
    user = make_staff(role="certifier")
    response = client.post(
        "/api/v1/auth/password", json={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert [m["role"] for m in response.get_json()["user"]["memberships"]] == ["certifier"]


def test_a_wrong_password_and_an_unknown_user_look_the_same(client, make_staff):
    user = make_staff()
    wrong = client.post("/api/v1/auth/password", json={"username": user.username, "password": "x"})
    unknown = client.post("/api/v1/auth/password", json={"username": "nobody", "password": "x"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json()["code"] == unknown.get_json()["code"] == "invalid_credentials"


def test_the_fifth_failure_locks_the_account(client, make_staff, session):
    user = make_staff()
    for attempt in range(1, 5):
        response = client.post(
            "/api/v1/auth/password", json={"username": user.username, "password": "guess"}
        )
        assert response.status_code == 401, attempt
    locked = client.post(
        "/api/v1/auth/password", json={"username": user.username, "password": "guess"}
    )
    assert locked.status_code == 429
    assert locked.get_json()["code"] == "account_locked"
    assert 890 <= int(locked.headers["Retry-After"]) <= 900

    # Even the right password is refused while the lock holds.
    right = client.post(
        "/api/v1/auth/password", json={"username": user.username, "password": PASSWORD}
    )
    assert right.status_code == 429
    assert right.get_json()["code"] == "account_locked"
    assert session.scalar(sa.select(User.locked_until).where(User.id == user.id)) is not None


def test_a_success_resets_the_count(client, make_staff, session):
    user = make_staff()
    for _ in range(3):
        client.post("/api/v1/auth/password", json={"username": user.username, "password": "guess"})
    assert (
        client.post(
            "/api/v1/auth/password", json={"username": user.username, "password": PASSWORD}
        ).status_code
        == 200
    )
    assert session.scalar(sa.select(User.failed_sign_in_count).where(User.id == user.id)) == 0


def test_the_lock_lapses_after_the_lockout_period(app, session, make_staff):
    user = make_staff()
    start = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    for _ in range(5):
        with pytest.raises((services.InvalidCredentials, services.AccountLocked)):
            services.sign_in_password(
                session,
                username=user.username,
                password="guess",
                settings=SETTINGS,
                now=start,
                max_failures=5,
                lockout_s=900,
            )
    just_before = start + timedelta(seconds=899)
    with pytest.raises(services.AccountLocked):
        services.sign_in_password(
            session,
            username=user.username,
            password=PASSWORD,
            settings=SETTINGS,
            now=just_before,
            max_failures=5,
            lockout_s=900,
        )
    after = start + timedelta(seconds=900)
    result = services.sign_in_password(
        session,
        username=user.username,
        password=PASSWORD,
        settings=SETTINGS,
        now=after,
        max_failures=5,
        lockout_s=900,
    )
    assert result.user.id == user.id


@pytest.mark.parametrize(
    ("failed_count", "expected_count", "locks"),
    [(0, 1, False), (3, 4, False), (4, 0, True), (10, 0, True)],
)
def test_lockout_rule(failed_count, expected_count, locks):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    count, locked_until = lockout_after_failure(
        failed_count, now=now, max_failures=5, lockout_s=900
    )
    assert count == expected_count
    assert (locked_until == now + timedelta(seconds=900)) if locks else locked_until is None


def test_consumers_have_no_password_to_guess(client, consumer_tokens):
    tokens = consumer_tokens()
    response = client.post(
        "/api/v1/auth/password", json={"username": str(tokens["user"]["id"]), "password": "x"}
    )
    assert response.status_code == 401
