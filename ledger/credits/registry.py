"""A carbon registry, as the ledger sees it: retire whole tonnes for a beneficiary, read a
retirement back, read what an account holds.

One interface (``Registry``), two implementations: ``ledger.credits.registry_local`` (the
registry's record is what operators imported and recorded here) and ``service.registry_http``
(a registry's API, the protocol in ``docs/registry-protocol.md``). Domain code takes a
``Registry`` as an argument and never imports an implementation.

One serial is one tonne; a retirement names the serial blocks it took (a block is a contiguous
range of one batch's serials). Our ``reference`` is the idempotency key: asking again with the
same reference and the same request answers the same retirement; with another request it is
refused (``idempotency_conflict``). ``RegistryUnavailable`` means the answer is unknown (the
registry may have retired): ask again with the same reference, or read ``retirement(reference)``.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from ledger.credits.accounts import (
    BENEFICIARY_MAX_LENGTH_CHARS,
    PURPOSE_MAX_LENGTH_CHARS,
    REFERENCE_MAX_LENGTH_CHARS,
)
from ledger.errors import CreditError, ErrorCode
from service.base.exceptions import FieldMessage, Upstream
from service.base.parties.identifiers import USCC_MESSAGE, normalise_uscc

#: Tonnes one retirement request may ask for.
RETIRE_TONNES_MAX = 1_000_000
#: Serial blocks one retirement (or one account's holdings) may name in an answer.
BLOCKS_MAX = 10_000
#: A reference travels in an HTTP header and a URL: letters, digits and ``._:-``.
REFERENCE_PATTERN = re.compile(
    rf"[A-Za-z0-9][A-Za-z0-9._:\-]{{0,{REFERENCE_MAX_LENGTH_CHARS - 1}}}", re.ASCII
)


class RefusalReason(enum.StrEnum):
    """Why a registry refused; a registry's reason we do not know is ``other``."""

    HOLDING_INSUFFICIENT = "holding_insufficient"
    BENEFICIARY_UNKNOWN = "beneficiary_unknown"
    ACCOUNT_UNKNOWN = "account_unknown"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    REQUEST_INVALID = "request_invalid"
    UNAUTHORISED = "unauthorised"
    OTHER = "other"

    @classmethod
    def of(cls, value: object) -> RefusalReason:
        try:
            return cls(str(value))
        except ValueError:
            return cls.OTHER


class RegistryRefused(CreditError):
    """The registry answered no; nothing was retired. ``reason`` says why."""

    def __init__(
        self, reason: RefusalReason, detail: str = "", *, field: str | None = None
    ) -> None:
        super().__init__(ErrorCode.CREDIT_REGISTRY_REFUSED, detail or reason.value, field=field)
        self.reason = reason
        self.params["reason"] = reason.value


class RegistryUnavailable(CreditError):
    """The registry did not answer usefully (unreachable, 5xx, timed out, a garbled answer). The
    retirement may or may not have been made: ask again with the same reference."""

    def __init__(self, upstream: Upstream, detail: str = "") -> None:
        super().__init__(ErrorCode.CREDIT_REGISTRY_UNAVAILABLE, detail or upstream.value)
        self.upstream = upstream


@dataclass(frozen=True)
class Beneficiary:
    """The party a retirement is made for: its name and unified social credit code (``None``
    when the registry's record does not carry the code)."""

    name: str
    credit_code: str | None


@dataclass(frozen=True)
class RetireRequest:
    """Retire ``quantity_t`` whole tonnes from the platform's holding for ``beneficiary``."""

    reference: str
    quantity_t: int
    beneficiary: Beneficiary
    purpose: str

    def body(self) -> dict[str, Any]:
        """The request as the protocol's JSON body (without the account)."""
        return {
            "reference": self.reference,
            "quantity_t": self.quantity_t,
            "beneficiary": {
                "name": self.beneficiary.name,
                "credit_code": self.beneficiary.credit_code,
            },
            "purpose": self.purpose,
        }


@dataclass(frozen=True)
class SerialBlock:
    """Serials ``serial_start``..``serial_end`` (inclusive, one per tonne) of one batch."""

    project: str
    batch: str
    vintage: int
    serial_start: int
    serial_end: int

    @property
    def quantity_t(self) -> int:
        return self.serial_end - self.serial_start + 1


@dataclass(frozen=True)
class Holding(SerialBlock):
    """A block an account holds (not retired)."""


@dataclass(frozen=True)
class RegistryRetirement:
    """A retirement as the registry records it: its own id, our reference, the blocks."""

    retirement_id: str
    reference: str
    quantity_t: int
    beneficiary: Beneficiary
    purpose: str
    retired_on: date
    blocks: tuple[SerialBlock, ...]


class Registry(Protocol):
    """What the service asks of a registry. Every method may raise ``RegistryUnavailable``;
    ``retire`` and ``holdings`` may raise ``RegistryRefused``."""

    def retire(self, request: RetireRequest) -> RegistryRetirement: ...

    def retirement(
        self, reference: str | None = None, *, retirement_id: str | None = None
    ) -> RegistryRetirement | None:
        """The retirement made under our ``reference`` (or with the registry's
        ``retirement_id``), or ``None`` when there is none."""
        ...

    def holdings(self, account: str) -> list[Holding]: ...


def retire_request_check(request: RetireRequest) -> RetireRequest:
    """The request with its texts trimmed and the credit code normalised, or
    ``credit_retirement_invalid`` naming the field: a request we would send wrong is ours to
    refuse."""
    if not isinstance(request.reference, str) or not REFERENCE_PATTERN.fullmatch(request.reference):
        raise CreditError(
            ErrorCode.CREDIT_RETIREMENT_INVALID,
            FieldMessage("1 to {limit} letters, digits and ._:-", limit=REFERENCE_MAX_LENGTH_CHARS),
            field="reference",
        )
    quantity = request.quantity_t
    if type(quantity) is not int or not 0 < quantity <= RETIRE_TONNES_MAX:
        raise CreditError(
            ErrorCode.CREDIT_RETIREMENT_INVALID,
            FieldMessage("whole tonnes, 1 to {limit}", limit=RETIRE_TONNES_MAX),
            field="quantity_t",
        )
    texts = {
        "beneficiary.name": (request.beneficiary.name, BENEFICIARY_MAX_LENGTH_CHARS),
        "purpose": (request.purpose, PURPOSE_MAX_LENGTH_CHARS),
    }
    for name, (value, limit) in texts.items():
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise CreditError(
                ErrorCode.CREDIT_RETIREMENT_INVALID,
                FieldMessage("1 to {limit} characters", limit=limit),
                field=name,
            )
    try:
        credit_code = normalise_uscc(request.beneficiary.credit_code or "")
    except ValueError:
        raise CreditError(
            ErrorCode.CREDIT_RETIREMENT_INVALID, USCC_MESSAGE, field="beneficiary.credit_code"
        ) from None
    return RetireRequest(
        reference=request.reference,
        quantity_t=quantity,
        beneficiary=Beneficiary(request.beneficiary.name.strip(), credit_code),
        purpose=request.purpose.strip(),
    )
