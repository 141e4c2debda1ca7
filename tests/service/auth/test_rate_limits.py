"""Sign-in endpoints are rate limited per client address (Redis-backed in production)."""

import pytest

SIGN_IN_PATHS = ["/api/v1/auth/wechat", "/api/v1/auth/password", "/api/v1/auth/refresh"]
BODIES = {
    "/api/v1/auth/wechat": {"code": "c"},
    "/api/v1/auth/password": {"username": "u", "password": "p"},
    "/api/v1/auth/refresh": {"refresh_token": "r"},
}


@pytest.mark.parametrize("path", SIGN_IN_PATHS)
def test_sign_in_is_limited_per_client(make_app, path):
    client = make_app(RATELIMIT_SIGN_IN="3 per minute").test_client()
    statuses = [client.post(path, json=BODIES[path]).status_code for _ in range(4)]
    assert 429 not in statuses[:3]
    assert statuses[3] == 429


def test_another_client_address_has_its_own_allowance(make_app):
    client = make_app(RATELIMIT_SIGN_IN="1 per minute").test_client()
    body = BODIES["/api/v1/auth/password"]
    first = client.post(
        "/api/v1/auth/password", json=body, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    blocked = client.post(
        "/api/v1/auth/password", json=body, environ_base={"REMOTE_ADDR": "10.0.0.1"}
    )
    other = client.post(
        "/api/v1/auth/password", json=body, environ_base={"REMOTE_ADDR": "10.0.0.2"}
    )
    assert (first.status_code, blocked.status_code, other.status_code) == (401, 429, 401)


def test_limits_are_shared_by_workers_through_redis(make_app, backend):
    if backend.redis_url is None:
        pytest.skip("the embedded profile keeps limits in-process")
    worker_one = make_app(RATELIMIT_SIGN_IN="2 per minute").test_client()
    worker_two = make_app(RATELIMIT_SIGN_IN="2 per minute").test_client()
    body = BODIES["/api/v1/auth/password"]
    assert worker_one.post("/api/v1/auth/password", json=body).status_code == 401
    assert worker_two.post("/api/v1/auth/password", json=body).status_code == 401
    assert worker_one.post("/api/v1/auth/password", json=body).status_code == 429


def test_health_endpoints_are_never_limited(make_app):
    client = make_app(RATELIMIT_DEFAULT="2 per minute").test_client()
    assert all(client.get("/healthz").status_code == 200 for _ in range(5))


def test_the_default_limit_covers_other_endpoints(make_app):
    client = make_app(RATELIMIT_DEFAULT="2 per minute").test_client()
    statuses = [client.get("/api/v1/me").status_code for _ in range(3)]
    assert statuses == [401, 401, 429]
