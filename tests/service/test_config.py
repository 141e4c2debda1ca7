"""Configuration: the embedded default needs nothing; production names what it lacks."""

import json
import stat

import pytest

from ledger.tlog.note import generate_signer_key
from service.app import create_app
from service.config import ConfigError, load_config, normalise_database_url


def test_embedded_default_needs_nothing_and_keeps_its_secrets(tmp_path):
    first = load_config(environ={}, overrides={"INSTANCE_PATH": str(tmp_path)})
    assert first["TANHUI_PROFILE"] == "embedded"
    assert first["DATABASE_URL"] == f"sqlite:///{tmp_path / 'tanhui.sqlite3'}"
    assert first["REDIS_URL"] is None
    secrets_file = tmp_path / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert len(first["JWT_SECRET_KEY"]) >= 32

    second = load_config(environ={}, overrides={"INSTANCE_PATH": str(tmp_path)})
    assert second["JWT_SECRET_KEY"] == first["JWT_SECRET_KEY"]
    assert json.loads(secrets_file.read_text())["SECRET_KEY"] == first["SECRET_KEY"]


def test_production_refuses_to_start_and_names_every_missing_variable(tmp_path):
    with pytest.raises(ConfigError) as error:
        create_app({"TANHUI_PROFILE": "production", "INSTANCE_PATH": str(tmp_path)})
    message = str(error.value)
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "JWT_SECRET_KEY", "TLOG_SIGNING_KEY"):
        assert name in message


LOG_KEY = generate_signer_key("tanhui.local/log")


def test_production_names_only_what_is_missing(tmp_path):
    environ = {
        "TLOG_SIGNING_KEY": LOG_KEY,
        "TANHUI_PROFILE": "production",
        "DATABASE_URL": "postgresql://db/tanhui",
        "SECRET_KEY": "s" * 40,
        "JWT_SECRET_KEY": "j" * 40,
    }
    with pytest.raises(ConfigError, match=r"set REDIS_URL$"):
        load_config(environ=environ, overrides={"INSTANCE_PATH": str(tmp_path)})


def test_production_refuses_short_secrets(tmp_path):
    environ = {
        "TLOG_SIGNING_KEY": LOG_KEY,
        "TANHUI_PROFILE": "production",
        "DATABASE_URL": "postgresql://db/tanhui",
        "REDIS_URL": "redis://localhost/0",
        "SECRET_KEY": "s" * 40,
        "JWT_SECRET_KEY": "short",
    }
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY must be at least 32"):
        load_config(environ=environ, overrides={"INSTANCE_PATH": str(tmp_path)})


def test_production_takes_everything_from_the_environment(tmp_path):
    environ = {
        "TLOG_SIGNING_KEY": LOG_KEY,
        "TANHUI_PROFILE": "production",
        "DATABASE_URL": "postgres://user@db:5432/tanhui",
        "REDIS_URL": "redis://cache:6379/0",
        "SECRET_KEY": "s" * 40,
        "JWT_SECRET_KEY": "j" * 40,
        "ACCESS_TOKEN_TTL_S": "600",
    }
    config = load_config(environ=environ, overrides={"INSTANCE_PATH": str(tmp_path)})
    assert config["DATABASE_URL"] == "postgresql+psycopg://user@db:5432/tanhui"
    assert config["ACCESS_TOKEN_TTL_S"] == 600
    assert not (tmp_path / "secrets.json").exists()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"TANHUI_PROFILE": "staging"}, "TANHUI_PROFILE must be one of"),
        ({"ACCESS_TOKEN_TTL_S": "soon"}, "ACCESS_TOKEN_TTL_S must be a number"),
    ],
)
def test_bad_values_are_named(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message):
        load_config(environ=environ, overrides={"INSTANCE_PATH": str(tmp_path)})


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_database_urls_are_pinned_to_psycopg(url, expected):
    assert normalise_database_url(url) == expected


def test_the_log_key_must_parse_and_match_the_origin(tmp_path):
    base = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40}
    with pytest.raises(ConfigError, match="not a signed-note private key"):
        load_config(environ={}, overrides={**base, "TLOG_SIGNING_KEY": "garbage"})
    with pytest.raises(ConfigError, match="but TLOG_ORIGIN is"):
        load_config(
            environ={},
            overrides={**base, "TLOG_SIGNING_KEY": LOG_KEY, "TLOG_ORIGIN": "another.origin/log"},
        )


def test_the_embedded_profile_generates_a_log_key_for_its_origin(tmp_path):
    config = load_config(environ={}, overrides={"INSTANCE_PATH": str(tmp_path)})
    assert config["TLOG_SIGNING_KEY"].startswith("PRIVATE+KEY+tanhui.local/log+")
