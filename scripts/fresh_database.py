"""Create or drop one PostgreSQL database for a test run.

python scripts/fresh_database.py create|drop HOST PORT USER NAME
"""

import sys

import psycopg
from psycopg import sql


def main(action: str, host: str, port: str, user: str, name: str) -> None:
    with psycopg.connect(
        host=host, port=int(port), user=user, dbname="postgres", autocommit=True, connect_timeout=5
    ) as connection:
        if action == "create":
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        elif action == "drop":
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        else:
            raise SystemExit(f"unknown action {action!r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
