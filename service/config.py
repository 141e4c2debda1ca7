"""The service's configuration: the ground's settings plus the transparency log's signing key.

``service.base.config`` reads the environment and knows every setting; the log's key is a
signed-note key (``ledger.tlog.note``), which the ground may not import, so this module passes
in how to make one for the embedded profile and how to check the one given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.tlog.cosignatures import parse_witness_key
from ledger.tlog.note import NoteError, generate_signer_key, parse_signer_key
from ledger.tlog.witnessing import Witness
from service.base import config as base
from service.base.config import ConfigError, normalise_database_url

__all__ = ["ConfigError", "load_config", "normalise_database_url"]


def _new_log_key(config: Mapping[str, Any]) -> str:
    return generate_signer_key(config["TLOG_ORIGIN"])


def _check_log_key(config: Mapping[str, Any]) -> None:
    try:
        signer = parse_signer_key(config["TLOG_SIGNING_KEY"])
    except NoteError as error:
        raise ConfigError(f"TLOG_SIGNING_KEY is not a signed-note private key: {error}") from error
    if signer.name != config["TLOG_ORIGIN"]:
        raise ConfigError(
            f"TLOG_SIGNING_KEY is named {signer.name!r}, "
            f"but TLOG_ORIGIN is {config['TLOG_ORIGIN']!r}"
        )


def witnesses_parse(setting: str) -> list[Witness]:
    """``TLOG_WITNESSES``: comma-separated ``<verifier key> <submission URL>`` pairs."""
    witnesses: list[Witness] = []
    for item in setting.split(","):
        if not item.strip():
            continue
        key_text, _, url = item.strip().partition(" ")
        url = url.strip()
        try:
            key = parse_witness_key(key_text)
        except NoteError as error:
            raise ConfigError(
                f"TLOG_WITNESSES: {key_text!r} is not a witness key: {error}"
            ) from error
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"TLOG_WITNESSES: {key.name} needs its http(s) submission URL")
        if any(known.name == key.name for known in witnesses):
            raise ConfigError(f"TLOG_WITNESSES: {key.name} is named twice")
        witnesses.append(Witness(key, url.rstrip("/")))
    return witnesses


def _check_witnesses(config: dict[str, Any]) -> None:
    witnesses = witnesses_parse(config["TLOG_WITNESSES"])
    quorum = config["TLOG_WITNESS_QUORUM"]
    quorum = len(witnesses) if quorum < 0 else quorum
    if quorum > len(witnesses):
        raise ConfigError(
            f"TLOG_WITNESS_QUORUM is {quorum}, but TLOG_WITNESSES names {len(witnesses)}"
        )
    config["TLOG_WITNESS_LIST"], config["TLOG_WITNESS_QUORUM"] = witnesses, quorum


def load_config(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Flask config for one app, from the environment and explicit overrides."""
    return base.load_config(
        environ,
        overrides,
        generators={"TLOG_SIGNING_KEY": _new_log_key},
        checks=(_check_log_key, _check_witnesses),
    )
