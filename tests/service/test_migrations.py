"""Migrations are reversible and match the models, on SQLite and PostgreSQL."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from service.db import create_engine
from service.migrations import alembic_command, scratch_database
from service.models import metadata


@pytest.fixture()
def empty_database_url(backend, tmp_path):
    """An empty database of the backend under test, dropped afterwards."""
    if backend.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    with scratch_database(backend.database_url, "tanhui_migrations", migrate=False) as url:
        yield url


def _tables(url):
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database_url):
    alembic_command(empty_database_url, "upgrade", "head")
    assert _tables(empty_database_url) == set(metadata.tables)

    alembic_command(empty_database_url, "downgrade", "base")
    assert _tables(empty_database_url) == set()

    alembic_command(empty_database_url, "upgrade", "head")
    assert _tables(empty_database_url) == set(metadata.tables)


def test_migrations_match_the_models(empty_database_url):
    alembic_command(empty_database_url, "upgrade", "head")
    engine = create_engine(empty_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
