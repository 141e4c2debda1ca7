"""Configuration from the environment, in two profiles.

``embedded`` (the default) needs nothing: a SQLite file under the instance folder, an in-process
cache and in-process rate limits, and development secrets generated once and kept in
``instance/secrets.json``. ``production`` refuses to start unless the database, Redis and every
secret are given, and the error names each missing variable.

Only :func:`load_config` reads ``os.environ``; everything else takes the mapping it returns.
This module is ground: secrets of a format it does not know (the transparency log's signing key)
are generated and checked by hooks the composition root passes in (``service.config``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PROFILES = ("embedded", "production")

#: Secrets every profile needs. Production takes them from the environment only; the embedded
#: profile generates them once under ``instance/``. ``TLOG_SIGNING_KEY`` is the transparency log's
#: Ed25519 key in the signed-note format (``PRIVATE+KEY+<origin>+...``); ``tanhui log key``
#: prints its public half.
SECRET_NAMES = ("SECRET_KEY", "JWT_SECRET_KEY", "TLOG_SIGNING_KEY")
RANDOM_SECRET_NAMES = ("SECRET_KEY", "JWT_SECRET_KEY")
SECRET_MIN_LENGTH_CHARS = 32
#: Production cannot run without these besides the secrets.
PRODUCTION_REQUIRED = ("DATABASE_URL", "REDIS_URL")

#: Named limits (tests exercise each edge).
MAX_CONTENT_LENGTH_BYTES = 1024 * 1024
ACCESS_TOKEN_TTL_S = 15 * 60
REFRESH_TOKEN_TTL_S = 30 * 24 * 3600
#: Sign-in failures never lock an account. Failures from one client address at one account name
#: are free up to ``PASSWORD_PAIR_FREE_FAILURES``; then that address waits before its next try at
#: that name, ``PASSWORD_PAIR_DELAY_BASE_S`` doubling with each failure up to
#: ``PASSWORD_PAIR_DELAY_MAX_S``. Past ``PASSWORD_CHALLENGE_AFTER_FAILURES`` failures at a name
#: from all addresses, every try at that name carries a solved proof-of-work challenge of
#: ``PASSWORD_CHALLENGE_BITS`` zero bits, valid ``PASSWORD_CHALLENGE_TTL_S``. Failures older
#: than ``PASSWORD_FAILURE_WINDOW_S`` are forgotten.
PASSWORD_PAIR_FREE_FAILURES = 5
PASSWORD_PAIR_DELAY_BASE_S = 2
PASSWORD_PAIR_DELAY_MAX_S = 15 * 60
PASSWORD_CHALLENGE_AFTER_FAILURES = 10
PASSWORD_CHALLENGE_BITS = 16
PASSWORD_CHALLENGE_TTL_S = 5 * 60
PASSWORD_FAILURE_WINDOW_S = 24 * 3600
#: An invitation to join an organisation waits this long for its answer.
INVITATION_TTL_S = 14 * 24 * 3600
PASSWORD_MIN_LENGTH_CHARS = 12
PASSWORD_MAX_LENGTH_CHARS = 256
WECHAT_HTTP_TIMEOUT_S = 5.0
WECHAT_TOKEN_REFRESH_MARGIN_S = 300
#: A registry's API (``service.registry_http``): seconds to connect, and to wait for its answer.
REGISTRY_CONNECT_TIMEOUT_S = 3.0
REGISTRY_READ_TIMEOUT_S = 10.0
#: How long the sequencer waits for one witness's answer (connecting and reading).
TLOG_WITNESS_TIMEOUT_S = 5.0
PAGE_SIZE_MAX = 100
#: ``/metrics`` answers these addresses (CIDRs, comma-separated) and requests bearing
#: ``METRICS_BEARER_TOKEN``; by default only this machine (a scraper beside the service).
METRICS_ALLOWED_NETWORKS_DEFAULT = "127.0.0.0/8,::1/128"

DEFAULTS: dict[str, Any] = {
    "TANHUI_PROFILE": "embedded",
    "JWT_ISSUER": "tanhui",
    "JWT_AUDIENCE": "tanhui-api",
    "ACCESS_TOKEN_TTL_S": ACCESS_TOKEN_TTL_S,
    "REFRESH_TOKEN_TTL_S": REFRESH_TOKEN_TTL_S,
    "PASSWORD_PAIR_FREE_FAILURES": PASSWORD_PAIR_FREE_FAILURES,
    "PASSWORD_PAIR_DELAY_BASE_S": PASSWORD_PAIR_DELAY_BASE_S,
    "PASSWORD_PAIR_DELAY_MAX_S": PASSWORD_PAIR_DELAY_MAX_S,
    "PASSWORD_CHALLENGE_AFTER_FAILURES": PASSWORD_CHALLENGE_AFTER_FAILURES,
    "PASSWORD_CHALLENGE_BITS": PASSWORD_CHALLENGE_BITS,
    "PASSWORD_CHALLENGE_TTL_S": PASSWORD_CHALLENGE_TTL_S,
    "PASSWORD_FAILURE_WINDOW_S": PASSWORD_FAILURE_WINDOW_S,
    "INVITATION_TTL_S": INVITATION_TTL_S,
    "MAX_CONTENT_LENGTH": MAX_CONTENT_LENGTH_BYTES,
    "WECHAT_APPID": "",
    "WECHAT_SECRET": "",
    "WECHAT_API_BASE_URL": "https://api.weixin.qq.com",
    "WECHAT_HTTP_TIMEOUT_S": WECHAT_HTTP_TIMEOUT_S,
    # The official account whose silent web authorisation signs readers of our pages in when
    # they open them in WeChat's browser (a scan outside the mini-program).
    "WECHAT_WEB_APPID": "",
    "WECHAT_WEB_SECRET": "",
    "WECHAT_OAUTH_BASE_URL": "https://open.weixin.qq.com",
    "RATELIMIT_SIGN_IN": "10 per minute;100 per hour",
    "RATELIMIT_DEFAULT": "600 per minute",
    # Per client address on code resolution: far above a shopper's or a shop clerk's pace.
    "RATELIMIT_RESOLVER": "240 per minute",
    "RATELIMIT_CLAIMS": "30 per minute",
    # Per client address on the log's checkpoint and tiles: a mirror of a million leaves asks
    # for about 8,000 (immutable tiles belong behind a CDN at scale).
    "RATELIMIT_LOG": "6000 per minute",
    "RATELIMIT_CLAIMS_PER_USER": "20 per minute;200 per day",
    "RATELIMIT_CLAIMS_PER_DEVICE": "20 per minute;200 per day",
    "RATELIMIT_KEY_PREFIX": "tanhui",
    "CACHE_KEY_PREFIX": "tanhui",
    "LOG_LEVEL": "INFO",
    "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
    "TLOG_ORIGIN": "tanhui.local/log",
    # Witnesses that cosign the log's checkpoints (C2SP tlog-witness): comma-separated
    # "<witness verifier key> <submission URL>" pairs. Unset: checkpoints carry the log's
    # signature alone. The published checkpoint is the newest that TLOG_WITNESS_QUORUM of them
    # cosigned (-1: all of them).
    "TLOG_WITNESSES": "",
    "TLOG_WITNESS_QUORUM": -1,
    "TLOG_WITNESS_TIMEOUT_S": TLOG_WITNESS_TIMEOUT_S,
    # The personal-offset programme: the USCC of the organisation whose retirements back
    # personal offsets; empty, the platform organisation itself.
    "PERSONAL_OFFSET_PROGRAMME_USCC": "",
    # Label lots: the price of retired credits and the service fee, in fen.
    "LABEL_PRICE_PER_TONNE_FEN": 8_000,
    "LABEL_SERVICE_FEE_FEN": 20_000,
    # Unit-code master keys, "A:<64 hex>,B:<64 hex>"; the last is used for new lots. Unset: one
    # key "A" derived from SECRET_KEY.
    "UNIT_CODE_KEYS": "",
    # The mini-program page a printed mini-program code opens (it reads the unit from ``scene``).
    "WECHAT_SCAN_PAGE": "pages/scan/index",
    # A code scanned more often than this shows a warning on its page.
    "RESOLVER_SCAN_WARNING_COUNT": 20,
    # Farm payouts: fen paid per 100 points (100 = one fen a point).
    "POINTS_PAYOUT_FEN_PER_100_POINTS": 100,
    # Claim flags for operators: provinces one user claims from in a day; claims in a minute.
    "POINTS_FLAG_PROVINCES_PER_DAY": 3,
    "POINTS_FLAG_CLAIMS_PER_MINUTE": 10,
    # WeChat Pay API v3 (JSAPI). Unset: lots are paid by offline transfer only.
    "WECHATPAY_MCHID": "",
    "WECHATPAY_MERCHANT_SERIAL": "",
    "WECHATPAY_PRIVATE_KEY": "",
    "WECHATPAY_APIV3_KEY": "",
    "WECHATPAY_PLATFORM_SERIAL": "",
    "WECHATPAY_PLATFORM_PUBLIC_KEY": "",
    "WECHATPAY_API_BASE_URL": "https://api.mch.weixin.qq.com",
    # A registry's API (docs/registry-protocol.md): its base URL, our API key and the platform's
    # holding account there. Unset: retirements are recorded by operators (the local registry).
    "REGISTRY_URL": "",
    # The registry (its code in our record, ``credit_registries.code``) whose batches the
    # platform holds: retirements on payment are recorded under it.
    "REGISTRY_CODE": "YRD-CI",
    "REGISTRY_API_KEY": "",
    "REGISTRY_ACCOUNT": "",
    "REGISTRY_CONNECT_TIMEOUT_S": REGISTRY_CONNECT_TIMEOUT_S,
    "REGISTRY_READ_TIMEOUT_S": REGISTRY_READ_TIMEOUT_S,
    # Who may read /metrics: scrapers at these addresses, or presenting this bearer token (at
    # least SECRET_MIN_LENGTH_CHARS characters). Empty token: addresses only.
    "METRICS_ALLOWED_NETWORKS": METRICS_ALLOWED_NETWORKS_DEFAULT,
    "METRICS_BEARER_TOKEN": "",
}

#: Environment variables read as integers or floats.
_INTEGERS = {
    "TLOG_WITNESS_QUORUM",
    "ACCESS_TOKEN_TTL_S",
    "REFRESH_TOKEN_TTL_S",
    "PASSWORD_PAIR_FREE_FAILURES",
    "PASSWORD_PAIR_DELAY_BASE_S",
    "PASSWORD_PAIR_DELAY_MAX_S",
    "PASSWORD_CHALLENGE_AFTER_FAILURES",
    "PASSWORD_CHALLENGE_BITS",
    "PASSWORD_CHALLENGE_TTL_S",
    "PASSWORD_FAILURE_WINDOW_S",
    "INVITATION_TTL_S",
    "MAX_CONTENT_LENGTH",
    "LABEL_PRICE_PER_TONNE_FEN",
    "LABEL_SERVICE_FEE_FEN",
    "RESOLVER_SCAN_WARNING_COUNT",
    "POINTS_PAYOUT_FEN_PER_100_POINTS",
    "POINTS_FLAG_PROVINCES_PER_DAY",
    "POINTS_FLAG_CLAIMS_PER_MINUTE",
}
_FLOATS = {
    "WECHAT_HTTP_TIMEOUT_S",
    "REGISTRY_CONNECT_TIMEOUT_S",
    "REGISTRY_READ_TIMEOUT_S",
    "TLOG_WITNESS_TIMEOUT_S",
}
_STRINGS = set(DEFAULTS) - _INTEGERS - _FLOATS | {"DATABASE_URL", "REDIS_URL", *SECRET_NAMES}


class ConfigError(RuntimeError):
    """The configuration cannot run; the message says what to set."""


#: Makes a new value of one secret from the config read so far (its origin, say).
SecretGenerator = Callable[[Mapping[str, Any]], str]
#: Checks the finished config; raises ConfigError naming what is wrong.
ConfigCheck = Callable[[Mapping[str, Any]], None]


def load_config(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    generators: Mapping[str, SecretGenerator] | None = None,
    checks: tuple[ConfigCheck, ...] = (),
) -> dict[str, Any]:
    """Build the Flask config for one app from environment variables and explicit overrides.

    ``generators`` make the embedded profile's secrets that are not random strings; ``checks``
    run on the finished config.
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    config: dict[str, Any] = dict(DEFAULTS)
    for name in _STRINGS | _INTEGERS | _FLOATS:
        if name in environ and environ[name] != "":
            config[name] = _coerce(name, environ[name])
    config.update(overrides)

    profile = config["TANHUI_PROFILE"]
    if profile not in PROFILES:
        raise ConfigError(f"TANHUI_PROFILE must be one of {', '.join(PROFILES)}, not {profile!r}")
    instance_path = Path(
        config.get("INSTANCE_PATH")
        or environ.get("TANHUI_INSTANCE_PATH")
        or Path.cwd() / "instance"
    ).resolve()
    config["INSTANCE_PATH"] = str(instance_path)

    if profile == "production":
        missing = [name for name in (*PRODUCTION_REQUIRED, *SECRET_NAMES) if not config.get(name)]
        if missing:
            raise ConfigError("the production profile cannot start: set " + ", ".join(missing))
        short = [n for n in RANDOM_SECRET_NAMES if len(config[n]) < SECRET_MIN_LENGTH_CHARS]
        if short:
            raise ConfigError(
                f"the production profile cannot start: {', '.join(short)} must be at least "
                f"{SECRET_MIN_LENGTH_CHARS} characters"
            )
    else:
        config.setdefault("DATABASE_URL", f"sqlite:///{instance_path / 'tanhui.sqlite3'}")
        if not all(config.get(name) for name in SECRET_NAMES):
            generated = development_secrets(instance_path, config, generators or {})
            for name in SECRET_NAMES:
                config[name] = config.get(name) or generated[name]

    config["UNIT_CODE_MASTER_KEYS"], config["UNIT_CODE_KEY_ID"] = unit_code_keys(
        config["UNIT_CODE_KEYS"], config["SECRET_KEY"]
    )
    config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(config["DATABASE_URL"])
    config["DATABASE_URL"] = config["SQLALCHEMY_DATABASE_URI"]
    config.setdefault("REDIS_URL", None)
    config["METRICS_NETWORKS"] = metrics_networks(config["METRICS_ALLOWED_NETWORKS"])
    token = config["METRICS_BEARER_TOKEN"]
    if token and len(token) < SECRET_MIN_LENGTH_CHARS:
        raise ConfigError(
            f"METRICS_BEARER_TOKEN must be at least {SECRET_MIN_LENGTH_CHARS} characters"
        )
    for check in checks:
        check(config)
    return config


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def metrics_networks(setting: str) -> tuple[IPNetwork, ...]:
    """Parse ``METRICS_ALLOWED_NETWORKS``: CIDRs (or single addresses), comma-separated;
    ``none`` allows no address at all (then only the token opens ``/metrics``).

    >>> metrics_networks("10.0.0.0/8, ::1")
    (IPv4Network('10.0.0.0/8'), IPv6Network('::1/128'))
    >>> metrics_networks("none")
    ()
    """
    if setting.strip().lower() == "none":
        return ()
    networks = []
    for item in setting.split(","):
        if not item.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip()))
        except ValueError as error:
            raise ConfigError(
                f"METRICS_ALLOWED_NETWORKS: {item.strip()!r} is not a CIDR such as 10.0.0.0/8"
            ) from error
    return tuple(networks)


def unit_code_keys(setting: str, secret_key: str) -> tuple[dict[str, bytes], str]:
    """Parse ``UNIT_CODE_KEYS`` into master keys by id and the id new lots use (the last)."""
    if not setting.strip():
        derived = hashlib.sha256(b"tanhui unit-code master key A|" + secret_key.encode()).digest()
        return {"A": derived}, "A"
    keys: dict[str, bytes] = {}
    for item in setting.split(","):
        key_id, _, value = item.strip().partition(":")
        try:
            key = bytes.fromhex(value)
        except ValueError:
            key = b""
        if len(key_id) != 1 or not ("A" <= key_id <= "Z" or "2" <= key_id <= "7") or len(key) < 32:
            raise ConfigError(
                "UNIT_CODE_KEYS: each key is <id>:<at least 64 hex digits>, the id one of A-Z, 2-7"
            )
        keys[key_id] = key
    return keys, key_id


def normalise_database_url(url: str) -> str:
    """Pin PostgreSQL URLs to psycopg 3, whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _generate(
    name: str, config: Mapping[str, Any], generators: Mapping[str, SecretGenerator]
) -> str:
    generator = generators.get(name)
    return generator(config) if generator else secrets.token_urlsafe(48)


def development_secrets(
    instance_path: Path,
    config: Mapping[str, Any],
    generators: Mapping[str, SecretGenerator],
) -> dict[str, str]:
    """Return the embedded profile's secrets, generating and keeping them on first use.

    The file is created with mode 0600 and written atomically, so two workers starting together
    agree on one set of secrets.
    """
    path = instance_path / "secrets.json"
    instance_path.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        generated = {name: _generate(name, config, generators) for name in SECRET_NAMES}
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(generated, handle)
        try:
            os.link(temporary, path)  # fails if another process won the race
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    stored = json.loads(path.read_text())
    missing = [name for name in SECRET_NAMES if name not in stored]
    if missing:
        stored.update({name: _generate(name, config, generators) for name in missing})
        path.write_text(json.dumps(stored))
    return stored


def _coerce(name: str, value: str) -> Any:
    try:
        if name in _INTEGERS:
            return int(value)
        if name in _FLOATS:
            return float(value)
    except ValueError as error:
        raise ConfigError(f"{name} must be a number, not {value!r}") from error
    return value
