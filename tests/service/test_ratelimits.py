"""Rate limits count a request in all of its moving windows or in none, in one step, and the same
way in Redis and in the process."""

import logging
import time
import uuid

import pytest
import redis

from service.ratelimits import Limit, MemoryWindows, RedisWindows, Window, limits_parse


@pytest.mark.parametrize(
    ("setting", "limits"),
    [
        ("30 per minute", (Limit(30, 60),)),
        ("20 per minute;200 per day", (Limit(20, 60), Limit(200, 86_400))),
        ("5/second", (Limit(5, 1),)),
        (" 100 per 2 hours ", (Limit(100, 7_200),)),
    ],
)
def test_settings_read_as_limits(setting, limits):
    assert limits_parse(setting) == limits


@pytest.mark.parametrize("setting", ["", "lots", "0 per minute", "10 per fortnight", "10;20"])
def test_a_bad_setting_is_refused_by_name(setting):
    with pytest.raises(ValueError, match="not a rate limit"):
        limits_parse(setting)


def test_an_app_with_a_bad_setting_does_not_start(make_app):
    with pytest.raises(ValueError, match="not a rate limit"):
        make_app(RATELIMIT_CLAIMS="plenty")


@pytest.fixture(params=["memory", "redis"])
def store(request, backend):
    if request.param == "memory":
        return MemoryWindows()
    if backend.redis_url is None:
        pytest.skip("the embedded profile has no Redis")
    return RedisWindows(redis.Redis.from_url(backend.redis_url))


def test_a_refused_hit_counts_in_no_window_and_waits_for_the_oldest(store):
    scope = f"test-{uuid.uuid4().hex}"
    per_user = Window(f"{scope}:user", Limit(2, 60))
    per_device = Window(f"{scope}:device", Limit(3, 60))
    both = [per_user, per_device]
    assert store.hit(both, 1_000.0) is None
    assert store.hit(both, 1_010.0) is None
    # The user's window is full until the hit at 1,000 s is a minute old: 40 s from 1,020 s.
    assert store.hit(both, 1_020.0) == pytest.approx(40.0)
    # That refusal did not count on the device, which still has room for one.
    assert store.hit([per_device], 1_030.0) is None
    assert store.hit([per_device], 1_031.0) == pytest.approx(29.0)
    # A minute after the first hit, the windows move on past it.
    assert store.hit(both, 1_060.5) is None
    # The device's window now holds 1,060.5, 1,030 and 1,010 s: full until 1,070 s.
    assert store.hit(both, 1_061.0) == pytest.approx(9.0)


@pytest.fixture()
def outage_app(make_app, backend, redis_server):
    """The production profile on a Redis of the test's own, with small limits to reach."""
    if backend.redis_url is None:
        pytest.skip("the embedded profile has no Redis to lose")
    return make_app(
        REDIS_URL=redis_server.url,
        RATELIMIT_SIGN_IN="3 per minute",
        RATELIMIT_CLAIMS_PER_USER="2 per minute",
    )


def test_sign_in_stays_limited_while_redis_is_down_and_both_changes_are_logged_once(
    outage_app, redis_server, caplog
):
    # An attacker tries passwords while Redis is down: the fourth try in a minute is refused.
    redis_server.stop()
    client = outage_app.test_client()

    def tries(count):
        # A name each time, so the per-name throttle of failed sign-ins stays out of the way:
        # what refuses here is the rate limit of the address.
        answers = [
            client.post("/api/v1/auth/password", json={"username": f"nobody{n}", "password": "x"})
            for n in range(count)
        ]
        return [(answer.status_code, answer.get_json()["code"]) for answer in answers]

    wrong, limited = (401, "invalid_credentials"), (429, "rate_limited")
    with caplog.at_level(logging.WARNING, logger="tanhui.store"):
        statuses = tries(5)
    assert statuses == [wrong, wrong, wrong, limited, limited]
    assert caplog.text.count("redis unavailable") == 1  # once per outage, not per request
    # Redis comes back (empty): the shared windows count again, and the recovery is logged once.
    redis_server.start()
    outage = outage_app.extensions["tanhui.redis_outage"]
    retry_at = time.monotonic() + outage.retry_after_s  # REDIS_RETRY_AFTER_S later
    outage.clock = lambda: retry_at
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tanhui.store"):
        after = tries(4)
    assert after == [wrong, wrong, wrong, limited]
    assert caplog.text.count("redis available again") == 1


def test_claims_stay_limited_per_user_while_redis_is_down(outage_app, redis_server, fake_wechat):
    client = outage_app.test_client()
    code = fake_wechat.issue_code(f"openid-{uuid.uuid4().hex[:12]}")
    tokens = client.post("/api/v1/auth/wechat", json={"code": code}).get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    redis_server.stop()
    statuses = [
        client.post("/api/v1/points/claims", headers=headers, json={}).status_code for _ in range(3)
    ]
    # The body is wrong (422), but the third claim in a minute is refused before it is read.
    assert statuses == [422, 422, 429]
