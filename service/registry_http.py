"""A registry's HTTP API, as a ``ledger.credits.registry.Registry`` adapter.

The protocol it speaks is written down in ``docs/registry-protocol.md``. In short:

* ``POST /v1/retirements`` with ``Authorization: Bearer <key>`` and ``Idempotency-Key: <our
  reference>`` (the reference is in the body too) retires whole tonnes from our account: 201 the
  new retirement, 200 the same retirement again, 409 the reference with another body, 422 a
  refusal with its reason;
* ``GET /v1/retirements?reference=…`` (ours, with the key) and ``GET /v1/retirements/{id}`` (the
  public record) read a retirement back;
* ``GET /v1/accounts/{account}/holdings`` lists the blocks an account holds.

The client asks once and never retries by itself: a failure that leaves the answer unknown
(unreachable, timed out, 5xx, 429, an answer it cannot read) is ``RegistryUnavailable`` with its
cause, and the caller asks again later with the same reference or reads the retirement back.
The base URL is configurable so tests run a local fake registry (``tests/fakes/registry.py``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ReadTimeoutError

from ledger.credits.registry import (
    BLOCKS_MAX,
    Beneficiary,
    Holding,
    RefusalReason,
    RegistryRefused,
    RegistryRetirement,
    RegistryUnavailable,
    RetireRequest,
    SerialBlock,
    retire_request_check,
)
from ledger.errors import CreditError, ErrorCode
from service.base.config import REGISTRY_CONNECT_TIMEOUT_S, REGISTRY_READ_TIMEOUT_S
from service.base.exceptions import Upstream

log = logging.getLogger("tanhui.registry")
RETIREMENTS_PATH = "/v1/retirements"
#: An answer longer than this is not read (a registry's answer is a few kilobytes).
ANSWER_BYTES_MAX = 1024 * 1024
#: The settings the client needs; ``registry_http_config`` names the missing ones.
REQUIRED_SETTINGS = ("REGISTRY_URL", "REGISTRY_API_KEY", "REGISTRY_ACCOUNT")


@dataclass(frozen=True)
class RegistryHttpConfig:
    base_url: str
    api_key: str
    account: str
    connect_timeout_s: float = REGISTRY_CONNECT_TIMEOUT_S
    read_timeout_s: float = REGISTRY_READ_TIMEOUT_S


def registry_http_config(settings: Mapping[str, Any]) -> RegistryHttpConfig:
    """The client's configuration from the app's settings, or
    ``credit_registry_not_configured`` naming what is missing."""
    missing = [name for name in REQUIRED_SETTINGS if not settings.get(name)]
    if missing:
        raise CreditError(ErrorCode.CREDIT_REGISTRY_NOT_CONFIGURED, ", ".join(missing))
    return RegistryHttpConfig(
        base_url=str(settings["REGISTRY_URL"]).rstrip("/"),
        api_key=str(settings["REGISTRY_API_KEY"]),
        account=str(settings["REGISTRY_ACCOUNT"]),
        connect_timeout_s=float(
            settings.get("REGISTRY_CONNECT_TIMEOUT_S", REGISTRY_CONNECT_TIMEOUT_S)
        ),
        read_timeout_s=float(settings.get("REGISTRY_READ_TIMEOUT_S", REGISTRY_READ_TIMEOUT_S)),
    )


class RegistryHttpClient:
    def __init__(self, config: RegistryHttpConfig, *, http: requests.Session | None = None):
        self.config = config
        self.http = http or requests.Session()

    def retire(self, request: RetireRequest) -> RegistryRetirement:
        """Retire whole tonnes from our account for the beneficiary; the same reference again
        answers the same retirement."""
        request = retire_request_check(request)
        body = {**request.body(), "account": self.config.account}
        status, payload = self._call(
            "POST",
            RETIREMENTS_PATH,
            body=body,
            headers={"Idempotency-Key": request.reference},
        )
        if status not in (200, 201):
            raise self._refusal(status, payload)
        retirement = _retirement_read(payload)
        if (retirement.reference, retirement.quantity_t) != (request.reference, request.quantity_t):
            log.error("registry answered another", extra={"id": retirement.retirement_id})
            raise RegistryUnavailable(Upstream.BAD_ANSWER, "another retirement")
        return retirement

    def retirement(
        self, reference: str | None = None, *, retirement_id: str | None = None
    ) -> RegistryRetirement | None:
        """The retirement made under our reference, or the public record of the registry's id;
        ``None`` when the registry has none."""
        if (reference is None) == (retirement_id is None):
            raise ValueError("a reference or a retirement id, not both")
        if retirement_id is not None:
            status, payload = self._call(
                "GET", f"{RETIREMENTS_PATH}/{quote(retirement_id, safe='')}"
            )
            if status == 404:
                return None
            if status != 200:
                raise self._refusal(status, payload)
            return _retirement_read(payload)
        status, payload = self._call("GET", RETIREMENTS_PATH, params={"reference": reference})
        if status != 200:
            raise self._refusal(status, payload)
        items = _field(payload, "retirements", list)
        if len(items) > 1:
            raise RegistryUnavailable(Upstream.BAD_ANSWER, "two retirements for one reference")
        return _retirement_read(items[0]) if items else None

    def holdings(self, account: str) -> list[Holding]:
        """The blocks the account holds, as the registry lists them."""
        status, payload = self._call("GET", f"/v1/accounts/{quote(account, safe='')}/holdings")
        if status != 200:
            raise self._refusal(status, payload)
        blocks = _field(payload, "holdings", list)
        if len(blocks) > BLOCKS_MAX:
            raise RegistryUnavailable(Upstream.BAD_ANSWER, "too many blocks")
        return [Holding(**_block_fields(block)) for block in blocks]

    # -- the wire ----------------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """One request; its status and JSON object, or ``RegistryUnavailable`` by cause when
        the registry did not answer usefully (its answer to this request is unknown)."""
        try:
            response = self.http.request(
                method,
                self.config.base_url + path,
                params=params,
                data=None if body is None else json.dumps(body, ensure_ascii=False).encode(),
                headers={
                    "Authorization": f"Bearer {self.config.api_key}",
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                    **(headers or {}),
                },
                timeout=(self.config.connect_timeout_s, self.config.read_timeout_s),
                stream=True,
            )
            with response:
                content = _read_limited(response)
        except requests.ConnectTimeout as error:
            raise _unavailable(Upstream.UNREACHABLE, method, path, error) from error
        except requests.Timeout as error:
            raise _unavailable(Upstream.TIMEOUT, method, path, error) from error
        except requests.ConnectionError as error:
            # A read timeout while the body streams in surfaces as a ConnectionError around it.
            timed_out = bool(error.args) and isinstance(error.args[0], ReadTimeoutError)
            cause = Upstream.TIMEOUT if timed_out else Upstream.UNREACHABLE
            raise _unavailable(cause, method, path, error) from error
        except requests.RequestException as error:
            raise _unavailable(Upstream.BAD_ANSWER, method, path, error) from error
        if response.status_code >= 500 or response.status_code == 429:
            log.warning("registry failed", extra={"status": response.status_code, "path": path})
            raise RegistryUnavailable(Upstream.BAD_ANSWER, f"HTTP {response.status_code}")
        try:
            payload = json.loads(content) if content else {}
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise RegistryUnavailable(Upstream.BAD_ANSWER, "not a JSON object")
        return response.status_code, payload

    def _refusal(self, status: int, payload: dict[str, Any]) -> CreditError:
        """A 4xx answer: the registry's refusal with its reason (a 401 is our key to fix)."""
        error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
        assert isinstance(error, dict)
        reason = RefusalReason.of(error.get("code"))
        if status == 401 or (status == 403 and reason is RefusalReason.OTHER):
            reason = RefusalReason.UNAUTHORISED
        message = str(error.get("message") or "")[:200]
        log.warning("registry refused", extra={"status": status, "reason": reason.value})
        return RegistryRefused(reason, message or reason.value, field=_REASON_FIELD.get(reason))


_REASON_FIELD = {
    RefusalReason.HOLDING_INSUFFICIENT: "quantity_t",
    RefusalReason.BENEFICIARY_UNKNOWN: "beneficiary",
    RefusalReason.ACCOUNT_UNKNOWN: "account",
    RefusalReason.IDEMPOTENCY_CONFLICT: "reference",
}


def _unavailable(cause: Upstream, method: str, path: str, error: Exception) -> RegistryUnavailable:
    log.error(
        "registry did not answer",
        extra={"cause": cause.value, "method": method, "path": path, "error": type(error).__name__},
    )
    return RegistryUnavailable(cause)


def _read_limited(response: requests.Response) -> bytes:
    content = b""
    for chunk in response.iter_content(64 * 1024):
        content += chunk
        if len(content) > ANSWER_BYTES_MAX:
            raise requests.RequestException("answer too long")
    return content


def _field(payload: dict[str, Any], name: str, kind: type) -> Any:
    value = payload.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RegistryUnavailable(Upstream.BAD_ANSWER, f"{name} missing")
    return value


def _block_fields(block: Any) -> dict[str, Any]:
    if not isinstance(block, dict):
        raise RegistryUnavailable(Upstream.BAD_ANSWER, "a block is not an object")
    fields = {
        "project": _field(block, "project", str),
        "batch": _field(block, "batch", str),
        "vintage": _field(block, "vintage", int),
        "serial_start": _field(block, "serial_start", int),
        "serial_end": _field(block, "serial_end", int),
    }
    quantity = _field(block, "quantity_t", int)
    if not fields["serial_start"] <= fields["serial_end"] or quantity != (
        fields["serial_end"] - fields["serial_start"] + 1
    ):
        raise RegistryUnavailable(Upstream.BAD_ANSWER, "a block's serials are not its tonnes")
    return fields


def _retirement_read(payload: Any) -> RegistryRetirement:
    """A retirement record, checked: its blocks add up to its tonnes."""
    if not isinstance(payload, dict):
        raise RegistryUnavailable(Upstream.BAD_ANSWER, "a retirement is not an object")
    beneficiary = _field(payload, "beneficiary", dict)
    blocks = _field(payload, "blocks", list)
    if len(blocks) > BLOCKS_MAX:
        raise RegistryUnavailable(Upstream.BAD_ANSWER, "too many blocks")
    try:
        retired_on = date.fromisoformat(_field(payload, "retired_on", str))
    except ValueError:
        raise RegistryUnavailable(Upstream.BAD_ANSWER, "retired_on") from None
    retirement = RegistryRetirement(
        retirement_id=_field(payload, "id", str),
        reference=_field(payload, "reference", str),
        quantity_t=_field(payload, "quantity_t", int),
        beneficiary=Beneficiary(
            _field(beneficiary, "name", str), beneficiary.get("credit_code") or None
        ),
        purpose=_field(payload, "purpose", str),
        retired_on=retired_on,
        blocks=tuple(SerialBlock(**_block_fields(block)) for block in blocks),
    )
    if sum(block.quantity_t for block in retirement.blocks) != retirement.quantity_t:
        raise RegistryUnavailable(Upstream.BAD_ANSWER, "the blocks do not add up")
    return retirement
