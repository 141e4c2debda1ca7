"""The choice between the one-statement path and the portable path, as a session sees it."""

from __future__ import annotations

from ledger import paths


def test_postgresql_takes_one_statement_unless_the_portable_path_is_forced(session, backend):
    expected = backend.name == "postgresql"
    assert paths.one_statement(session) is expected
    with paths.portable_path(session):
        assert paths.one_statement(session) is False
        with paths.portable_path(session):
            assert paths.one_statement(session) is False
        assert paths.one_statement(session) is False
    assert paths.one_statement(session) is expected
