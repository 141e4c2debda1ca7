"""Request ids, JSON logs, health, readiness and metrics."""

import json
import logging

import pytest

from service.base.config import SECRET_MIN_LENGTH_CHARS, ConfigError
from service.observability import JsonFormatter


def test_a_request_id_is_made_when_none_is_sent(client):
    response = client.get("/healthz")
    assert len(response.headers["X-Request-ID"]) == 32


def test_a_sane_client_request_id_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-ID": "mini-program-7f3a9c"})
    assert response.headers["X-Request-ID"] == "mini-program-7f3a9c"


def test_an_unsafe_client_request_id_is_replaced(client):
    unsafe = 'evil" header <script>' + "x" * 80
    response = client.get("/healthz", headers={"X-Request-ID": unsafe})
    assert response.headers["X-Request-ID"] != unsafe
    assert len(response.headers["X-Request-ID"]) == 32


def test_each_request_logs_one_json_line_with_its_request_id(client, caplog):
    caplog.set_level(logging.INFO, logger="tanhui.access")
    response = client.get("/api/v1/me", headers={"X-Request-ID": "trace-0001-abcd"})
    records = [r for r in caplog.records if r.name == "tanhui.access"]
    assert len(records) == 1
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["message"] == "request"
    assert line["status"] == response.status_code == 401
    assert line["path"] == "/api/v1/me"
    assert line["endpoint"] == "/api/v1/me"
    assert line["duration_ms"] >= 0
    assert line["level"] == "info"


def test_json_formatter_adds_the_request_id_inside_a_request(app):
    with app.test_request_context("/"):
        from flask import g

        g.request_id = "req-12345678"
        record = logging.makeLogRecord(
            {
                "name": "tanhui.x",
                "msg": "hello %s",
                "args": ("碳汇",),
                "levelname": "WARNING",
                "levelno": 30,
                "farm_id": 7,
            }
        )
        line = json.loads(JsonFormatter().format(record))
    assert line == {**line, "request_id": "req-12345678", "message": "hello 碳汇", "farm_id": 7}


def test_healthz_touches_nothing(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {}}


def test_readyz_checks_the_database_and_redis(client, backend):
    response = client.get("/readyz")
    assert response.status_code == 200
    expected_redis = "ok" if backend.redis_url else "not_configured"
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": expected_redis},
    }


def test_readyz_says_degraded_but_stays_in_rotation_while_redis_is_down(
    make_app, backend, redis_server
):
    # Redis is shared by every worker: a 503 would take them all out of rotation at once.
    if backend.redis_url is None:
        pytest.skip("the embedded profile has no Redis to lose")
    client = make_app(REDIS_URL=redis_server.url).test_client()
    redis_server.stop()
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "degraded",
        "checks": {"database": "ok", "redis": "unavailable"},
    }
    redis_server.start()
    assert client.get("/readyz").get_json()["status"] == "ok"


def test_readyz_fails_when_the_database_is_down(make_app, tmp_path):
    app = make_app(
        DATABASE_URL=f"sqlite:///{tmp_path}/missing-dir/x.sqlite3",
        REDIS_URL=None,
        TANHUI_PROFILE="embedded",
    )
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unavailable"


def test_metrics_count_requests_by_route_and_status(client):
    client.get("/api/v1/me")
    client.get("/api/v1/me")
    text = client.get("/metrics").get_data(as_text=True)
    line = next(
        row
        for row in text.splitlines()
        if row.startswith("tanhui_http_requests_total{")
        and 'endpoint="/api/v1/me"' in row
        and 'status="401"' in row
    )
    assert float(line.rsplit(" ", 1)[1]) >= 2
    assert "tanhui_http_request_duration_seconds_bucket" in text


# -- who may read /metrics ------------------------------------------------------------------------
OUTSIDER = {"REMOTE_ADDR": "203.0.113.7"}
SCRAPER_TOKEN = "scrape-" + "k" * 40


def test_metrics_are_refused_to_an_outside_address_by_default(client):
    response = client.get("/metrics", environ_base=OUTSIDER)
    assert response.status_code == 404
    body = response.get_json()
    assert body["code"] == "not_found" and body["status"] == 404
    assert "tanhui_http_requests_total" not in response.get_data(as_text=True)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_metrics_answer_this_machine_by_default(client, address):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")


def test_metrics_answer_a_configured_scrape_network_and_no_other(make_app):
    client = make_app(METRICS_ALLOWED_NETWORKS="10.20.0.0/16, 2001:db8::/32").test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.3.4"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "2001:db8::9"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.21.0.1"}).status_code == 404
    # Naming networks replaces the default: this machine is no longer one of them.
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 404


def test_metrics_answer_the_bearer_token_from_anywhere(make_app):
    client = make_app(
        METRICS_ALLOWED_NETWORKS="none", METRICS_BEARER_TOKEN=SCRAPER_TOKEN
    ).test_client()
    bearing = {"Authorization": f"Bearer {SCRAPER_TOKEN}"}
    assert client.get("/metrics", environ_base=OUTSIDER, headers=bearing).status_code == 200
    wrong = {"Authorization": f"Bearer {SCRAPER_TOKEN[:-1]}x"}
    assert client.get("/metrics", environ_base=OUTSIDER, headers=wrong).status_code == 404
    assert client.get("/metrics", environ_base=OUTSIDER).status_code == 404
    # "none": not even this machine without the token.
    assert client.get("/metrics").status_code == 404


def test_a_metrics_token_shorter_than_a_secret_is_refused(make_app):
    with pytest.raises(ConfigError, match="METRICS_BEARER_TOKEN"):
        make_app(METRICS_BEARER_TOKEN="k" * (SECRET_MIN_LENGTH_CHARS - 1))
    assert make_app(METRICS_BEARER_TOKEN="k" * SECRET_MIN_LENGTH_CHARS)


def test_a_metrics_network_that_is_not_a_cidr_is_refused(make_app):
    with pytest.raises(ConfigError, match="METRICS_ALLOWED_NETWORKS"):
        make_app(METRICS_ALLOWED_NETWORKS="10.0.0.0/33")
