"""Alembic environment: the service's metadata, batch mode on SQLite, one transaction per run."""

from __future__ import annotations

from alembic import context

from service.base.orm import create_engine
from service.models import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


def _run(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    if not sqlite or connection.in_transaction():
        with context.begin_transaction():
            context.run_migrations()
        return
    # Batch mode rebuilds a table by copy, drop and rename; with foreign keys on, SQLite refuses
    # to drop a table other rows refer to. Alembic's documented way: keys off for the run (the
    # pragma is ignored inside a transaction, so it goes to the driver first), checked after.
    driver = connection.connection.driver_connection
    driver.execute("PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
        broken = driver.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"the migration broke foreign keys: {broken[:10]}")
    finally:
        driver.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
run_migrations_online()
