"""The ``tanhui`` console command: a Flask CLI group built on the app factory.

    tanhui db upgrade            migrate to the newest schema
    tanhui db downgrade REV      step back (``base`` empties the database)
    tanhui db current            show the schema revision
    tanhui demo seed             load the demo parties (idempotent)
    tanhui staff create NAME --role operator
                                 create a staff user; the password is read from stdin or prompted

Later packages add their commands to the same group.
"""

from __future__ import annotations

import sys

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from service.auth.passwords import password_hash
from service.config import PASSWORD_MAX_LENGTH_CHARS, PASSWORD_MIN_LENGTH_CHARS
from service.db import get_session
from service.exceptions import ServiceError
from service.migrations import alembic_command
from service.parties import services as parties
from service.parties.models import ROLES


def _create_app(*_args: object) -> Flask:
    from service.app import create_app

    return create_app()


@click.group(
    cls=FlaskGroup,
    create_app=_create_app,
    add_default_commands=True,
    load_dotenv=False,
    set_debug_flag=False,
)
def main() -> None:
    """Tanhui 碳汇: carbon labels and points backed by retired agricultural sink credits."""


def register(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(demo_group)
    app.cli.add_command(staff_group)


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
    from service.demo import seed

    session = get_session()
    report = seed(session, hash_profile=current_app.config.get("PASSWORD_HASH_PROFILE", "default"))
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
    """Create a staff user USERNAME holding ROLE."""
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
