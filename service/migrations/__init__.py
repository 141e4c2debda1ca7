"""Alembic, configured in code so the installed package carries its own migrations.

Revision files are date-prefixed and reviewed by hand; every one has a working ``downgrade``
(the test suite runs upgrade -> downgrade -> upgrade on SQLite and PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
