"""Fixtures: every test that takes ``app`` runs twice, once per backend.

* ``sqlite``: the embedded profile, a SQLite file and in-process stores.
* ``postgresql``: the production profile against real PostgreSQL and real Redis, found through
  ``TEST_DATABASE_URL`` and ``TEST_REDIS_URL`` (``.ci/run`` and ``make test`` set them). Without
  them the backend is skipped with a reason, except under ``CI=true``, where it fails.

Each test runs inside one outer transaction that is rolled back at the end; the app's sessions
join it through SAVEPOINTs, so the request layer's commits are real commits of a savepoint, as
SQLAlchemy documents for test suites.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from ledger.tlog.note import generate_signer_key
from service.app import create_app
from service.db import create_engine
from service.migrations import alembic_command, scratch_database
from tests.fakes.wechat import FakeWeChat
from tests.redis_server import redis_server  # noqa: F401 - a fixture every package may use

BACKENDS = ("sqlite", "postgresql")
TEST_SECRET = "test-secret-" + "x" * 40
TEST_APPID = "wx0123456789abcdef"
TEST_APP_SECRET = "fake-app-secret-for-tests"
TEST_LOG_ORIGIN = "tanhui.test/log"
TEST_LOG_KEY = generate_signer_key(TEST_LOG_ORIGIN)


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str
    redis_url: str | None

    @property
    def profile(self) -> str:
        return "production" if self.name == "postgresql" else "embedded"


def server_urls() -> tuple[str | None, str | None]:
    return os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_REDIS_URL")


def require_servers() -> tuple[str, str]:
    """The PostgreSQL and Redis URLs, or skip (fail under CI) when they are not set."""
    database_url, redis_url = server_urls()
    if database_url and redis_url:
        return database_url, redis_url
    missing = [
        n for n, v in (("TEST_DATABASE_URL", database_url), ("TEST_REDIS_URL", redis_url)) if not v
    ]
    message = f"{', '.join(missing)} not set: run `make test`, which starts PostgreSQL and Redis"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Backend:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "tanhui.sqlite3"
        return Backend("sqlite", f"sqlite:///{path}", None)
    database_url, redis_url = require_servers()
    return Backend("postgresql", database_url, redis_url)


@pytest.fixture(scope="session")
def engine(backend: Backend) -> Iterator[Engine]:
    alembic_command(backend.database_url, "upgrade", "head")
    engine = create_engine(backend.database_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def connection(engine: Engine) -> Iterator[Connection]:
    connection = engine.connect()
    transaction = connection.begin()
    yield connection
    if transaction.is_active:
        transaction.rollback()
    connection.close()


@pytest.fixture()
def session(connection: Connection) -> Iterator[Session]:
    """A session on the test's transaction: it sees what requests committed, and vice versa."""
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()


@pytest.fixture()
def fake_wechat(httpserver: Any) -> FakeWeChat:
    return FakeWeChat(httpserver, appid=TEST_APPID, secret=TEST_APP_SECRET)


@pytest.fixture()
def base_config(tmp_path: Path, fake_wechat: FakeWeChat) -> dict[str, Any]:
    """Settings every test app shares, whatever the backend."""
    prefix = f"tanhui-test-{uuid.uuid4().hex[:12]}"
    return {
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": TEST_SECRET,
        "JWT_SECRET_KEY": TEST_SECRET,
        "TLOG_SIGNING_KEY": TEST_LOG_KEY,
        "TLOG_ORIGIN": TEST_LOG_ORIGIN,
        "PASSWORD_HASH_PROFILE": "cheapest",
        "WECHAT_APPID": TEST_APPID,
        "WECHAT_SECRET": TEST_APP_SECRET,
        "WECHAT_API_BASE_URL": fake_wechat.base_url,
        "WECHAT_WEB_APPID": fake_wechat.web_appid,
        "WECHAT_WEB_SECRET": fake_wechat.web_secret,
        "WECHAT_OAUTH_BASE_URL": fake_wechat.base_url,
        "RATELIMIT_KEY_PREFIX": prefix,
        "CACHE_KEY_PREFIX": prefix,
        "TESTING": True,
    }


@pytest.fixture()
def server_config(base_config: dict[str, Any]) -> dict[str, Any]:
    """The production profile on the real servers, for tests that only make sense there."""
    database_url, redis_url = require_servers()
    return {
        **base_config,
        "TANHUI_PROFILE": "production",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
    }


@pytest.fixture()
def scratch_database_url(server_config: dict[str, Any]) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of its own, for tests that commit for real."""
    with scratch_database(server_config["DATABASE_URL"], "tanhui_scratch") as url:
        yield url


@pytest.fixture()
def app_config(backend: Backend, base_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **base_config,
        "TANHUI_PROFILE": backend.profile,
        "DATABASE_URL": backend.database_url,
        "REDIS_URL": backend.redis_url,
    }


@pytest.fixture()
def make_app(app_config: dict[str, Any], connection: Connection) -> Iterator[Callable[..., Flask]]:
    """Build an app on the test's transaction, with settings overridden as given."""
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        app = create_app({**app_config, **overrides})
        app.extensions["tanhui.db"].sessionmaker.configure(
            bind=connection, join_transaction_mode="create_savepoint"
        )
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["tanhui.db"].engine.dispose()
        redis_client = app.extensions.get("tanhui.redis")
        if redis_client is not None:
            redis_client.close()


@pytest.fixture()
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


# -- factories ------------------------------------------------------------------------------------
@pytest.fixture()
def make_staff(app: Flask, session: Session) -> Callable[..., Any]:
    """Create a staff user with a password; returns the user."""
    from service.auth.passwords import password_hash
    from service.base.parties import services

    def make(
        username: str | None = None,
        *,
        role: str = "operator",
        organisation=None,
        password: str = "correct horse battery staple",
    ) -> Any:
        user = services.staff_create(
            session,
            username=username or f"staff_{uuid.uuid4().hex[:8]}",
            password_hash=password_hash(password, "cheapest"),
            role=role,
            organisation=organisation,
        )
        session.commit()
        return user

    return make


@pytest.fixture()
def make_organisation(session: Session) -> Callable[..., Any]:
    """Create an approved organisation directly (no API)."""
    from service.base.parties.models import Organisation

    counter = iter(range(1, 10_000))

    def make(
        kind: str = "enterprise",
        *,
        name: str | None = None,
        uscc: str | None = None,
        region_code: str | None = "310118",
        status: str = "approved",
    ) -> Any:
        if kind == "enterprise" and uscc is None:
            uscc = valid_uscc(next(counter))
        organisation = Organisation(
            kind=kind,
            name=name or f"{kind} {uuid.uuid4().hex[:6]}",
            uscc=uscc,
            region_code=region_code,
            status=status,
        )
        session.add(organisation)
        session.commit()
        return organisation

    return make


def valid_uscc(serial: int) -> str:
    from stdnum.cn import uscc

    base = f"91310118MA{serial:07d}"
    return base + uscc.calc_check_digit(base)


@pytest.fixture()
def sign_in(client: FlaskClient) -> Callable[..., dict[str, Any]]:
    """Sign a staff user in by password and return the token response."""

    def do(username: str, password: str = "correct horse battery staple") -> dict[str, Any]:
        response = client.post(
            "/api/v1/auth/password", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return do


@pytest.fixture()
def bearer() -> Callable[[dict[str, Any]], dict[str, str]]:
    def headers(tokens: dict[str, Any]) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens['access_token']}"}

    return headers


@pytest.fixture()
def consumer_tokens(client: FlaskClient, fake_wechat: FakeWeChat) -> Callable[..., dict[str, Any]]:
    """Sign a new consumer in through the fake WeChat and return the token response."""

    def do(openid: str | None = None, unionid: str | None = None) -> dict[str, Any]:
        code = fake_wechat.issue_code(openid or f"openid-{uuid.uuid4().hex[:12]}", unionid=unionid)
        response = client.post("/api/v1/auth/wechat", json={"code": code})
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    return do


def count_rows(session: Session, table: str) -> int:
    return session.scalar(sa.text(f"SELECT count(*) FROM {table}"))  # noqa: S608 - fixed names


@pytest.fixture()
def claimant(make_organisation: Callable[..., Any]) -> Any:
    """The enterprise a test's retirements are made for, so the one whose claims draw on them
    (the registry writes its legal name, "上海某米业有限公司")."""
    return make_organisation("enterprise", name="上海某米业有限公司 Shanghai Rice Co.")
