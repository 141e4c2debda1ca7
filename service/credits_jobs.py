"""``tanhui credits retire-pending [--follow]``: the job that retires on payment.

Each run takes the lots paid before their enterprise had the retired grams
(``labels.retiring``), one request per transaction: the registry is asked under the lot's
reference and, on its answer, the retirement is recorded and the lot issued in the same commit.
The registry is the app's registry API when ``REGISTRY_URL`` is set, else the local registry
(``ledger.credits.registry_local``: the platform's imported batches under ``REGISTRY_CODE``).

An outage (the registry unavailable, the database failing) ends the run: the request stays
pending and, with --follow, the job waits RETIRE_RETRY_MIN_S, doubling up to RETIRE_RETRY_MAX_S,
before the next run, as ``tanhui scans flush`` does.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from labels.retiring import (
    Retired,
    lot_retirement_failed,
    lot_retirement_run,
    lot_retirements_pending,
)
from ledger.credits.registry import Registry
from ledger.credits.registry_local import LocalRegistry
from service.base.exceptions import ServiceError
from service.db import get_session, utcnow
from service.extensions import registry_client

log = logging.getLogger("tanhui.commands")
#: How long ``credits retire-pending --follow`` waits after an outage, doubling up to the most [s].
RETIRE_RETRY_MIN_S = 1.0
RETIRE_RETRY_MAX_S = 300.0


def registry_of(app: Flask, session: Session, now: datetime) -> Registry:
    """The registry the app retires at: its API when configured, else the local record."""
    if app.config["REGISTRY_URL"]:
        return registry_client(app)
    return LocalRegistry(session, registry_code=app.config["REGISTRY_CODE"], now=now)


def retire_pending(
    app: Flask, session: Session, *, now: Callable[[], datetime] = utcnow
) -> Counter[str]:
    """One run: every pending request in turn, each committed on its own; stops at the first
    outage (the rest would meet it too). Answers how many ended each way (``failed`` for an
    outage of our own database or record)."""
    outcomes: Counter[str] = Counter()
    pending = lot_retirements_pending(session)
    session.rollback()
    for request_id in pending:
        moment = now()
        try:
            outcome = lot_retirement_run(
                session,
                request_id=request_id,
                registry=registry_of(app, session, moment),
                registry_code=app.config["REGISTRY_CODE"],
                now=moment,
            )
            session.commit()
        except ServiceError as error:
            session.rollback()
            log.error("retiring lot request %s failed: %s", request_id, error)
            lot_retirement_failed(
                session, request_id=request_id, detail=_described(error), now=moment
            )
            session.commit()
            outcomes["failed"] += 1
            break
        except sa.exc.DBAPIError as error:
            session.rollback()
            log.error("retiring lot request %s failed: %s", request_id, error)
            outcomes["failed"] += 1
            break
        outcomes[outcome.value] += 1
        if outcome is Retired.WAITING:
            break
    return outcomes


def _described(error: ServiceError) -> str:
    """An error as the request's note keeps it: its code and each field's messages."""
    fields = "; ".join(
        f"{name}: {', '.join(str(message) for message in messages)}"
        for name, messages in error.fields.items()
    )
    return f"{error.code}: {fields}" if fields else str(error.code)


@click.command("retire-pending")
@click.option("--follow", is_flag=True, help="Keep retiring every --interval seconds.")
@click.option("--interval", type=float, default=10.0, show_default=True)
@with_appcontext
def retire_pending_command(follow: bool, interval: float) -> None:
    """Ask the registry to retire what paid lots still need, and issue them once it has.

    With --follow, an outage is logged and the next run waits RETIRE_RETRY_MIN_S, doubling up to
    RETIRE_RETRY_MAX_S, until the registry and the database answer again."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    session = get_session()
    retry_s = RETIRE_RETRY_MIN_S
    while True:
        try:
            outcomes = retire_pending(app, session)
        except sa.exc.DBAPIError as error:
            session.rollback()
            outcomes = Counter({"failed": 1})
            log.error("retire-pending could not read the requests: %s", error)
        summary = ", ".join(f"{count} {name}" for name, count in sorted(outcomes.items()))
        click.echo(summary or "nothing pending")
        outage = bool(outcomes["waiting"] or outcomes["failed"])
        if not follow:
            if outage:
                raise click.ClickException("the registry or the database is unavailable")
            return
        if outage:
            log.error("retire-pending waits %.1f s after an outage", retry_s)
            time.sleep(retry_s)
            retry_s = min(retry_s * 2, RETIRE_RETRY_MAX_S)
            continue
        retry_s = RETIRE_RETRY_MIN_S
        time.sleep(interval)
