"""The ``tanhui`` console command, in-process and as the installed script."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import sqlalchemy as sa

from points import selectors as points
from service.base.parties.models import Membership, Organisation, User, WeChatIdentity
from service.db import utcnow
from service.demo import (
    DEMO_CONSUMERS,
    DEMO_ORGANISATIONS,
    DEMO_PASSWORD,
    DEMO_PLATFORM_STAFF,
)
from tests.conftest import count_rows

TANHUI = str(Path(sys.executable).parent / "tanhui")
PASSWORD = "a long enough password"


def test_staff_create_reads_the_password_from_stdin(app, session, client):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["staff", "create", "alice", "--role", "certifier", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "with role certifier" in result.output
    user = session.scalars(sa.select(User).where(User.username == "alice")).one()
    assert user.password_hash.startswith("$argon2id$")
    signed_in = client.post(
        "/api/v1/auth/password", json={"username": "alice", "password": PASSWORD}
    )
    assert signed_in.status_code == 200


def test_staff_create_refuses_short_passwords_and_duplicates(app, session):
    runner = app.test_cli_runner()
    short = runner.invoke(
        args=["staff", "create", "bob", "--role", "operator", "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0
    assert "12 to 256 characters" in short.output
    runner.invoke(
        args=["staff", "create", "bob", "--role", "operator", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    again = runner.invoke(
        args=["staff", "create", "bob", "--role", "operator", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert again.exit_code != 0
    assert "already_exists" in again.output
    assert (
        session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == "bob"))
        == 1
    )


def test_enterprise_staff_need_their_enterprise(app, session, make_organisation):
    enterprise = make_organisation("enterprise")
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "staff",
            "create",
            "carol",
            "--role",
            "enterprise_staff",
            "--organisation-id",
            str(enterprise.id),
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    membership = session.scalars(
        sa.select(Membership)
        .join(User, Membership.user_id == User.id)
        .where(User.username == "carol")
    ).one()
    assert membership.organisation_id == enterprise.id
    wrong = runner.invoke(
        args=["staff", "create", "dave", "--role", "enterprise_staff", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert wrong.exit_code != 0  # enterprise staff cannot be held in the platform


def test_demo_seed_is_idempotent_and_its_logins_work(app, session, client):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    tables = (
        "users",
        "organisations",
        "memberships",
        "credit_batches",
        "credit_retirements",
        "ledger_entries",
    )
    counts = {table: count_rows(session, table) for table in tables}
    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0
    assert {table: count_rows(session, table) for table in counts} == counts
    assert counts["organisations"] == len(DEMO_ORGANISATIONS) + 1
    assert counts["users"] == (
        len(DEMO_ORGANISATIONS) + len(DEMO_PLATFORM_STAFF) + len(DEMO_CONSUMERS)
    )
    for _, _, unionid, granted in DEMO_CONSUMERS:
        consumer = session.scalars(
            sa.select(WeChatIdentity.user_id).where(WeChatIdentity.unionid == unionid)
        ).one()
        assert points.summary(session, "user", consumer, utcnow())["available"] == granted
    regions = set(
        session.scalars(
            sa.select(Organisation.region_code).where(
                Organisation.kind.in_(["farm", "cooperative"])
            )
        )
    )
    assert regions == {"310118", "320509", "330421"}
    # The three pilot projects' credits; retirements for Lianta, Tongli and the personal-offset
    # programme, each its own, and YRD Select's retired on payment of its lot (here by the local
    # registry: no registry API is set up); farms linked to their owners.
    assert (counts["credit_batches"], counts["credit_retirements"]) == (6, 4)
    assert (
        "retired on payment: 长三角优选 香粳米 5kg, lot YS2026A of 500 units (issued; registry "
        "the local registry YRD-CI: 1 retired)" in first.output
    )
    assert "credits: 3 pilot projects, 6 batches, 530 t retired" in first.output
    assert (
        "carbon_neutral TH-" in first.output
        and "lot LT2026A of 1000 units (issued)" in first.output
    )
    scan = next(line for line in first.output.splitlines() if line.startswith("scan page: "))
    path = urlparse(scan.removeprefix("scan page: ")).path
    scanned = client.get(path, headers={"Accept": "application/json"}).get_json()
    assert scanned["outcome"] == "genuine"
    assert scanned["backing"]["proof"]["tree_size"] > scanned["backing"]["proof"]["leaf_index"]
    linked = session.scalar(sa.text("SELECT count(*) FROM credit_farms WHERE organisation_id > 0"))
    assert linked == 5
    verified = runner.invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0, verified.output
    for username, _ in DEMO_PLATFORM_STAFF:
        response = client.post(
            "/api/v1/auth/password", json={"username": username, "password": DEMO_PASSWORD}
        )
        assert response.status_code == 200


def test_the_installed_script_migrates_and_reports(tmp_path):
    environment = {
        **os.environ,
        "TANHUI_INSTANCE_PATH": str(tmp_path),
        "TANHUI_PROFILE": "embedded",
    }
    environment.pop("DATABASE_URL", None)

    def tanhui(*args):
        return subprocess.run(
            [TANHUI, *args],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    upgraded = tanhui("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "tanhui.sqlite3").exists()
    assert (tmp_path / "secrets.json").exists()
    current = tanhui("db", "current")
    assert "(head)" in current.stdout + current.stderr
    assert tanhui("db", "downgrade", "base").returncode == 0
    assert tanhui("db", "upgrade").returncode == 0


def test_production_profile_refuses_to_start_from_the_script(tmp_path):
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "JWT_SECRET_KEY")
    }
    environment.update(TANHUI_PROFILE="production", TANHUI_INSTANCE_PATH=str(tmp_path))
    result = subprocess.run(
        [TANHUI, "db", "current"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert (
        "set DATABASE_URL, REDIS_URL, SECRET_KEY, JWT_SECRET_KEY, TLOG_SIGNING_KEY" in result.stderr
    )
