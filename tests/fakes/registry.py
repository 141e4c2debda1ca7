"""A local carbon registry speaking ``docs/registry-protocol.md`` (for tests only).

A real HTTP server on loopback (werkzeug, threaded, so a stalled answer does not hold up the
next request). It keeps accounts holding serial blocks, known beneficiaries and retirements,
and it enforces what a registry does: a serial is issued once and retired at most once, a
retirement is for a known beneficiary, a reference answers one retirement (the same body again:
the same retirement; another body: 409).

It can be told to misbehave on the next retirement request: ``refuse_next`` (422 with a
reason), ``fail_next`` (5xx before it retires anything), ``stall_next`` (it retires, then does
not answer until ``release`` or ``STALL_MAX_S``, so the client times out after the registry
has retired).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from werkzeug import Request, Response
from werkzeug.serving import make_server

from service.base.units import SHANGHAI

API_KEY = "fake-registry-key-0123456789abcdef"
ACCOUNT = "TANHUI-PLATFORM"
#: A stalled answer waits at most this long for ``release`` (then answers, to nobody).
STALL_MAX_S = 10.0


@dataclass
class Block:
    project: str
    batch: str
    vintage: int
    serial_start: int
    serial_end: int

    def json(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "batch": self.batch,
            "vintage": self.vintage,
            "serial_start": self.serial_start,
            "serial_end": self.serial_end,
            "quantity_t": self.serial_end - self.serial_start + 1,
        }


def _error(status: int, code: str, message: str = "") -> Response:
    body = {"error": {"code": code, "message": message or code}}
    return Response(json.dumps(body), status=status, content_type="application/json")


def _answer(status: int, payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, ensure_ascii=False)
    return Response(body, status=status, content_type="application/json")


class FakeRegistry:
    def __init__(self, *, registry_code: str = "FAKE") -> None:
        self.registry_code = registry_code
        self.keys = {API_KEY: ACCOUNT}
        self.holdings: dict[str, list[Block]] = {ACCOUNT: []}
        self.issued: list[tuple[int, int]] = []
        self.retired: list[tuple[int, int]] = []
        self.beneficiaries: dict[str, str] = {}
        self.retirements: dict[str, dict[str, Any]] = {}
        self.by_reference: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self._next: list[tuple[str, Any]] = []
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- the server ---------------------------------------------------------------------------
    def start(self) -> FakeRegistry:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def config(self) -> dict[str, Any]:
        """The settings an app needs to talk to this registry."""
        return {
            "REGISTRY_URL": self.base_url,
            "REGISTRY_API_KEY": API_KEY,
            "REGISTRY_ACCOUNT": ACCOUNT,
        }

    # -- what a test sets up ------------------------------------------------------------------
    def issue(self, account: str, block: Block) -> None:
        """Issue a block into an account; a serial is issued once."""
        with self._lock:
            for start, end in self.issued:
                if start <= block.serial_end and block.serial_start <= end:
                    raise ValueError(f"serials {start}-{end} are issued already")
            self.issued.append((block.serial_start, block.serial_end))
            self.holdings.setdefault(account, []).append(block)

    def beneficiary_add(self, name: str, credit_code: str) -> None:
        self.beneficiaries[credit_code] = name

    def refuse_next(self, reason: str, status: int = 422) -> None:
        self._next.append(("refuse", (status, reason)))

    def fail_next(self, status: int = 503) -> None:
        self._next.append(("fail", status))

    def stall_next(self) -> None:
        self._released.clear()
        self._next.append(("stall", None))

    def release(self) -> None:
        self._released.set()

    def retirement_requests(self) -> int:
        return sum(1 for method, path, _ in self.requests if method == "POST")

    # -- the protocol -------------------------------------------------------------------------
    @Request.application
    def _app(self, request: Request) -> Response:
        self.requests.append((request.method, request.path, request.headers.get("Idempotency-Key")))
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and parts[:2] == ["v1", "retirements"] and len(parts) == 3:
            record = self.retirements.get(parts[2])  # the public record: no key needed
            return _answer(200, record) if record else _error(404, "not_found")
        account = self.keys.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if account is None:
            return _error(401, "unauthorised")
        if request.method == "POST" and parts == ["v1", "retirements"]:
            return self._retire(request, account)
        if request.method == "GET" and parts == ["v1", "retirements"]:
            found = self.by_reference.get((account, request.args.get("reference", "")))
            items = [self.retirements[found[0]]] if found else []
            return _answer(200, {"retirements": items})
        if request.method == "GET" and len(parts) == 4 and parts[:2] == ["v1", "accounts"]:
            if parts[2] != account:
                return _error(403, "account_unknown")
            blocks = sorted(self.holdings[account], key=lambda block: block.serial_start)
            return _answer(200, {"holdings": [block.json() for block in blocks]})
        return _error(404, "not_found")

    def _retire(self, request: Request, account: str) -> Response:
        try:
            body = json.loads(request.get_data())
            reference = body["reference"]
            quantity = body["quantity_t"]
            beneficiary = body["beneficiary"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "request_invalid", "a JSON retirement request")
        if request.headers.get("Idempotency-Key") != reference:
            return _error(400, "request_invalid", "Idempotency-Key is the body's reference")
        if body.get("account") != account:
            return _error(403, "account_unknown")
        if type(quantity) is not int or quantity <= 0:
            return _error(422, "request_invalid", "whole tonnes")
        mode, argument = self._next.pop(0) if self._next else ("answer", None)
        if mode == "fail":
            return _error(argument, "unavailable")
        if mode == "refuse":
            return _error(argument[0], argument[1])
        with self._lock:
            status, answer = self._retire_locked(account, reference, body, quantity, beneficiary)
        if mode == "stall":
            self._released.wait(STALL_MAX_S)
        return answer if status == 0 else _answer(status, self.retirements[answer])

    def _retire_locked(
        self, account: str, reference: str, body: dict[str, Any], quantity: int, beneficiary: Any
    ) -> tuple[int, Any]:
        known = self.by_reference.get((account, reference))
        if known is not None:
            if known[1] != body:
                return 0, _error(409, "idempotency_conflict", "the reference has another body")
            return 200, known[0]
        if not isinstance(beneficiary, dict) or self.beneficiaries.get(
            beneficiary.get("credit_code")
        ) != beneficiary.get("name"):
            return 0, _error(422, "beneficiary_unknown")
        held = sorted(self.holdings[account], key=lambda block: block.serial_start)
        if sum(block.serial_end - block.serial_start + 1 for block in held) < quantity:
            return 0, _error(422, "holding_insufficient")
        taken, needed = [], quantity
        for block in held:
            if needed == 0:
                break
            take = min(needed, block.serial_end - block.serial_start + 1)
            first, last = block.serial_start, block.serial_start + take - 1
            for start, end in self.retired:  # a serial is retired at most once
                assert last < start or end < first, "a serial retired twice"
            self.retired.append((first, last))
            taken.append(Block(block.project, block.batch, block.vintage, first, last))
            block.serial_start = last + 1
            needed -= take
        self.holdings[account] = [b for b in held if b.serial_start <= b.serial_end]
        today = datetime.now(SHANGHAI).date()
        number = f"{self.registry_code}-R-{today.year}-{next(self._numbers):04d}"
        self.retirements[number] = {
            "id": number,
            "reference": reference,
            "account": account,
            "quantity_t": quantity,
            "beneficiary": {"name": beneficiary["name"], "credit_code": beneficiary["credit_code"]},
            "purpose": body.get("purpose", ""),
            "retired_on": today.isoformat(),
            "blocks": [block.json() for block in taken],
            "status": "retired",
        }
        self.by_reference[(account, reference)] = (number, body)
        return 201, number


def retired_on_today() -> date:
    return datetime.now(SHANGHAI).date()
