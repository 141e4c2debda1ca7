"""Liveness, readiness and metrics, outside the versioned API and exempt from rate limits."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from service.base.exceptions import ErrorCode, ServiceError
from service.db import database
from service.extensions import rate_limit_exempt, redis_client
from service.observability import metrics_allowed, metrics_response

log = logging.getLogger("tanhui.ops")
blp = Blueprint("ops", __name__, description="Health and metrics for operators and load balancers.")


class HealthSchema(Schema):
    status = fields.String(
        required=True, metadata={"description": "ok, degraded (Redis is down) or unavailable"}
    )
    checks = fields.Dict(keys=fields.String(), values=fields.String())


@blp.route("/healthz")
class Health(MethodView):
    decorators = [rate_limit_exempt]

    @blp.response(200, HealthSchema)
    def get(self):
        """The process is up. Touches nothing else."""
        return {"status": "ok", "checks": {}}


@blp.route("/readyz")
class Ready(MethodView):
    decorators = [rate_limit_exempt]

    @blp.response(200, HealthSchema)
    @blp.alt_response(503, schema=HealthSchema, description="A dependency is down.")
    def get(self):
        """The database and (in production) Redis answer.

        Without the database the worker cannot serve: 503, take it out of rotation. Without
        Redis it can (the resolver skips its cache and counts scans in the database, rate limits
        count per process), and Redis is shared by every worker: a 503 would take them all out
        of rotation at once and turn a cache outage into a full one. So it answers 200 with
        ``status`` ``degraded`` and ``checks.redis`` ``unavailable``, and logs a warning, for
        the operator to see and alert on."""
        checks: dict[str, str] = {}
        try:
            with database(current_app).engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:  # noqa: BLE001 - any failure means not ready
            log.warning("readiness: database failed", extra={"error": type(error).__name__})
            checks["database"] = "unavailable"
        client = redis_client()
        if client is None:
            checks["redis"] = "not_configured"
        else:
            try:
                client.ping()
                checks["redis"] = "ok"
            except Exception as error:  # noqa: BLE001
                log.warning("readiness: redis failed", extra={"error": type(error).__name__})
                checks["redis"] = "unavailable"
        if checks["database"] != "ok":
            return {"status": "unavailable", "checks": checks}, 503
        degraded = checks["redis"] == "unavailable"
        return {"status": "degraded" if degraded else "ok", "checks": checks}, 200


@blp.route("/metrics")
class Metrics(MethodView):
    decorators = [rate_limit_exempt]

    @blp.response(200, content_type="text/plain", description="Prometheus text format.")
    @blp.alt_response(404, description="Not a scrape address and no valid token.")
    def get(self):
        """Prometheus metrics, for scrapers at ``METRICS_ALLOWED_NETWORKS`` or bearing
        ``METRICS_BEARER_TOKEN``."""
        if not metrics_allowed():
            log.warning("metrics refused", extra={"client": request.remote_addr})
            raise ServiceError(code=ErrorCode.NOT_FOUND)
        return metrics_response()
