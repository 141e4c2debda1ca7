"""Staff password sign-in: argon2id hashes, and failures that slow guessers but lock nobody out.

Issue 19, point 5: five wrong passwords from anyone locked an operator out for 15 minutes, and
the lock (429 ``account_locked``) told an attacker the name existed (an unknown name got 401).
Now one address's failures slow that address only, many failures at a name ask every try for a
solved proof-of-work challenge, and a name that exists answers exactly like one that does not.
"""

from datetime import UTC, datetime, timedelta

import argon2
import pytest
import sqlalchemy as sa

from service.auth import services
from service.auth.attempts import (
    CHALLENGE_HEADER,
    ChallengeRequired,
    PasswordPolicy,
    SignInThrottled,
)
from service.auth.challenges import challenge_solve
from service.auth.models import SignInFailure
from service.auth.passwords import password_hash, password_verify, throttle_delay_s
from service.auth.services import PasswordTry
from service.base.config import (
    PASSWORD_CHALLENGE_AFTER_FAILURES,
    PASSWORD_PAIR_DELAY_BASE_S,
    PASSWORD_PAIR_DELAY_MAX_S,
    PASSWORD_PAIR_FREE_FAILURES,
)

PASSWORD = "correct horse battery staple"
OWNER_ADDRESS = "127.0.0.1"
START = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def attacker(index):
    """One address of a distributed attacker."""
    return f"203.0.113.{index + 1}"


def post(client, username, password, *, address=OWNER_ADDRESS, **extra):
    return client.post(
        "/api/v1/auth/password",
        json={"username": username, "password": password, **extra},
        environ_base={"REMOTE_ADDR": address},
    )


def solved(client, username, *, address=OWNER_ADDRESS):
    """What the sign-in page does: ask for a challenge for this name and solve it."""
    issued = client.post(
        "/api/v1/auth/password/challenge",
        json={"username": username},
        environ_base={"REMOTE_ADDR": address},
    )
    assert issued.status_code == 200
    challenge = issued.get_json()["challenge"]
    return {"challenge": challenge, "challenge_answer": challenge_solve(challenge)}


def answer(response):
    """An answer as a client sees it, less the request id (unique to each request)."""
    body = response.get_json()
    body.pop("request_id", None)
    return response.status_code, body


@pytest.fixture()
def verifications(monkeypatch):
    """Counts argon2 verifications (the expensive work of a sign-in) by spying on the library."""
    calls = []
    verify = argon2.PasswordHasher.verify

    def counting(self, hash, password):  # noqa: A002 - argon2's own parameter name
        calls.append(hash)
        return verify(self, hash, password)

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counting)
    return calls


@pytest.fixture()
def policy(app):
    return PasswordPolicy.from_config(app.config)


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
    response = post(client, user.username, PASSWORD)
    assert response.status_code == 200
    assert [m["role"] for m in response.get_json()["user"]["memberships"]] == ["certifier"]


# -- a name that exists answers like one that does not ---------------------------------------------
def test_known_and_unknown_names_answer_alike_failure_after_failure(
    client, make_staff, session, verifications
):
    """From a spread of addresses, past the point where a challenge is asked: the same statuses
    and bodies, the same argon2 work, the same counts kept, for a staff name and a made-up one."""
    user = make_staff()
    tries = PASSWORD_CHALLENGE_AFTER_FAILURES + 3
    sequences, work = {}, {}
    for name in (user.username, "nobody_at_all"):
        verifications.clear()
        sequences[name] = [
            answer(post(client, name, "guess", address=attacker(i))) for i in range(tries)
        ]
        work[name] = len(verifications)
    known, unknown = sequences[user.username], sequences["nobody_at_all"]
    assert known == unknown
    assert [status for status, _ in known] == [401] * tries
    assert [body["code"] for _, body in known] == (
        ["invalid_credentials"] * PASSWORD_CHALLENGE_AFTER_FAILURES
        + ["challenge_required"] * 3
    )  # fmt: skip
    # One verification per password actually checked, none once a challenge is asked.
    assert work[user.username] == work["nobody_at_all"] == PASSWORD_CHALLENGE_AFTER_FAILURES
    counts = session.execute(
        sa.select(SignInFailure.name_digest, sa.func.sum(SignInFailure.failure_count))
        .group_by(SignInFailure.name_digest)
    ).all()  # fmt: skip
    assert sorted(total for _, total in counts) == [PASSWORD_CHALLENGE_AFTER_FAILURES] * 2


def test_known_and_unknown_names_are_throttled_alike(app, session, make_staff, policy):
    """From one address, with the clock held: the same refusals at the same tries."""
    user = make_staff()
    outcomes = {}
    for name in (user.username, "nobody_at_all"):
        seen = []
        for step in range(PASSWORD_PAIR_FREE_FAILURES + 3):
            attempt = PasswordTry(username=name, password="guess", address=attacker(0))
            try:
                services.password_check(session, attempt=attempt, policy=policy, now=START)
            except services.ServiceError as error:
                seen.append((step, error.code, error.params, error.headers))
        outcomes[name] = seen
    assert outcomes[user.username] == outcomes["nobody_at_all"]
    codes = [code for _, code, _, _ in outcomes[user.username]]
    assert (
        codes == ["invalid_credentials"] * PASSWORD_PAIR_FREE_FAILURES + ["sign_in_throttled"] * 3
    )


def test_a_known_name_without_the_challenge_gets_the_unknown_names_answer(client, make_staff):
    user = make_staff()
    for name in (user.username, "nobody_at_all"):
        for i in range(PASSWORD_CHALLENGE_AFTER_FAILURES):
            post(client, name, "guess", address=attacker(i))
    known, unknown = post(client, user.username, PASSWORD), post(client, "nobody_at_all", PASSWORD)
    assert answer(known) == answer(unknown)
    assert answer(known)[1]["code"] == "challenge_required"
    assert known.headers[CHALLENGE_HEADER] != unknown.headers[CHALLENGE_HEADER]  # bound to names


# -- nobody is locked out by someone else's failures ---------------------------------------------
def test_an_attackers_failures_never_lock_the_owner_out(client, make_staff):
    """The attack of issue 19: guesses from elsewhere used to lock the operator out (429)."""
    user = make_staff()
    for i in range(3 * PASSWORD_CHALLENGE_AFTER_FAILURES):
        address = attacker(i % 4)
        extra = solved(client, user.username, address=address)
        post(client, user.username, "guess", address=address, **extra)
    # The attacker's own addresses are slowed ...
    slowed = post(client, user.username, "guess", address=attacker(0))
    assert (slowed.status_code, slowed.get_json()["code"]) == (429, "sign_in_throttled")
    assert int(slowed.headers["Retry-After"]) > 0
    # ... while the owner, at their usual address, signs in: with the challenge the page solves.
    asked = post(client, user.username, PASSWORD)
    assert (asked.status_code, asked.get_json()["code"]) == (401, "challenge_required")
    signed_in = post(client, user.username, PASSWORD, **solved(client, user.username))
    assert signed_in.status_code == 200
    assert signed_in.get_json()["user"]["id"] == user.id


def test_one_address_waits_longer_after_each_failure_and_others_do_not(session, make_staff, policy):
    user = make_staff()

    def sign_in(now, address=None, password="guess"):
        address = address or attacker(0)
        attempt = PasswordTry(username=user.username, password=password, address=address)
        return services.password_check(session, attempt=attempt, policy=policy, now=now)

    for _ in range(PASSWORD_PAIR_FREE_FAILURES):
        with pytest.raises(services.InvalidCredentials):
            sign_in(START)
    now = START
    for wait_s in (2, 4, 8):
        with pytest.raises(SignInThrottled) as refused:
            sign_in(now)
        assert refused.value.params == {"retry_after_s": wait_s}
        with pytest.raises(SignInThrottled):  # even the right password waits
            sign_in(now + timedelta(seconds=wait_s - 1), password=PASSWORD)
        now += timedelta(seconds=wait_s)
        with pytest.raises(services.InvalidCredentials):
            sign_in(now)
    # Another address (the owner's) is not slowed, and its success does not clear the attacker's.
    assert sign_in(now, address=OWNER_ADDRESS, password=PASSWORD).id == user.id
    with pytest.raises(SignInThrottled):
        sign_in(now)
    # The attacker's address waits its time, then a success from it clears its failures.
    assert sign_in(now + timedelta(seconds=16), password=PASSWORD).id == user.id
    with pytest.raises(services.InvalidCredentials):
        sign_in(now + timedelta(seconds=16))


def test_failures_past_the_window_are_forgotten(session, make_staff, policy, app):
    user = make_staff()
    attempt = PasswordTry(username=user.username, password="guess", address=attacker(0))
    for _ in range(PASSWORD_PAIR_FREE_FAILURES):
        with pytest.raises(services.InvalidCredentials):
            services.password_check(session, attempt=attempt, policy=policy, now=START)
    with pytest.raises(SignInThrottled):
        services.password_check(session, attempt=attempt, policy=policy, now=START)
    later = START + timedelta(seconds=app.config["PASSWORD_FAILURE_WINDOW_S"] + 1)
    with pytest.raises(services.InvalidCredentials):
        services.password_check(session, attempt=attempt, policy=policy, now=later)
    assert session.scalar(sa.select(sa.func.sum(SignInFailure.failure_count))) == 1


# -- the challenge ------------------------------------------------------------------------------
def test_a_solved_challenge_buys_one_guess_at_one_name_from_one_address(client, make_staff):
    user = make_staff()
    other = make_staff()
    for name in (user.username, other.username):
        for i in range(PASSWORD_CHALLENGE_AFTER_FAILURES):
            post(client, name, "guess", address=attacker(i))
    extra = solved(client, user.username)
    spent = post(client, user.username, "guess", **extra)
    assert spent.get_json()["code"] == "invalid_credentials"
    again = post(client, user.username, PASSWORD, **extra)
    assert again.get_json()["code"] == "challenge_required"
    mine = solved(client, user.username)
    elsewhere = post(client, user.username, PASSWORD, address=attacker(50), **mine)
    assert elsewhere.get_json()["code"] == "challenge_required"
    other_name = post(client, other.username, PASSWORD, **solved(client, user.username))
    assert other_name.get_json()["code"] == "challenge_required"
    wrong = {**solved(client, user.username), "challenge_answer": "x"}
    assert post(client, user.username, PASSWORD, **wrong).get_json()["code"] == "challenge_required"
    assert post(client, user.username, PASSWORD, **solved(client, user.username)).status_code == 200


def test_a_challenge_expires(session, make_staff, policy, app):
    user = make_staff()
    for i in range(PASSWORD_CHALLENGE_AFTER_FAILURES):
        attempt = PasswordTry(username=user.username, password="guess", address=attacker(i))
        with pytest.raises(services.InvalidCredentials):
            services.password_check(session, attempt=attempt, policy=policy, now=START)
    attempt = PasswordTry(username=user.username, password=PASSWORD, address=OWNER_ADDRESS)
    with pytest.raises(ChallengeRequired) as asked:
        services.password_check(session, attempt=attempt, policy=policy, now=START)
    challenge = asked.value.headers[CHALLENGE_HEADER]
    solved_try = PasswordTry(
        username=user.username, password=PASSWORD, address=OWNER_ADDRESS,
        challenge=challenge, challenge_answer=challenge_solve(challenge),
    )  # fmt: skip
    too_late = START + timedelta(seconds=app.config["PASSWORD_CHALLENGE_TTL_S"] + 1)
    with pytest.raises(ChallengeRequired):
        services.password_check(session, attempt=solved_try, policy=policy, now=too_late)
    just_in_time = START + timedelta(seconds=app.config["PASSWORD_CHALLENGE_TTL_S"])
    user_found = services.password_check(
        session, attempt=solved_try, policy=policy, now=just_in_time
    )
    assert user_found.id == user.id


def test_the_challenge_endpoint_answers_any_name(client):
    response = client.post("/api/v1/auth/password/challenge", json={"username": "nobody"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["bits"] == 16 and body["expires_in"] == 300
    assert body["challenge"].split(".")[2] == "16"


@pytest.mark.parametrize(
    ("failures", "wait_s"),
    [(0, 0), (PASSWORD_PAIR_FREE_FAILURES - 1, 0), (PASSWORD_PAIR_FREE_FAILURES, 2),
     (PASSWORD_PAIR_FREE_FAILURES + 1, 4), (PASSWORD_PAIR_FREE_FAILURES + 8, 512),
     (PASSWORD_PAIR_FREE_FAILURES + 9, PASSWORD_PAIR_DELAY_MAX_S),
     (10_000, PASSWORD_PAIR_DELAY_MAX_S)],
)  # fmt: skip
def test_throttle_rule(failures, wait_s):
    assert (
        throttle_delay_s(
            failures,
            free=PASSWORD_PAIR_FREE_FAILURES,
            base_s=PASSWORD_PAIR_DELAY_BASE_S,
            max_s=PASSWORD_PAIR_DELAY_MAX_S,
        )
        == wait_s
    )


def test_consumers_have_no_password_to_guess(client, consumer_tokens):
    tokens = consumer_tokens()
    response = post(client, str(tokens["user"]["id"]), "x")
    assert response.status_code == 401
