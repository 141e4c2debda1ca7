"""Backup and restore: ``tanhui backup DIR`` and ``tanhui restore DIR --database-url URL``.

A backup is a directory: the database (``pg_dump`` custom format on PostgreSQL, a copy made with
SQLite's online backup API on the embedded profile) and ``manifest.json`` with the time, the
schema revision, the ledger's figures and the log's (tree size, the latest signed checkpoint and
its root hash). On PostgreSQL the figures are read in the very snapshot ``pg_dump`` exports, so
the manifest describes exactly what was dumped.

Secrets are not in a backup: ``SECRET_KEY``, ``JWT_SECRET_KEY``, ``TLOG_SIGNING_KEY``,
``UNIT_CODE_KEYS`` and the WeChat Pay keys live in the environment (or ``instance/secrets.json``)
and are kept apart, so that a stolen dump cannot sign a checkpoint or mint a unit code.

A restore goes into a fresh (empty) database and is refused when it would roll the log back
behind a checkpoint already published: the operator gives the latest published checkpoint
(``--checkpoint``, as the portal's ``/log`` page shows it); a backup whose tree is smaller is
refused unless ``--force-rollback``. After restoring, the restored log must extend that
checkpoint by a consistency proof (RFC 9162), or the command says not to serve it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from ledger.selectors import ledger_figures
from ledger.tlog import consistency_proof
from ledger.tlog.merkle import verify_consistency
from ledger.tlog.note import NoteError, Verifier, open_checkpoint, parse_verifier_key
from service.base.config import normalise_database_url
from service.base.orm import create_engine
from service.db import utcnow
from service.signing import log_signer

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1
POSTGRESQL_DUMP_NAME = "tanhui.dump"
SQLITE_COPY_NAME = "tanhui.sqlite3"
#: The longest a pg_dump or pg_restore may run before the command gives up.
DATABASE_TOOL_TIMEOUT_S = 6 * 3600
#: Kept out of every backup, and backed up apart from it (a secrets manager, or a copy of
#: ``instance/secrets.json`` on the embedded profile).
SECRETS_NOT_IN_BACKUP = (
    "SECRET_KEY",
    "JWT_SECRET_KEY",
    "TLOG_SIGNING_KEY",
    "UNIT_CODE_KEYS",
    "WECHATPAY_PRIVATE_KEY",
    "WECHATPAY_APIV3_KEY",
)


class BackupError(RuntimeError):
    """The backup or restore cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Published:
    """The latest checkpoint the service published, as the operator gives it to a restore."""

    size: int
    root_hash: bytes


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path:
    database = sa.make_url(url).database
    if not database:
        raise BackupError(f"{url}: an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq URL for pg_dump/pg_restore, and the environment carrying its password (so it is
    never on a command line)."""
    parsed = sa.make_url(url).set(drivername="postgresql")
    environment = dict(os.environ)
    if parsed.password:
        environment["PGPASSWORD"] = str(parsed.password)
    return parsed.set(password=None).render_as_string(hide_password=False), environment


def _run(arguments: list[str], environment: dict[str, str]) -> None:
    done = subprocess.run(  # noqa: S603 - our fixed programs, arguments built here
        arguments, env=environment, capture_output=True, text=True,
        timeout=DATABASE_TOOL_TIMEOUT_S, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise BackupError(f"{arguments[0]} failed: {done.stderr.strip()}")


def _figures(connection: sa.Connection) -> dict[str, Any]:
    with Session(bind=connection) as session:
        revision = session.scalar(sa.text("SELECT version_num FROM alembic_version"))
        return {"schema_revision": revision, **ledger_figures(session)}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup_write(database_url: str, directory: Path, *, now: datetime) -> dict[str, Any]:
    """Write a backup of ``database_url`` into ``directory`` (new or empty); returns the
    manifest."""
    url = normalise_database_url(database_url)
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"{directory} is not empty: a backup goes into a new directory")
    directory.mkdir(parents=True, exist_ok=True)
    if is_sqlite(url):
        name = SQLITE_COPY_NAME
        with (
            closing(sqlite3.connect(sqlite_path(url))) as source,
            closing(sqlite3.connect(directory / name)) as copy,
        ):
            source.backup(copy)  # one consistent copy, even while the service writes
        engine = create_engine(f"sqlite:///{directory / name}")
        with engine.connect() as connection:
            figures = _figures(connection)
        engine.dispose()
    else:
        name = POSTGRESQL_DUMP_NAME
        figures = _dump_postgresql(url, directory / name)
    manifest = {
        "format": MANIFEST_FORMAT,
        "created_at": now.isoformat(),
        "database": "sqlite" if is_sqlite(url) else "postgresql",
        "file": name,
        "sha256": _sha256(directory / name),
        **figures,
        "secrets_not_included": list(SECRETS_NOT_IN_BACKUP),
    }
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    return manifest


def _dump_postgresql(url: str, target: Path) -> dict[str, Any]:
    """pg_dump the snapshot in which the figures are read, so both describe the same moment."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot = connection.scalar(sa.text("SELECT pg_export_snapshot()"))
                figures = _figures(connection)
                address, environment = libpq(url)
                _run(
                    ["pg_dump", "--format=custom", f"--snapshot={snapshot}",
                     f"--file={target}", f"--dbname={address}"],
                    environment,
                )  # fmt: skip
    finally:
        engine.dispose()
    return figures


def manifest_read(directory: Path) -> dict[str, Any]:
    """The backup's manifest, after checking its file is whole."""
    try:
        manifest: dict[str, Any] = json.loads((directory / MANIFEST_NAME).read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"{directory}: no readable {MANIFEST_NAME} ({error})") from error
    if manifest.get("format") != MANIFEST_FORMAT:
        raise BackupError(f"{directory}: manifest format {manifest.get('format')!r} is unknown")
    if _sha256(directory / manifest["file"]) != manifest["sha256"]:
        raise BackupError(f"{directory / manifest['file']}: its SHA-256 differs from the manifest")
    return manifest


def published_read(note: str, *, verifier: Verifier, origin: str) -> Published:
    """Open the published checkpoint the operator gave (its signature checked)."""
    try:
        checkpoint = open_checkpoint(note.strip() + "\n", verifier, origin)
    except NoteError as error:
        raise BackupError(f"the published checkpoint does not verify: {error}") from error
    return Published(checkpoint.size, checkpoint.root_hash)


def rollback_check(manifest: dict[str, Any], published: Published | None) -> str | None:
    """Why restoring this backup would roll the log back behind what was published, or
    ``None``. Without a published checkpoint nothing can be ruled out, and that is a reason."""
    if published is None:
        return (
            "no published checkpoint was given (--checkpoint): the restore cannot tell whether "
            "it rolls the transparency log back behind what readers have already seen"
        )
    size = manifest["log_tree_size"]
    if size < published.size:
        return (
            f"the backup's log has {size} leaves, but a checkpoint of {published.size} leaves "
            f"was published after it: restoring would roll the transparency log back and "
            f"every proof issued since would stop verifying"
        )
    return None


def _fresh_check(url: str) -> None:
    if is_sqlite(url):
        path = sqlite_path(url)
        if path.exists() and path.stat().st_size > 0:
            raise BackupError(f"{path} exists: restore into a new database file")
        return
    engine = create_engine(url)
    try:
        tables = sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise BackupError(f"the target database is not empty ({len(tables)} tables): restore "
                          "into a freshly created one")  # fmt: skip


def _consistency_check(url: str, manifest: dict[str, Any], published: Published | None) -> None:
    """The restored log holds what the manifest says and extends the published checkpoint."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            figures = _figures(connection)
            restored = figures["checkpoint"]
            if figures["log_tree_size"] != manifest["log_tree_size"]:
                raise BackupError("the restored log's size differs from the manifest's")
            if published is None or restored is None:
                return
            with Session(bind=connection) as session:
                path = consistency_proof(
                    session, old_size=published.size, new_size=restored["size"]
                )
    finally:
        engine.dispose()
    if not verify_consistency(
        published.size, restored["size"], published.root_hash,
        base64.b64decode(restored["root_hash"]), path,
    ):  # fmt: skip
        raise BackupError(
            "the restored log does not extend the published checkpoint: it is not this "
            "service's log, or it was rewritten. Do not serve this database"
        )


def restore(
    directory: Path, database_url: str, *, published: Published | None, force_rollback: bool
) -> tuple[dict[str, Any], str | None]:
    """Restore the backup in ``directory`` into the fresh database at ``database_url``.

    Returns the manifest and, when ``force_rollback`` overrode it, the rollback the restore
    made. Raises :class:`BackupError` before touching the database when the restore would roll
    the log back (unless forced) or the target is not empty, and after it when the restored log
    does not extend the published checkpoint.
    """
    url = normalise_database_url(database_url)
    manifest = manifest_read(directory)
    if (manifest["database"] == "sqlite") != is_sqlite(url):
        raise BackupError(f"a {manifest['database']} backup restores into {manifest['database']}")
    rollback = rollback_check(manifest, published)
    if rollback and not force_rollback:
        raise BackupError(f"restore refused: {rollback}. Pass --force-rollback to restore anyway")
    _fresh_check(url)
    source = directory / manifest["file"]
    if is_sqlite(url):
        target = sqlite_path(url)
        target.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(source)) as backup, closing(sqlite3.connect(target)) as new:
            backup.backup(new)
    else:
        address, environment = libpq(url)
        _run(
            ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
             "--single-transaction", f"--dbname={address}", str(source)],
            environment,
        )  # fmt: skip
    _consistency_check(url, manifest, None if rollback else published)
    return manifest, rollback


# -- the commands ---------------------------------------------------------------------------------
@click.command("backup")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@with_appcontext
def backup_command(directory: Path) -> None:
    """Back up the database into DIRECTORY (new or empty), with a manifest. Secrets are not in
    it: keep SECRET_KEY, JWT_SECRET_KEY, TLOG_SIGNING_KEY, UNIT_CODE_KEYS and the WeChat Pay keys
    apart."""
    try:
        manifest = backup_write(current_app.config["DATABASE_URL"], directory, now=utcnow())
    except BackupError as error:
        raise click.ClickException(str(error)) from error
    checkpoint = manifest["checkpoint"] or {"size": 0, "root_hash": "-"}
    click.echo(
        f"backup of schema {manifest['schema_revision']} in {directory}: "
        f"{manifest['entries']} entries, log tree size {manifest['log_tree_size']}, "
        f"checkpoint {checkpoint['size']} root {checkpoint['root_hash']}"
    )
    click.echo("not in the backup (keep them apart): " + ", ".join(SECRETS_NOT_IN_BACKUP))


@click.command("restore")
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--database-url", required=True, help="The fresh, empty database to fill.")
@click.option(
    "--checkpoint", "checkpoint_file", type=click.File("r"),
    help="The latest published signed checkpoint (as the portal's /log page shows it).",
)  # fmt: skip
@click.option("--key", "verifier_key", help="Verifier key (default: this server's).")
@click.option("--origin", help="Log origin (default: this server's).")
@click.option(
    "--force-rollback", is_flag=True,
    help="Restore even if the log goes back behind the published checkpoint.",
)  # fmt: skip
@with_appcontext
def restore_command(
    directory: Path, database_url: str, checkpoint_file: Any, verifier_key: str | None,
    origin: str | None, force_rollback: bool,
) -> None:  # fmt: skip
    """Restore the backup in DIRECTORY into a fresh database, refusing to roll the transparency
    log back behind the published checkpoint."""
    try:
        published = None
        if checkpoint_file is not None:
            verifier = parse_verifier_key(verifier_key) if verifier_key else log_signer().verifier()
            published = published_read(
                checkpoint_file.read(), verifier=verifier,
                origin=origin or current_app.config["TLOG_ORIGIN"],
            )  # fmt: skip
        manifest, rollback = restore(
            directory, database_url, published=published, force_rollback=force_rollback
        )
    except (BackupError, NoteError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    if rollback:
        click.echo(f"WARNING: {rollback}.", err=True)
        click.echo(
            "WARNING: restored with --force-rollback. Publish a notice: proofs and checkpoints "
            "issued after this backup no longer verify.",
            err=True,
        )
    click.echo(
        f"restored {manifest['entries']} entries, log tree size {manifest['log_tree_size']}, "
        f"schema {manifest['schema_revision']} from {directory}"
    )
