"""Backup and restore, worked through on PostgreSQL: the demo and a morning's traffic through the
API (a lot ordered and paid, units claimed, a personal offset, the log sequenced and its
checkpoints published), then ``tanhui backup``; ``tanhui restore`` into a fresh database gives a
ledger and a log that verify and extend every checkpoint published before the backup. A backup
older than a published checkpoint is refused, unless the operator forces it and is warned."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.codes import serial_for
from labels.lots import lot_key_of
from labels.models import LabelLot, Product
from ledger.tlog import consistency_proof
from ledger.tlog.merkle import verify_consistency
from ledger.tlog.note import open_checkpoint, parse_signer_key
from service.app import create_app
from service.backup import MANIFEST_NAME, SECRETS_NOT_IN_BACKUP, manifest_read
from service.base.orm import create_engine
from service.db import database
from service.migrations import scratch_database
from tests.conftest import TEST_LOG_KEY, TEST_LOG_ORIGIN

DEMO_PASSWORD = "tanhui-demo-2026"
VERIFIER = parse_signer_key(TEST_LOG_KEY).verifier()


class Pilot:
    """The demo on a database of its own, driven through the API with real commits."""

    def __init__(self, config, url, fake_wechat):
        self.config = {**config, "DATABASE_URL": url}
        self.app = create_app(self.config)
        self.client = self.app.test_client()
        self.cli = self.app.test_cli_runner()
        self.wechat = fake_wechat
        self.url = url
        if not url.startswith("sqlite"):
            assert self.cli.invoke(args=["demo", "seed"]).exit_code == 0

    def run(self, *args):
        return self.cli.invoke(args=list(args))

    def staff(self, username):
        response = self.client.post(
            "/api/v1/auth/password", json={"username": username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    def consumer(self, openid, unionid=None):
        code = self.wechat.issue_code(openid, unionid=unionid)
        response = self.client.post("/api/v1/auth/wechat", json={"code": code})
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    def lot_paid(self, lot_number, units):
        """Lianta orders a lot of its certified label; the operator confirms the transfer."""
        lianta, operator = self.staff("lianta"), self.staff("operator")
        labels = self.client.get("/api/v1/labels?status=certified", headers=lianta).get_json()
        ordered = self.client.post(
            "/api/v1/lots",
            headers={**lianta, "Idempotency-Key": f"lot-{lot_number}"},
            json={"label_id": labels[0]["id"], "lot_number": lot_number, "units": units},
        )
        assert ordered.status_code == 201, ordered.get_json()
        lot = ordered.get_json()
        paid = self.client.post(
            f"/api/v1/lots/{lot['id']}/offline-payment",
            headers=operator,
            json={"reference": f"BOC-{lot_number}", "amount_fen": lot["amount_fen"]},
        )
        assert paid.status_code == 200, paid.get_json()
        with Session(database(self.app).engine) as session:
            row = session.get(LabelLot, lot["id"])
            product = session.get(Product, row.product_id)
            key = lot_key_of(row, product, self.app.config["UNIT_CODE_MASTER_KEYS"])
            base = self.app.config["PUBLIC_BASE_URL"]
            return [
                f"{base}/01/{product.gtin}/10/{lot_number}/21/{serial_for(key, index)}"
                for index in range(units)
            ]

    def claim(self, headers, code):
        response = self.client.post(
            "/api/v1/points/claims",
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            json={"code": code},
        )
        assert response.status_code == 201, response.get_json()

    def offset(self, headers):
        items = self.client.get("/api/v1/points/catalogue", headers=headers).get_json()
        item = next(item for item in items if item["code"] == "OFFSET-1KG")
        response = self.client.post(
            "/api/v1/points/orders",
            headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            json={"item_id": item["id"], "quantity": 2, "holder_name": "小林"},
        )
        assert response.status_code == 201, response.get_json()

    def publish(self, directory: Path, name: str) -> str:
        """Sequence the log and keep its newest checkpoint as the portal publishes it."""
        assert self.run("log", "sequence").exit_code == 0
        with Session(database(self.app).engine) as session:
            note = session.scalar(sa.text("SELECT note FROM tlog_checkpoints ORDER BY size DESC"))
        (directory / name).write_text(note)
        return note

    def close(self):
        database(self.app).engine.dispose()


@pytest.fixture()
def pilot(server_config, scratch_database_url, fake_wechat):
    pilot = Pilot(server_config, scratch_database_url, fake_wechat)
    yield pilot
    pilot.close()


@pytest.fixture()
def fresh_database_url(server_config):
    with scratch_database(server_config["DATABASE_URL"], "tanhui_restore", migrate=False) as url:
        yield url


def a_morning(pilot, tmp_path):
    """The traffic before the backup; returns the first published checkpoint's note."""
    units = pilot.lot_paid("LT2026B", 5)
    lin = pilot.consumer("o-demo-lin", "u-demo-lin")
    pilot.claim(lin, units[0])
    pilot.claim(pilot.consumer("o-backup-mei"), units[1])
    first = pilot.publish(tmp_path, "first.note")
    pilot.offset(lin)
    pilot.claim(lin, units[2])
    pilot.publish(tmp_path, "latest.note")
    return first, units


def tables(url):
    engine = create_engine(url)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_backup_restores_into_a_fresh_database_that_verifies(pilot, tmp_path, fresh_database_url):
    first, _ = a_morning(pilot, tmp_path)
    backup = tmp_path / "backup"
    made = pilot.run("backup", str(backup))
    assert made.exit_code == 0, made.output
    assert "TLOG_SIGNING_KEY" in made.output  # it says what it left out
    manifest = manifest_read(backup)
    assert manifest["database"] == "postgresql"
    assert manifest["schema_revision"] and manifest["entries"] > 0
    assert manifest["log_tree_size"] == manifest["checkpoint"]["size"] > 0
    assert set(SECRETS_NOT_IN_BACKUP) == set(manifest["secrets_not_included"])
    dump = (backup / manifest["file"]).read_bytes()
    assert TEST_LOG_KEY.encode() not in dump

    restored = pilot.run(
        "restore", str(backup), "--database-url", fresh_database_url,
        "--checkpoint", str(tmp_path / "latest.note"),
    )  # fmt: skip
    assert restored.exit_code == 0, restored.output
    assert "WARNING" not in restored.output

    app = create_app({**pilot.config, "DATABASE_URL": fresh_database_url})
    try:
        cli = app.test_cli_runner()
        verified = cli.invoke(args=["ledger", "verify"])
        assert verified.exit_code == 0, verified.output
        logged = cli.invoke(args=["log", "verify"])
        assert logged.exit_code == 0, logged.output
        # The restored log extends the first checkpoint published before the backup.
        published = open_checkpoint(first, VERIFIER, TEST_LOG_ORIGIN)
        with Session(database(app).engine) as session:
            size = manifest["log_tree_size"]
            path = consistency_proof(session, old_size=published.size, new_size=size)
        root = base64.b64decode(manifest["checkpoint"]["root_hash"])
        assert published.size < size
        assert verify_consistency(published.size, size, published.root_hash, root, path)
    finally:
        database(app).engine.dispose()


def test_a_restore_behind_a_published_checkpoint_is_refused(pilot, tmp_path, fresh_database_url):
    _, units = a_morning(pilot, tmp_path)
    backup = tmp_path / "backup"
    assert pilot.run("backup", str(backup)).exit_code == 0
    # After the backup the service goes on and publishes a bigger tree.
    pilot.claim(pilot.consumer("o-backup-late"), units[3])
    pilot.publish(tmp_path, "after.note")

    refused = pilot.run(
        "restore", str(backup), "--database-url", fresh_database_url,
        "--checkpoint", str(tmp_path / "after.note"),
    )  # fmt: skip
    assert refused.exit_code != 0
    assert (
        "restore refused" in refused.output and "roll the transparency log back" in refused.output
    )
    assert tables(fresh_database_url) == []  # nothing was written

    forced = pilot.run(
        "restore", str(backup), "--database-url", fresh_database_url,
        "--checkpoint", str(tmp_path / "after.note"), "--force-rollback",
    )  # fmt: skip
    assert forced.exit_code == 0, forced.output
    assert "WARNING: restored with --force-rollback" in forced.output
    assert "alembic_version" in tables(fresh_database_url)


def test_a_restore_without_a_published_checkpoint_needs_force(pilot, tmp_path, fresh_database_url):
    assert pilot.run("backup", str(tmp_path / "backup")).exit_code == 0
    refused = pilot.run("restore", str(tmp_path / "backup"), "--database-url", fresh_database_url)
    assert refused.exit_code != 0 and "no published checkpoint" in refused.output
    assert tables(fresh_database_url) == []


def test_a_restore_into_a_database_in_use_is_refused(pilot, tmp_path, scratch_database_url):
    pilot.publish(tmp_path, "latest.note")
    assert pilot.run("backup", str(tmp_path / "backup")).exit_code == 0
    refused = pilot.run(
        "restore", str(tmp_path / "backup"), "--database-url", scratch_database_url,
        "--checkpoint", str(tmp_path / "latest.note"),
    )  # fmt: skip
    assert refused.exit_code != 0 and "not empty" in refused.output


def test_a_damaged_backup_is_refused(pilot, tmp_path, fresh_database_url):
    backup = tmp_path / "backup"
    assert pilot.run("backup", str(backup)).exit_code == 0
    manifest = manifest_read(backup)
    with (backup / manifest["file"]).open("ab") as dump:
        dump.write(b"\0")
    refused = pilot.run(
        "restore", str(backup), "--database-url", fresh_database_url, "--force-rollback"
    )
    assert refused.exit_code != 0 and "SHA-256" in refused.output
    assert (backup / MANIFEST_NAME).exists()


def test_the_embedded_database_is_copied_whole_and_restores(base_config, fake_wechat, tmp_path):
    source = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    pilot = Pilot({**base_config, "TANHUI_PROFILE": "embedded", "REDIS_URL": None}, source,
                  fake_wechat)  # fmt: skip
    try:
        assert pilot.run("db", "upgrade").exit_code == 0
        assert pilot.run("demo", "seed").exit_code == 0
        pilot.publish(tmp_path, "latest.note")
        made = pilot.run("backup", str(tmp_path / "backup"))
        assert made.exit_code == 0, made.output
        assert manifest_read(tmp_path / "backup")["database"] == "sqlite"
        target = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        restored = pilot.run(
            "restore", str(tmp_path / "backup"), "--database-url", target,
            "--checkpoint", str(tmp_path / "latest.note"),
        )  # fmt: skip
        assert restored.exit_code == 0, restored.output
    finally:
        pilot.close()
    app = create_app({**pilot.config, "DATABASE_URL": target})
    try:
        verified = app.test_cli_runner().invoke(args=["ledger", "verify"])
        assert verified.exit_code == 0, verified.output
    finally:
        database(app).engine.dispose()
