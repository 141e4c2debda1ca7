"""``tanhui ledger verify`` passes on an honest ledger and names each kind of tampering."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from ledger import entries as ledger
from ledger.tlog import log_sequence
from ledger.verify import ledger_verify


@pytest.fixture()
def books(session, open_account, post, now, signer, origin):
    """A small honest ledger, sequenced into the log."""
    open_account("issuer", issuer=True)
    open_account("alice", lots=True)
    open_account("shop")
    post("award", "issuer", "alice", 100, expires_at=now + timedelta(days=30))
    post("spend", "alice", "shop", 40)
    ledger.hold_create(session, key="hold", account="alice", destination="shop", amount=10, now=now)
    log_sequence(session, signer=signer, origin=origin, now=now)
    post("late", "issuer", "alice", 5)  # committed, waiting for the sequencer
    session.commit()
    return session


def report(session, signer, origin):
    return ledger_verify(session, verifier=signer.verifier(), origin=origin)


def unprotect(session, table):
    """Drop a table's immutability trigger inside the test's transaction (rolled back after)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SET CONSTRAINTS ALL IMMEDIATE"))  # fire the deferred checks now
        session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        session.execute(sa.text(f"DROP TRIGGER {table}_no_update"))
        session.execute(sa.text(f"DROP TRIGGER {table}_no_delete"))


def test_an_honest_ledger_verifies(books, signer, origin):
    result = report(books, signer, origin)
    assert result.ok, result.problems
    assert all(count == 0 for count in result.checks.values())
    assert len(result.checks) >= 14


CORRUPTIONS = {
    "stored balances equal their postings": [
        "UPDATE ledger_accounts SET balance = balance + 1 WHERE code = 'shop'"
    ],
    "lot remainders sum to balances": [
        "UPDATE ledger_accounts SET balance = balance - 1 WHERE code = 'alice'"
    ],
    "lots equal their movements": ["UPDATE ledger_lots SET remaining = remaining - 1"],
    "reservations equal pending holds": [
        "UPDATE ledger_accounts SET reserved = reserved + 1 WHERE code = 'alice'"
    ],
    "entries balance per asset": [
        (
            "ledger_postings",
            "UPDATE ledger_postings SET amount = amount * 2 "
            "WHERE id = (SELECT max(id) FROM ledger_postings)",
        )
    ],
    "entries have postings": [
        (
            "ledger_lot_movements",
            "DELETE FROM ledger_lot_movements WHERE posting_id = "
            "(SELECT max(id) FROM ledger_postings)",
        ),
        (
            "ledger_postings",
            "DELETE FROM ledger_postings WHERE id = (SELECT max(id) FROM ledger_postings)",
        ),
    ],
    "every entry is logged": [
        ("tlog_leaves", "UPDATE tlog_leaves SET data = replace(data, '100', '1000')")
    ],
    "transparency log": [
        (
            "tlog_nodes",
            "UPDATE tlog_nodes SET hash = (SELECT hash FROM tlog_nodes "
            "WHERE level = 0 AND position = 0) WHERE level = 0 AND position = 1",
        )
    ],
}


@pytest.mark.parametrize("check", list(CORRUPTIONS))
def test_tampering_is_found_and_named(books, signer, origin, check):
    for step in CORRUPTIONS[check]:
        if isinstance(step, tuple):
            unprotect(books, step[0])
            step = step[1]
        books.execute(sa.text(step))
    result = report(books, signer, origin)
    assert not result.ok
    assert result.checks[check] >= 1, result.problems
    assert any(problem.startswith(check) for problem in result.problems)


def test_a_forged_checkpoint_is_found(books, signer, origin):
    unprotect(books, "tlog_checkpoints")
    note = books.scalar(sa.text("SELECT note FROM tlog_checkpoints"))
    forged = note.replace("\n2\n", "\n3\n", 1)
    assert forged != note
    books.execute(sa.text("UPDATE tlog_checkpoints SET note = :note"), {"note": forged})
    result = report(books, signer, origin)
    assert any("signature" in problem for problem in result.problems), result.problems


def test_the_command_exits_non_zero_with_the_report(make_app, books, signer):
    runner = make_app().test_cli_runner()
    ok = runner.invoke(args=["ledger", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "ledger verified" in ok.output
    books.execute(sa.text("UPDATE ledger_accounts SET balance = balance + 7 WHERE code = 'shop'"))
    failed = runner.invoke(args=["ledger", "verify"])
    assert failed.exit_code == 1
    assert "FAIL stored balances equal their postings (1)" in failed.output
    assert "shop stores 47, postings sum to 40" in failed.output


# -- what the database itself refuses ------------------------------------------------------------
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_entries SET kind = 'other'",
        "DELETE FROM ledger_postings",
        "UPDATE ledger_lot_movements SET amount = amount + 1",
        "DELETE FROM tlog_leaves",
        "UPDATE tlog_nodes SET level = level",
        "DELETE FROM tlog_checkpoints",
    ],
)
def test_journal_rows_are_immutable(books, statement):
    with pytest.raises(sa.exc.DatabaseError, match="immutable"):
        with books.begin_nested():
            books.execute(sa.text(statement))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_accounts SET balance = -1 WHERE code = 'shop'",
        "UPDATE ledger_accounts SET reserved = balance + 1 WHERE code = 'alice'",
        "UPDATE ledger_accounts SET balance = 5 WHERE code = 'issuer'",
        "UPDATE ledger_lots SET remaining = amount_initial + 1",
        "INSERT INTO ledger_postings (entry_id, account_id, asset, amount) "
        "SELECT min(id), 1, 'POINT', 0 FROM ledger_entries",
    ],
)
def test_check_constraints_refuse_impossible_rows(books, statement):
    with pytest.raises(sa.exc.IntegrityError):
        with books.begin_nested():
            books.execute(sa.text(statement))


def test_postgresql_refuses_to_commit_an_unbalanced_entry(books):
    if books.get_bind().dialect.name != "postgresql":
        pytest.skip("deferred constraint triggers are PostgreSQL's")
    with pytest.raises(sa.exc.IntegrityError, match="does not balance"):
        with books.begin_nested():
            books.execute(
                sa.text(
                    "INSERT INTO ledger_postings (entry_id, account_id, asset, amount) "
                    "SELECT min(id), (SELECT id FROM ledger_accounts WHERE code = 'shop'), "
                    "'POINT', 3 "
                    "FROM ledger_entries"
                )
            )
            books.execute(sa.text("SET CONSTRAINTS ALL IMMEDIATE"))


def test_the_expire_command_releases_holds_and_expires_lots(make_app, session, open_account, post):
    """``tanhui ledger expire`` works on the real clock: a lot and a hold already past due."""
    from datetime import UTC, datetime, timedelta

    past = datetime.now(UTC) - timedelta(days=2)
    open_account("issuer", issuer=True)
    open_account("alice", lots=True)
    open_account("shop")
    post("award", "issuer", "alice", 100, at=past, expires_at=past + timedelta(days=1))
    ledger.hold_create(
        session,
        key="h",
        account="alice",
        destination="shop",
        amount=30,
        now=past,
        expires_at=past + timedelta(hours=1),
    )
    session.commit()
    result = make_app().test_cli_runner().invoke(args=["ledger", "expire"])
    assert result.exit_code == 0, result.output
    assert "expired 1 holds and 1 lots" in result.output
    assert ledger.balance_of(session, "alice").balance == 0
    assert ledger.balance_of(session, "platform:point:expired").balance == 100
    assert ledger_verify(session).ok


def test_the_entry_log_check_walks_past_its_first_chunk(session, open_account, now):
    from ledger.verify import ENTRIES_PER_VERIFY_CHUNK

    open_account("issuer", issuer=True)
    open_account("shop")
    count = ENTRIES_PER_VERIFY_CHUNK + 3
    for start in range(0, count, ledger.ENTRIES_PER_BATCH_MAX):
        ledger.entries_post(
            session,
            [
                ledger.EntryRequest(
                    f"bulk-{number}",
                    "grant",
                    [ledger.PostingRequest("issuer", -1), ledger.PostingRequest("shop", 1)],
                )
                for number in range(start, min(count, start + ledger.ENTRIES_PER_BATCH_MAX))
            ],
            now=now,
        )
    assert ledger_verify(session).ok
    last = session.scalar(sa.text("SELECT max(id) FROM ledger_entries"))
    session.execute(
        sa.text("UPDATE tlog_pending SET data = replace(data, '1]]', '2]]') WHERE source_id = :id"),
        {"id": str(last)},
    )
    result = ledger_verify(session)
    assert result.problems == [f"every entry is logged: entry {last} differs from its log leaf"]
