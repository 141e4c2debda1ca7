"""The verifier and the witness against the service itself, served for real on loopback: a
mirror by tiles, a unit's proof from its scan URL, and every kind of tampering the log could try,
each caught by the script and, where a checkpoint shows it, by the witness.

* a stored leaf altered (its bundle no longer hashes to its tile): the mirror fails;
* a stored node altered: the tiles no longer give the signed root; the witness refuses the next
  checkpoint, whose consistency proof is built from the altered node;
* a checkpoint altered: its signature fails, for the script and for the witness;
* a fork (leaf and nodes rewritten and a second tree of the same size signed): the mirror that saw
  the first tree fails, the witness refuses the second;
* a split view (one client served one tree, another client another): the witness cosigns only
  the first, so the second client, requiring the witness, refuses what it was served.
"""

import shutil
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from werkzeug.serving import WSGIRequestHandler, make_server

from ledger.tlog import log_append, log_sequence, merkle
from ledger.tlog.cosignatures import parse_witness_key
from ledger.tlog.note import checkpoint_text, parse_signer_key, sign_note
from ledger.tlog.witnessing import Witness, witness_submit
from service.app import create_app
from service.db import create_engine
from service.migrations import alembic_command, scratch_database
from service.witness_http import WitnessHttp
from tests.conftest import TEST_LOG_KEY, TEST_LOG_ORIGIN, require_servers
from tests.fakes.witness import load_verifier, witness_process
from tests.live import free_port

SIGNER = parse_signer_key(TEST_LOG_KEY)
KEY = SIGNER.verifier_key
verifier = load_verifier()


class _Handler(WSGIRequestHandler):
    disable_nagle_algorithm = True  # keep-alive requests would each wait for a delayed ACK

    def log_request(self, *args, **kwargs):
        pass


class ServedLog:
    """A migrated database of its own, the app on it served on loopback, and ways to grow and
    tamper with its log."""

    def __init__(self, database_url, config, **overrides):
        self.engine = create_engine(database_url)
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.log_url = f"{self.base}/log"
        self.app = create_app(
            {**config, "DATABASE_URL": database_url, "PUBLIC_BASE_URL": self.base, **overrides}
        )
        self.server = make_server("127.0.0.1", port, self.app, threaded=True,
                                  request_handler=_Handler)  # fmt: skip
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.next = 0

    def close(self):
        self.server.shutdown()
        self.thread.join(5)
        self.app.extensions["tanhui.db"].engine.dispose()
        self.engine.dispose()

    def grow(self, count, *, changed=None):
        """Append ``count`` events (``changed`` maps numbers to other data) and sign."""
        now = datetime.now(UTC)
        with Session(self.engine) as session:
            for _ in range(count):
                number, self.next = self.next, self.next + 1
                data = {"n": (changed or {}).get(number, number)}
                log_append(session, kind="test.event", source_id=str(number), data=data, now=now)
            checkpoint = log_sequence(session, signer=SIGNER, origin=TEST_LOG_ORIGIN, now=now)
            session.commit()
        return checkpoint

    def execute(self, *statements):
        """Run SQL as someone with the database would, the immutability triggers set aside."""
        postgresql = self.engine.dialect.name == "postgresql"
        with self.engine.begin() as connection:
            if postgresql:
                connection.execute(sa.text("SET session_replication_role = replica"))
            else:
                for table in ("tlog_leaves", "tlog_nodes", "tlog_checkpoints"):
                    for operation in ("update", "delete"):
                        connection.execute(
                            sa.text(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
                        )
            for statement, parameters in statements:
                connection.execute(sa.text(statement), parameters)

    def rewrite_leaf(self, position, data):
        """Change a leaf and every stored node above it, then re-sign the newest checkpoint of
        the same size over the new root: a second tree of the same size."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT level, position, hash FROM tlog_nodes")).all()
            size = connection.scalar(sa.text("SELECT max(size) FROM tlog_checkpoints"))
        nodes = {(row.level, row.position): bytes(row.hash) for row in rows}
        statements = [("UPDATE tlog_leaves SET data = :d WHERE position = :p",
                       {"d": data, "p": position})]  # fmt: skip
        digest, level, index = merkle.leaf_hash(data.encode()), 0, position
        while (level, index) in nodes:
            nodes[(level, index)] = digest
            statements.append(("UPDATE tlog_nodes SET hash = :h WHERE level = :l AND position = :p",
                               {"h": digest, "l": level, "p": index}))  # fmt: skip
            sibling = nodes.get((level, index ^ 1))
            if sibling is None:
                break
            pair = (sibling, digest) if index & 1 else (digest, sibling)
            digest, level, index = merkle.node_hash(*pair), level + 1, index >> 1
        keys = merkle.complete_subtrees(0, size)
        root = merkle.root_from_subtrees([nodes[key] for key in keys])
        note = sign_note(checkpoint_text(TEST_LOG_ORIGIN, size, root), SIGNER)
        statements.append(("UPDATE tlog_checkpoints SET root_hash = :r, note = :n WHERE size = :s",
                           {"r": root, "n": note, "s": size}))  # fmt: skip
        self.execute(*statements)

    def submit(self, witness):
        with Session(self.engine) as session, WitnessHttp(timeout_s=5) as client:
            configured = Witness(parse_witness_key(witness.vkey), witness.url)
            result = witness_submit(session, witness=configured, client=client,
                                    now=datetime.now(UTC))  # fmt: skip
            session.commit()
        return result


@pytest.fixture(params=["sqlite", "postgresql"])
def serve(request, tmp_path, base_config):
    """``serve()`` a new log on a database of its own; all are closed at the end."""
    served, databases = [], []

    def start(**overrides):
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path / f'log{len(served)}.sqlite3'}"
            alembic_command(url, "upgrade", "head")
            config = {**base_config, "TANHUI_PROFILE": "embedded"}
        else:
            database, redis = require_servers()
            context = scratch_database(database, "tanhui_tools")
            url = context.__enter__()
            databases.append(context)
            config = {**base_config, "TANHUI_PROFILE": "production", "REDIS_URL": redis}
        log = ServedLog(url, config, **overrides)
        served.append(log)
        return log

    yield start
    for log in served:
        log.close()
    for context in databases:
        context.__exit__(None, None, None)


@contextmanager
def a_witness(tmp_path):
    with witness_process(tmp_path, name="witness.test/w1", logs={TEST_LOG_ORIGIN: KEY}) as w:
        yield w


def run(*argv):
    return verifier.main([str(arg) for arg in argv])


def mirror(log, directory, *extra):
    return run("mirror", log.log_url, directory, "--key", KEY, "--jobs", 4, *extra)


def test_a_mirror_by_tiles_verifies_and_grows_with_the_log(serve, tmp_path, capsys):
    log = serve()
    log.grow(300)
    folder = tmp_path / "mirror"
    assert mirror(log, folder) == 0
    assert (folder / "tile" / "0" / "000").stat().st_size == 8192
    assert (folder / "tile" / "entries" / "001.p" / "44").exists()
    log.grow(230)
    assert mirror(log, folder) == 0
    assert (folder / "tile" / "0" / "002.p" / "18").exists()
    assert not (folder / "tile" / "0" / "001.p" / "44").exists()  # replaced by the full tile
    assert "530" in capsys.readouterr().out


def test_an_altered_leaf_is_caught_by_the_mirror(serve, tmp_path, capsys):
    log = serve()
    log.grow(40)
    log.execute(("UPDATE tlog_leaves SET data = :d WHERE position = 7",
                 {"d": '{"n":"altered","type":"test.event"}'}))  # fmt: skip
    assert mirror(log, tmp_path / "mirror") == 1
    assert "FAILED" in capsys.readouterr().err


def test_an_altered_node_is_caught_by_the_mirror_and_by_the_witness(serve, tmp_path, capsys):
    log = serve()
    with a_witness(tmp_path) as witness:
        log.grow(41)
        assert log.submit(witness).outcome == "cosigned"
        # Leaf 40's hash: in level-0 tile 0, and in the proof from 41 to any larger size.
        log.execute(("UPDATE tlog_nodes SET hash = :h WHERE level = 0 AND position = 40",
                     {"h": b"\x07" * 32}))  # fmt: skip
        assert mirror(log, tmp_path / "mirror") == 1
        assert "FAILED" in capsys.readouterr().err
        log.grow(4)  # the next checkpoint's consistency proof now carries the altered node
        result = log.submit(witness)
        assert result.outcome == "refused" and result.detail.startswith("422")


def test_an_altered_checkpoint_is_caught_by_the_script_and_by_the_witness(serve, tmp_path, capsys):
    log = serve()
    with a_witness(tmp_path) as witness:
        signed = log.grow(12)
        altered = signed.note.replace("\n12\n", "\n11\n")
        log.execute(("UPDATE tlog_checkpoints SET note = :n", {"n": altered}))
        assert mirror(log, tmp_path / "mirror") == 1
        assert "FAILED" in capsys.readouterr().err
        result = log.submit(witness)
        assert result.outcome == "refused" and result.detail.startswith("403")


def test_a_fork_is_caught_by_the_mirror_that_saw_the_first_tree_and_by_the_witness(
    serve, tmp_path, capsys
):
    log = serve()
    with a_witness(tmp_path) as witness:
        log.grow(70)
        assert log.submit(witness).outcome == "cosigned"
        folder = tmp_path / "mirror"
        assert mirror(log, folder, "--witness", witness.vkey) == 0
        # A second tree of the same size, validly signed, with leaf 9 changed.
        log.rewrite_leaf(9, '{"n":"forked","type":"test.event"}')
        fresh = tmp_path / "fresh"
        assert mirror(log, fresh) == 0  # on its own, the forked tree is a consistent tree
        assert mirror(log, folder) == 1  # but not the tree this mirror saw
        assert "FAILED" in capsys.readouterr().err
        log.grow(3)
        result = log.submit(witness)
        assert result.outcome == "refused" and result.detail.startswith("422")


def test_a_split_view_is_caught_because_the_witness_cosigns_one_tree_only(serve, tmp_path, capsys):
    honest, forked = serve(), serve()
    with a_witness(tmp_path) as witness:
        honest.grow(50)
        forked.grow(50, changed={17: "split"})  # same key, same size, another history
        assert honest.submit(witness).outcome == "cosigned"
        assert forked.submit(witness).outcome == "refused"
        requirement = ("--witness", witness.vkey)
        assert mirror(honest, tmp_path / "alice", *requirement) == 0
        # Bob is served the other tree: it is signed, but no witness vouches for it.
        assert mirror(forked, tmp_path / "bob", *requirement) == 1
        assert "FAILED" in capsys.readouterr().err
        # And Alice, shown Bob's tree later, sees it is not the one she holds.
        shutil.copytree(tmp_path / "alice", tmp_path / "alice-then-bob")
        assert mirror(forked, tmp_path / "alice-then-bob") == 1


def test_a_units_proof_verifies_from_its_scan_url_alone(serve, tmp_path, capsys):
    from service.db import get_session
    from service.demo import seed

    log = serve()
    with log.app.app_context():
        session = get_session()
        lines = seed(session, hash_profile="cheapest")
        session.commit()
    log.grow(1)
    scan_url = next(line.split("scan page: ")[1] for line in lines if "scan page: " in line)
    assert scan_url.startswith(log.base)
    assert run("unit", scan_url, "--key", KEY) == 0
    output = capsys.readouterr().out
    assert "6,250,000" in output or "6250000" in output
    # The scan page shows the same command to run.
    page = log.app.test_client().get(scan_url.removeprefix(log.base)).get_data(as_text=True)
    assert f"python3 tanhui-verify.py unit '{scan_url}' --key '{KEY}'" in page
    forged = scan_url[:-1] + ("A" if scan_url[-1] != "A" else "B")
    assert run("unit", forged, "--key", KEY) != 0
    assert run("unit", scan_url, "--key", parse_signer_key(_other_key()).verifier_key) == 1


def _other_key():
    from ledger.tlog.note import generate_signer_key

    return generate_signer_key(TEST_LOG_ORIGIN)


def test_the_mirror_of_a_log_can_be_served_as_it_is(serve, tmp_path):
    """The mirror's folder has the server's layout, so serving it statically is a mirror."""
    log = serve()
    log.grow(260)
    folder = tmp_path / "mirror"
    assert mirror(log, folder) == 0
    for path in ("tile/0/000", "tile/0/001.p/4", "tile/1/000.p/1", "tile/entries/001.p/4"):
        served = log.app.test_client().get(f"/log/{path}")
        assert (folder / Path(path)).read_bytes() == served.data, path


def test_a_mirror_slows_down_when_the_log_asks_it_to(serve, tmp_path):
    """Past its rate limit the log answers 429 with Retry-After; the mirror waits and goes on."""
    log = serve(RATELIMIT_LOG="4 per second")
    log.grow(600)  # a checkpoint and ten tiles and bundles: more than a second's allowance
    assert mirror(log, tmp_path / "mirror") == 0
