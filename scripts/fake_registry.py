#!/usr/bin/env python3
"""The demo's carbon registry: a small server on loopback speaking docs/registry-protocol.md.

``scripts/demo.sh`` starts it so that the demo retires on payment through a registry's API, as
production does, without the pilot's registry (which publishes no API). It uses the standard
library only and imports nothing of Tanhui or of its tests: it is the registry's side of the
protocol, not the service's. (The tests' fake, ``tests/fakes/registry.py``, speaks the same
protocol and can also refuse, fail and stall on purpose; this one only answers honestly.)

It keeps, in memory, one account holding serial blocks, the beneficiaries it knows and the
retirements it made; a retirement takes the lowest serials first, splitting a block, and a
reference answers one retirement (the same body again: the same record, 200; another: 409).

    python scripts/fake_registry.py --port 0 --url-file URL_FILE \\
        --holding YRDCI-QP-2023-001:YRDCI-QP-2024:2024:1000301-1001850 \\
        --beneficiary 长三角优选超市:91310000MA1K3C7P2R
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

#: A retirement's day is the registry's calendar day, in Beijing time.
REGISTRY_ZONE = ZoneInfo("Asia/Shanghai")
#: A request body longer than this is refused (a retirement request is a few hundred bytes).
BODY_BYTES_MAX = 64 * 1024
DEMO_ACCOUNT = "TANHUI-PLATFORM"
DEMO_API_KEY = "demo-registry-key-0123456789abcdef"  # noqa: S105 - a loopback demo's key


class Registry:
    """The registry's record: ``holdings`` (lowest serials first), beneficiaries by credit code,
    retirements by id and by reference."""

    def __init__(self, *, account: str, prefix: str) -> None:
        self.account, self.prefix = account, prefix
        self.holdings: list[dict[str, Any]] = []
        self.beneficiaries: dict[str, str] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.by_reference: dict[str, tuple[str, dict[str, Any]]] = {}
        self.numbers = itertools.count(1)
        self.lock = threading.Lock()

    def retire(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, answer) for a checked retirement request."""
        with self.lock:
            known = self.by_reference.get(body["reference"])
            if known is not None:
                if known[1] != body:
                    return 409, _error("idempotency_conflict", "the reference has another body")
                return 200, self.records[known[0]]
            beneficiary = body["beneficiary"]
            if self.beneficiaries.get(beneficiary.get("credit_code")) != beneficiary.get("name"):
                return 422, _error("beneficiary_unknown")
            quantity = body["quantity_t"]
            if sum(_tonnes(block) for block in self.holdings) < quantity:
                return 422, _error("holding_insufficient")
            taken, needed = [], quantity
            for block in self.holdings:
                take = min(needed, _tonnes(block))
                if take == 0:
                    break
                first = block["serial_start"]
                taken.append({**block, "serial_end": first + take - 1, "quantity_t": take})
                block["serial_start"] = first + take
                needed -= take
            self.holdings = [block for block in self.holdings if _tonnes(block) > 0]
            today = datetime.now(REGISTRY_ZONE).date()
            number = f"{self.prefix}-R-{today.year}-{next(self.numbers):04d}"
            self.records[number] = {
                "id": number,
                "reference": body["reference"],
                "account": self.account,
                "quantity_t": quantity,
                "beneficiary": {
                    "name": beneficiary["name"],
                    "credit_code": beneficiary["credit_code"],
                },
                "purpose": body.get("purpose", ""),
                "retired_on": today.isoformat(),
                "status": "retired",
                "blocks": taken,
            }
            self.by_reference[body["reference"]] = (number, body)
            return 201, self.records[number]


def _tonnes(block: dict[str, Any]) -> int:
    return int(block["serial_end"]) - int(block["serial_start"]) + 1


def _error(code: str, message: str = "") -> dict[str, Any]:
    return {"error": {"code": code, "message": message or code}}


def handler_for(registry: Registry, api_key: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            url = urlsplit(self.path)
            parts = [unquote(part) for part in url.path.strip("/").split("/")]
            if parts[:2] == ["v1", "retirements"] and len(parts) == 3:
                record = registry.records.get(parts[2])  # the public record: no key needed
                if record is None:
                    self._answer(404, _error("not_found"))
                else:
                    self._answer(200, record)
            elif not self._authorised():
                self._answer(401, _error("unauthorised"))
            elif parts == ["v1", "retirements"]:
                reference = parse_qs(url.query).get("reference", [""])[0]
                found = registry.by_reference.get(reference)
                self._answer(200, {"retirements": [registry.records[found[0]]] if found else []})
            elif parts[:2] == ["v1", "accounts"] and parts[3:] == ["holdings"]:
                if parts[2] != registry.account:
                    self._answer(403, _error("account_unknown"))
                else:
                    held = [{**block, "quantity_t": _tonnes(block)} for block in registry.holdings]
                    self._answer(200, {"holdings": held})
            else:
                self._answer(404, _error("not_found"))

        def do_POST(self) -> None:  # noqa: N802 - the standard library's name
            if urlsplit(self.path).path.rstrip("/") != "/v1/retirements":
                return self._answer(404, _error("not_found"))
            if not self._authorised():
                return self._answer(401, _error("unauthorised"))
            length = int(self.headers.get("Content-Length") or 0)
            if length > BODY_BYTES_MAX:
                return self._answer(413, _error("request_invalid", "too long"))
            try:
                body = json.loads(self.rfile.read(length))
                valid = (
                    isinstance(body["reference"], str)
                    and type(body["quantity_t"]) is int
                    and body["quantity_t"] > 0
                    and isinstance(body["beneficiary"], dict)
                )
            except (ValueError, KeyError, TypeError):
                valid = False
            if not valid:
                return self._answer(400, _error("request_invalid", "a retirement request"))
            if self.headers.get("Idempotency-Key") != body["reference"]:
                return self._answer(400, _error("request_invalid", "Idempotency-Key"))
            if body.get("account") != registry.account:
                return self._answer(403, _error("account_unknown"))
            return self._answer(*registry.retire(body))

        def _authorised(self) -> bool:
            return self.headers.get("Authorization", "") == f"Bearer {api_key}"

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - its signature
            print(f"registry: {format % args}", flush=True)

    return Handler


def block_of(text: str) -> dict[str, Any]:
    """``project:batch:vintage:first-last`` as a block."""
    project, batch, vintage, serials = text.rsplit(":", 3)
    first, last = (int(serial) for serial in serials.split("-"))
    if last < first:
        raise argparse.ArgumentTypeError(f"{serials}: the last serial is below the first")
    block = {"project": project, "batch": batch, "vintage": int(vintage)}
    return {**block, "serial_start": first, "serial_end": last}


def beneficiary_of(text: str) -> tuple[str, str]:
    """``name:credit code`` as (credit code, name)."""
    name, credit_code = text.rsplit(":", 1)
    return credit_code, name


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--url-file", type=Path, help="write the base URL here once serving")
    parser.add_argument("--account", default=DEMO_ACCOUNT)
    parser.add_argument("--api-key", default=DEMO_API_KEY)
    parser.add_argument("--prefix", default="DEMO", help="of the registry's retirement ids")
    parser.add_argument("--holding", type=block_of, action="append", default=[])
    parser.add_argument("--beneficiary", type=beneficiary_of, action="append", default=[])
    arguments = parser.parse_args(argv)
    registry = Registry(account=arguments.account, prefix=arguments.prefix)
    registry.holdings = sorted(arguments.holding, key=lambda block: block["serial_start"])
    registry.beneficiaries = dict(arguments.beneficiary)
    server = ThreadingHTTPServer(
        (arguments.host, arguments.port), handler_for(registry, arguments.api_key)
    )
    url = f"http://{arguments.host}:{server.server_address[1]}"
    if arguments.url_file:
        partial = arguments.url_file.with_suffix(".partial")
        partial.write_text(url)
        partial.replace(arguments.url_file)  # the file appears whole, with the server listening
    print(f"registry: serving {url} for account {registry.account}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
