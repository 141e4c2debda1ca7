"""Migrations are reversible and match the models, on SQLite and PostgreSQL."""

import uuid

import psycopg
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from psycopg import sql

from service.db import create_engine
from service.migrations import alembic_command
from service.models import metadata


@pytest.fixture()
def scratch_database_url(backend, tmp_path):
    """An empty database of the backend under test, dropped afterwards."""
    if backend.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
        return
    url = sa.make_url(backend.database_url)
    name = f"tanhui_scratch_{uuid.uuid4().hex[:10]}"
    admin = dict(
        host=url.host, port=url.port or 5432, user=url.username, dbname="postgres", autocommit=True
    )
    with psycopg.connect(**admin) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(**admin) as connection:
        connection.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _tables(url):
    engine = create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(scratch_database_url):
    alembic_command(scratch_database_url, "upgrade", "head")
    assert _tables(scratch_database_url) == set(metadata.tables)

    alembic_command(scratch_database_url, "downgrade", "base")
    assert _tables(scratch_database_url) == set()

    alembic_command(scratch_database_url, "upgrade", "head")
    assert _tables(scratch_database_url) == set(metadata.tables)


def test_migrations_match_the_models(scratch_database_url):
    alembic_command(scratch_database_url, "upgrade", "head")
    engine = create_engine(scratch_database_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, metadata) == []
    finally:
        engine.dispose()
