"""Request ids, structured JSON logs and Prometheus metrics.

Every request carries an ``X-Request-ID``: the client's when it is a sane token, a new one
otherwise. It is echoed on the response, put on every log line of the request, and shown in error
bodies so a user's report leads straight to the log. Under gunicorn with several workers, set
``PROMETHEUS_MULTIPROC_DIR`` (the bundled gunicorn config does) so ``/metrics`` aggregates all
workers.

``/metrics`` is for the operator's scraper, not the public: it answers only addresses in
``METRICS_ALLOWED_NETWORKS`` (this machine by default) and requests bearing
``METRICS_BEARER_TOKEN``. Anyone else gets the same 404 as any path that does not exist, so the
endpoint neither confirms itself nor invites guessing at the token; the refusal is logged for the
operator whose scraper is misconfigured.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{8,64}")

HTTP_REQUESTS = Counter(
    "tanhui_http_requests_total",
    "HTTP requests answered, by method, route and status.",
    ["method", "endpoint", "status"],
)
HTTP_LATENCY = Histogram(
    "tanhui_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route.",
    ["method", "endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
_RESERVED_LOG_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with the request id when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = _current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _RESERVED_LOG_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _current_request_id() -> str | None:
    try:
        return g.get("request_id")
    except RuntimeError:  # outside an app context
        return None


def configure_logging(level: str) -> None:
    """Route the ``tanhui`` loggers to stderr as JSON lines (idempotent)."""
    logger = logging.getLogger("tanhui")
    logger.setLevel(level)
    if not any(getattr(handler, "_tanhui", False) for handler in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._tanhui = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.propagate = True


access_log = logging.getLogger("tanhui.access")


def init_app(app: Flask) -> None:
    configure_logging(app.config["LOG_LEVEL"])

    @app.before_request
    def _start() -> None:
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = supplied if REQUEST_ID_PATTERN.fullmatch(supplied) else uuid.uuid4().hex
        g.started_at = time.perf_counter()

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers[REQUEST_ID_HEADER] = request_id
        started = g.get("started_at")
        duration_s = time.perf_counter() - started if started is not None else 0.0
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        HTTP_REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        HTTP_LATENCY.labels(request.method, endpoint).observe(duration_s)
        access_log.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "endpoint": endpoint,
                "status": response.status_code,
                "duration_ms": round(duration_s * 1000, 3),
                "user_id": g.get("user_id"),
            },
        )
        return response


def metrics_response() -> Response:
    """The Prometheus exposition, aggregated over workers when multiprocess mode is on."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        payload = generate_latest(registry)
    else:
        payload = generate_latest()
    return Response(payload, content_type=CONTENT_TYPE_LATEST)


def metrics_allowed() -> bool:
    """May this request read ``/metrics``? Its client address is in ``METRICS_NETWORKS`` or it
    bears ``METRICS_BEARER_TOKEN`` (compared in constant time)."""
    token = current_app.config.get("METRICS_BEARER_TOKEN") or ""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    bearer = scheme.lower() == "bearer"
    if token and bearer and hmac.compare_digest(presented.strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # a dual-stack listener sees IPv4 clients this way
    return any(address in network for network in current_app.config["METRICS_NETWORKS"])
