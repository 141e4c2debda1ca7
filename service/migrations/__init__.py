"""Alembic, configured in code so the installed package carries its own migrations.

Revision files are date-prefixed and reviewed by hand; every one has a working ``downgrade``
(the test suite runs upgrade -> downgrade -> upgrade on SQLite and PostgreSQL).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

MIGRATIONS_PATH = Path(__file__).parent


def alembic_config(database_url: str, connection: Any | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_PATH))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def alembic_command(database_url: str, name: str, *args: Any, **kwargs: Any) -> Any:
    """Run an Alembic command (``upgrade``, ``downgrade``, ``current``, ``revision``…)."""
    return getattr(command, name)(alembic_config(database_url), *args, **kwargs)


@contextmanager
def scratch_database(server_url: str, prefix: str, *, migrate: bool = True) -> Iterator[str]:
    """A new PostgreSQL database on ``server_url``'s server (migrated to head unless told
    otherwise), dropped afterwards.

    For tests that commit for real and for benchmarks, so they never touch a shared database.
    """
    # Only tests and benchmarks make scratch databases: the CLI on SQLite (the demo) is spared
    # the PostgreSQL driver's start-up cost.
    import psycopg
    from psycopg import sql  # start-up cost, as above

    url = sa.make_url(server_url)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = {
        "host": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "user": url.username,
        "dbname": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**admin) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    scratch = url.set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            alembic_command(scratch, "upgrade", "head")
        yield scratch
    finally:
        with psycopg.connect(**admin) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
