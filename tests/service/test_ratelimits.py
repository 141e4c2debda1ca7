"""Rate limits count a request in all of its moving windows or in none, in one step, and the same
way in Redis and in the process."""

import logging
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


def test_requests_pass_when_redis_fails_and_the_failure_is_logged(make_app, backend, caplog):
    if backend.redis_url is None:
        pytest.skip("the embedded profile has no Redis to lose")
    client = make_app(REDIS_URL="redis://127.0.0.1:1/0", RATELIMIT_SIGN_IN="1 per minute")
    body = {"username": "nobody", "password": "wrong"}
    with caplog.at_level(logging.ERROR, logger="tanhui.ratelimits"):
        statuses = [
            client.test_client().post("/api/v1/auth/password", json=body).status_code
            for _ in range(2)
        ]
    assert statuses == [401, 401]
    assert "rate limits unavailable" in caplog.text
