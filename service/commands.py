"""The ``tanhui`` command's groups; each command calls a package's jobs or domain functions and
commits what they did (domain functions never commit).

    tanhui db upgrade            migrate to the newest schema
    tanhui db downgrade REV      step back (``base`` empties the database)
    tanhui db current            show the schema revision
    tanhui demo seed             load the demo parties (idempotent)
    tanhui staff create NAME --role operator
                                 create a staff user; the password is read from stdin or prompted
    tanhui ledger verify         re-check every ledger invariant and the transparency log
    tanhui ledger expire         expire holds and lots past their time
    tanhui log sequence [--follow]
                                 append pending events to the log and sign a checkpoint
    tanhui log verify            re-check the log
    tanhui log verify-proof FILE check one leaf's proof offline
    tanhui log key               print the log's public key
    tanhui credits import FILE   import a registry's credit file (CSV or JSON), all or nothing
    tanhui credits retire-pending [--follow]   retire what paid lots still need, then issue them
    tanhui labels expire         expire certified labels whose validity has ended
    tanhui points distribute     pay farms their shares of new label-lot allocations, and
                                 enterprises their label-purchase points
    tanhui points flag           flag suspicious claim patterns for operators
    tanhui scans flush [--follow]
                                 write scan counts kept in Redis to the database (production)
    tanhui backup DIR            back up the database with a manifest (``service.backup``)
    tanhui restore DIR --database-url URL [--checkpoint FILE]
                                 restore into a fresh database, never behind a published log

The app factory adds every group (``register``); ``service.cli`` is only the entry point.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from labels.certification import labels_expire
from labels.scans import FLUSH_BATCH_MAX, scans_fold
from ledger.credits import import_file
from ledger.credits.files import IMPORT_BYTES_MAX
from ledger.entries import expiry_sinks_open, holds_expire, lots_expire
from ledger.errors import CreditError
from ledger.tlog import LogError, log_sequence, log_verify, proof_verify
from ledger.tlog.note import NoteError, parse_verifier_key
from ledger.verify import ledger_verify
from points.farms import ALLOCATIONS_PER_RUN_MAX, distribute_pending
from points.flags import flags_scan
from points.purchases import LOTS_PER_RUN_MAX, reward_pending
from service.auth.passwords import password_hash
from service.backup import backup_command, restore_command
from service.base.config import PASSWORD_MAX_LENGTH_CHARS, PASSWORD_MIN_LENGTH_CHARS
from service.base.exceptions import ServiceError
from service.base.parties import services as parties
from service.base.parties.models import ROLES
from service.credits_jobs import retire_pending_command
from service.db import database, get_session, utcnow
from service.demo import seed
from service.extensions import redis_client
from service.gcpause import collector_paused
from service.migrations import alembic_command
from service.sequencer import sequencer_from_config
from service.signing import log_signer

log = logging.getLogger("tanhui.commands")
#: How long ``scans flush --follow`` waits after a failure, doubling up to the most [s].
FLUSH_RETRY_MIN_S = 1.0
FLUSH_RETRY_MAX_S = 60.0
#: How long ``log sequence --follow`` waits when nothing is pending [s]: an entry waits at most
#: about this long, plus a round, before its leaf is signed.
SEQUENCE_INTERVAL_S = 0.2


def register(app: Flask) -> None:
    """Add every group to the app's ``flask``/``tanhui`` command."""
    for group in (
        db_group,
        demo_group,
        staff_group,
        ledger_group,
        log_group,
        credits_group,
        labels_group,
        scans_group,
        points_group,
        backup_command,
        restore_command,
    ):
        app.cli.add_command(group)


# -- db -------------------------------------------------------------------------------------------
@click.group("db", help="Schema migrations (Alembic).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION (default: head)."""
    alembic_command(current_app.config["SQLALCHEMY_DATABASE_URI"], "upgrade", revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (``base`` removes every table)."""
    alembic_command(current_app.config["SQLALCHEMY_DATABASE_URI"], "downgrade", revision)
    click.echo(f"database at {revision}")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the current schema revision."""
    alembic_command(current_app.config["SQLALCHEMY_DATABASE_URI"], "current")


# -- demo -----------------------------------------------------------------------------------------
@click.group("demo", help="Demo data.")
def demo_group() -> None:
    pass


@demo_group.command("seed")
@with_appcontext
def demo_seed() -> None:
    """Load the demo parties. Running it again changes nothing."""
    session = get_session()
    report = seed(session, hash_profile=current_app.config.get("PASSWORD_HASH_PROFILE", "default"))
    session.commit()
    # Sequence what the seed wrote, so the demo's scan pages carry their proofs at once.
    while log_sequence(
        session, signer=log_signer(), origin=current_app.config["TLOG_ORIGIN"], now=utcnow()
    ):
        session.commit()
    session.commit()
    for line in report:
        click.echo(line)


# -- staff ----------------------------------------------------------------------------------------
@click.group("staff", help="Staff accounts.")
def staff_group() -> None:
    pass


@staff_group.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r for r in ROLES if r != "consumer"]), required=True)
@click.option(
    "--organisation-id",
    type=int,
    default=None,
    help="For enterprise or farm staff: the organisation they work for.",
)
@click.option("--display-name", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def staff_create(
    username: str, role: str, organisation_id: int | None, display_name: str, password_stdin: bool
) -> None:
    """Create a staff user USERNAME holding ROLE.

    An operator's administrative act at the server: the membership is made directly, where
    staff over the API invite and the invitee accepts.
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not PASSWORD_MIN_LENGTH_CHARS <= len(password) <= PASSWORD_MAX_LENGTH_CHARS:
        raise click.BadParameter(
            f"must be {PASSWORD_MIN_LENGTH_CHARS} to {PASSWORD_MAX_LENGTH_CHARS} characters",
            param_hint="password",
        )
    session = get_session()
    try:
        organisation = (
            parties.organisation_get(session, organisation_id) if organisation_id else None
        )
        user = parties.staff_create(
            session,
            username=username,
            password_hash=password_hash(
                password, current_app.config.get("PASSWORD_HASH_PROFILE", "default")
            ),
            role=role,
            organisation=organisation,
            display_name=display_name,
        )
    except ServiceError as error:
        raise click.ClickException(f"{error.code}: {error.params or error.fields}") from error
    session.commit()
    click.echo(f"created user {user.id} ({username}) with role {role}")


# -- credits --------------------------------------------------------------------------------------
@click.group("credits", help="Agricultural sink credits.")
def credits_group() -> None:
    pass


credits_group.add_command(retire_pending_command)


@credits_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "json"]),
    default=None,
    help="The file's form; by default its extension.",
)
@with_appcontext
def credits_import(file: Path, file_format: str | None) -> None:
    """Import FILE; a refused file imports nothing and lists every bad row (exit 1)."""
    chosen = file_format or file.suffix.lower().lstrip(".")
    if chosen not in ("csv", "json"):
        raise click.BadParameter("say --format csv or --format json", param_hint="--format")
    if file.stat().st_size > IMPORT_BYTES_MAX:
        raise click.ClickException(f"{file}: larger than {IMPORT_BYTES_MAX} bytes")
    session = get_session()
    try:
        result = import_file(
            session,
            content=file.read_bytes(),
            file_format=chosen,
            filename=file.name,
            now=utcnow(),
        )
    except CreditError as error:
        session.rollback()
        for problem in error.problems or []:
            click.echo(
                f"{file.name}: {problem.row}: {problem.field or '-'}: {problem.reason}", err=True
            )
        if not error.problems:
            click.echo(f"{file.name}: {error.code}: {error.detail}", err=True)
        raise click.ClickException(
            f"{file.name} not imported: {len(error.problems) or 1} problems"
        ) from error
    session.commit()
    if result.import_id is None:
        click.echo(f"{file.name}: nothing new ({result.batches_unchanged} batches stored already)")
    else:
        click.echo(
            f"{file.name}: import {result.import_id} ({result.outcome.value}): "
            f"{result.batches_created} batches created, {result.batches_unchanged} unchanged"
        )


# -- labels ---------------------------------------------------------------------------------------
@click.group("labels", help="Carbon labels.")
def labels_group() -> None:
    pass


@labels_group.command("expire")
@with_appcontext
def labels_expire_command() -> None:
    """Expire certified and suspended labels past their validity (run it daily from cron)."""
    session = get_session()
    count = labels_expire(session, now=utcnow())
    session.commit()
    click.echo(f"{count} labels expired")


# -- points ---------------------------------------------------------------------------------------
@click.group("points", help="Carbon points.")
def points_group() -> None:
    pass


@points_group.command("distribute")
@with_appcontext
def points_distribute_command() -> None:
    """Pay farms their shares of label-lot allocations not yet distributed (run it from cron)."""
    session = get_session()
    total = rewarded = 0
    while True:
        # Millions of short-lived objects: the cycle collector waits (service.gcpause).
        with collector_paused():
            done = distribute_pending(session, now=utcnow())
        session.commit()
        total += done
        if done < ALLOCATIONS_PER_RUN_MAX:
            break
    while True:
        done = reward_pending(session, now=utcnow())
        session.commit()
        rewarded += done
        if done < LOTS_PER_RUN_MAX:
            break
    click.echo(f"{total} allocations distributed to their farms")
    click.echo(f"{rewarded} paid label lots rewarded with points")


@points_group.command("flag")
@with_appcontext
def points_flag_command() -> None:
    """Flag suspicious claim patterns of the last day for operators (run it every minute)."""
    session = get_session()
    created = flags_scan(
        session,
        now=utcnow(),
        provinces_max=current_app.config["POINTS_FLAG_PROVINCES_PER_DAY"],
        per_minute_max=current_app.config["POINTS_FLAG_CLAIMS_PER_MINUTE"],
    )
    session.commit()
    click.echo(f"{created} new flags")


# -- scans ----------------------------------------------------------------------------------------
@click.group("scans", help="Scan counts.")
def scans_group() -> None:
    pass


@scans_group.command("flush")
@click.option("--follow", is_flag=True, help="Keep flushing every --interval seconds.")
@click.option("--interval", type=float, default=5.0, show_default=True)
@with_appcontext
def scans_flush_command(follow: bool, interval: float) -> None:
    """Fold the scans recorded since the last flush into the counts (the production profile).

    With --follow, a failing database is logged and retried after FLUSH_RETRY_MIN_S, doubling up
    to FLUSH_RETRY_MAX_S, until it answers again; Redis is not needed at all."""
    if redis_client() is None:
        click.echo("the embedded profile writes scans at once; nothing to flush")
        return
    session = get_session()
    retry_s = FLUSH_RETRY_MIN_S
    while True:
        try:
            total = _scans_fold_all(session)
        except sa.exc.DBAPIError as error:
            if not follow:
                raise click.ClickException(f"scans not flushed: {error}") from error
            log.error("scans flush failed; retrying in %.1f s: %s", retry_s, error)
            time.sleep(retry_s)
            retry_s = min(retry_s * 2, FLUSH_RETRY_MAX_S)
            continue
        if retry_s != FLUSH_RETRY_MIN_S:
            log.warning("scans flush resumed")
            retry_s = FLUSH_RETRY_MIN_S
        click.echo(f"{total} scans flushed")
        if not follow:
            return
        time.sleep(interval)


def _scans_fold_all(session: Session) -> int:
    """Fold every waiting scan, a batch per transaction; a failure rolls back its batch only."""
    total = 0
    try:
        while True:
            folded = scans_fold(session)
            session.commit()
            total += folded
            if folded < FLUSH_BATCH_MAX:
                return total
    except sa.exc.DBAPIError:
        session.rollback()
        raise


# -- ledger ---------------------------------------------------------------------------------------
@click.group("ledger", help="The double-entry ledger.")
def ledger_group() -> None:
    pass


@ledger_group.command("verify")
@with_appcontext
def ledger_verify_command() -> None:
    """Re-check every ledger invariant and the transparency log; exit 1 on any finding."""
    report = ledger_verify(
        get_session(),
        verifier=log_signer().verifier(),
        origin=current_app.config["TLOG_ORIGIN"],
        witnesses=[witness.key for witness in current_app.config["TLOG_WITNESS_LIST"]],
    )
    for name, count in report.checks.items():
        click.echo(f"{'ok  ' if count == 0 else 'FAIL'} {name}" + (f" ({count})" if count else ""))
    for problem in report.problems:
        click.echo(f"  - {problem}", err=True)
    for finding in report.known:
        click.echo(f"known {finding} (open in the console's credits page)")
    if not report.ok:
        raise SystemExit(1)
    click.echo("ledger verified")


@ledger_group.command("expire")
@with_appcontext
def ledger_expire_command() -> None:
    """Expire pending holds and lots that are past their time."""
    session = get_session()
    now = utcnow()
    holds = holds_expire(session, now=now)
    sinks = expiry_sinks_open(session)
    lots = lots_expire(session, now=now, sink_for_asset=sinks)
    session.commit()
    click.echo(f"expired {len(holds)} holds and {len(lots)} lots")


# -- transparency log -----------------------------------------------------------------------------
@click.group("log", help="The transparency log.")
def log_group() -> None:
    pass


@log_group.command("key")
@with_appcontext
def log_key_command() -> None:
    """Print the log's public verifier key (give it to anyone who checks proofs)."""
    click.echo(log_signer().verifier_key)


@log_group.command("sequence")
@click.option("--follow", is_flag=True, help="Keep sequencing until interrupted.")
@click.option(
    "--interval",
    type=float,
    default=SEQUENCE_INTERVAL_S,
    show_default=True,
    help="Seconds to wait when nothing is pending (and between tries for the lead).",
)
@with_appcontext
def log_sequence_command(follow: bool, interval: float) -> None:
    """Append pending events to the log, sign a checkpoint and have witnesses cosign it.

    Start one beside the web workers on every host: on PostgreSQL one leads and the others wait
    to take over when it stops."""
    state = database(current_app)
    sequencer = sequencer_from_config(
        state.engine,
        state.sessionmaker,
        current_app.config,
        signer=log_signer(),
        interval_s=interval,
        echo=click.echo,
    )
    signal.signal(signal.SIGTERM, lambda *_: sequencer.stop())
    try:
        sequencer.run(follow=follow)
    except KeyboardInterrupt:
        sequencer.stop()


@log_group.command("verify")
@with_appcontext
def log_verify_command() -> None:
    """Re-check every leaf, node and checkpoint of the log; exit 1 on any finding."""
    problems = log_verify(
        get_session(),
        verifier=log_signer().verifier(),
        origin=current_app.config["TLOG_ORIGIN"],
        witnesses=[witness.key for witness in current_app.config["TLOG_WITNESS_LIST"]],
    )
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    click.echo("log verified")


@log_group.command("verify-proof")
@click.argument("bundle", type=click.File("r"), default="-")
@click.option("--key", "verifier_key", help="Verifier key (default: this server's).")
@click.option("--origin", help="Log origin (default: this server's).")
@with_appcontext
def log_verify_proof_command(bundle, verifier_key: str | None, origin: str | None) -> None:
    """Check one leaf's proof bundle (JSON, from a file or stdin) offline."""
    try:
        verifier = parse_verifier_key(verifier_key) if verifier_key else log_signer().verifier()
        data = json.load(bundle)
        leaf = proof_verify(
            data, verifier=verifier, origin=origin or current_app.config["TLOG_ORIGIN"]
        )
    except (LogError, NoteError, ValueError) as error:
        click.echo(f"proof does not verify: {error}", err=True)
        raise SystemExit(1) from error
    click.echo(f"leaf {leaf.index} is in the signed tree of size {leaf.tree_size}")
    click.echo(leaf.data)
