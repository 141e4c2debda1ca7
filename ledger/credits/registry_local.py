"""The local registry: the registry's record is what operators imported (``imports``) and
recorded (``retirements``) here, so retiring is recording a retirement from the platform's
imported batches.

``retire`` takes the lowest serials still available, oldest batches first, splitting a block
when it takes part of it (``retirements.retire`` does the taking and splitting; this only
chooses the lines). Our reference is the registry's reference: the record has no other id.
The record keeps the beneficiary's name, not its credit code, so a retirement read back names
no code, and the beneficiary is not checked against a list (the operator vouches for it).

It works in the caller's session and transaction, like every domain function: it flushes and
never commits.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.credits.accounts import INVENTORY_ACCOUNT, registry_lock
from ledger.credits.models import (
    CreditBatch,
    CreditProject,
    CreditRegistry,
    CreditRetirement,
    CreditSerialRange,
)
from ledger.credits.registry import (
    BLOCKS_MAX,
    Beneficiary,
    Holding,
    RefusalReason,
    RegistryRefused,
    RegistryRetirement,
    RetireRequest,
    SerialBlock,
    retire_request_check,
)
from ledger.credits.retirements import RetirementLine, beneficiary_matches, retire
from ledger.errors import CreditError, ErrorCode
from service.base.exceptions import FieldMessage
from service.base.parties.models import Organisation

#: The one account the local registry holds for the platform: the credit inventory.
LOCAL_HOLDING_ACCOUNT = INVENTORY_ACCOUNT


class LocalRegistry:
    """A ``ledger.credits.registry.Registry`` over the imported batches of one registry."""

    def __init__(
        self,
        session: Session,
        *,
        registry_code: str,
        now: datetime,
        recorded_by: int | None = None,
    ) -> None:
        self.session = session
        self.registry_code = registry_code
        self.now = now
        self.recorded_by = recorded_by

    def retire(self, request: RetireRequest) -> RegistryRetirement:
        """Record a retirement of the lowest available serials for the beneficiary; the same
        reference again answers the same retirement, with another request it is refused.

        Locks the registry's row first (then as ``retirements.retire`` does), so the lines it
        chooses are still available when they are taken."""
        request = retire_request_check(request)
        registry = self._registry(lock=True)
        existing = self._find(registry, request.reference)
        if existing is not None:
            return _repeated(self.session, existing, request)
        beneficiary_id = _beneficiary_organisation(self.session, request.beneficiary)
        lines = _lines_choose(self.session, registry, request.quantity_t)
        try:
            result = retire(
                self.session,
                registry_code=registry.code,
                registry_reference=request.reference,
                beneficiary=request.beneficiary.name,
                beneficiary_organisation_id=beneficiary_id,
                purpose=request.purpose,
                # The day as ``retirements.retire`` checks it (never after ``now``'s date).
                retired_on=self.now.date(),
                lines=lines,
                recorded_by=self.recorded_by,
                now=self.now,
            )
        except CreditError as error:
            if error.error_code is ErrorCode.CREDITS_INSUFFICIENT:
                raise RegistryRefused(
                    RefusalReason.HOLDING_INSUFFICIENT, error.detail, field="quantity_t"
                ) from error
            raise
        return _record(self.session, result.retirement)

    def retirement(
        self, reference: str | None = None, *, retirement_id: str | None = None
    ) -> RegistryRetirement | None:
        """The retirement recorded under the reference (here the registry's id is the same)."""
        registry = self._registry(lock=False)
        found = self._find(registry, reference or retirement_id or "")
        return None if found is None else _record(self.session, found)

    def holdings(self, account: str) -> list[Holding]:
        """The platform's available serial blocks, lowest serials first."""
        if account != LOCAL_HOLDING_ACCOUNT:
            raise RegistryRefused(RefusalReason.ACCOUNT_UNKNOWN, account, field="account")
        registry = self._registry(lock=False)
        rows = self.session.execute(
            sa.select(CreditSerialRange, CreditBatch, CreditProject.external_id)
            .join(CreditBatch, CreditBatch.id == CreditSerialRange.batch_id)
            .join(CreditProject, CreditProject.id == CreditBatch.project_id)
            .where(CreditBatch.registry_id == registry.id, CreditSerialRange.status == "available")
            .order_by(CreditSerialRange.serial_start)
            .limit(BLOCKS_MAX)
        ).all()
        return [
            Holding(
                project=project,
                batch=_batch_name(batch),
                vintage=batch.vintage,
                serial_start=piece.serial_start,
                serial_end=piece.serial_end,
            )
            for piece, batch, project in rows
        ]

    def _registry(self, *, lock: bool) -> CreditRegistry:
        registry = (
            registry_lock(self.session, self.registry_code)
            if lock
            else self.session.scalars(
                sa.select(CreditRegistry).where(CreditRegistry.code == self.registry_code)
            ).first()
        )
        if registry is None:
            raise CreditError(
                ErrorCode.CREDIT_REGISTRY_NOT_FOUND, self.registry_code, field="registry_code"
            )
        return registry

    def _find(self, registry: CreditRegistry, reference: str) -> CreditRetirement | None:
        return self.session.scalars(
            sa.select(CreditRetirement).where(
                CreditRetirement.registry_id == registry.id,
                CreditRetirement.registry_reference == reference.strip(),
            )
        ).first()


def _batch_name(batch: CreditBatch) -> str:
    """A batch's name as a registry would give it: its serial range, unique in the registry."""
    return f"{batch.serial_start}-{batch.serial_end}"


def _lines_choose(
    session: Session, registry: CreditRegistry, quantity_t: int
) -> list[RetirementLine]:
    """Whole tonnes from the batches with the lowest available serials, until the quantity is
    met; ``holding_insufficient`` when all of them do not hold it."""
    available = session.execute(
        sa.select(
            CreditSerialRange.batch_id,
            sa.func.sum(CreditSerialRange.serial_end - CreditSerialRange.serial_start + 1),
        )
        .join(CreditBatch, CreditBatch.id == CreditSerialRange.batch_id)
        .where(CreditBatch.registry_id == registry.id, CreditSerialRange.status == "available")
        .group_by(CreditSerialRange.batch_id)
        .order_by(sa.func.min(CreditSerialRange.serial_start))
    ).all()
    lines, needed = [], quantity_t
    for batch_id, tonnes in available:
        take = min(int(tonnes), needed)
        lines.append(RetirementLine(batch_id, take))
        needed -= take
        if needed == 0:
            return lines
    raise RegistryRefused(
        RefusalReason.HOLDING_INSUFFICIENT,
        FieldMessage(
            "{have} t held, not {needed} t",
            have=quantity_t - needed,
            needed=quantity_t,
        ),
        field="quantity_t",
    )


def _repeated(
    session: Session, existing: CreditRetirement, request: RetireRequest
) -> RegistryRetirement:
    """The recorded retirement when the request is the same, else ``idempotency_conflict``
    naming the first field that differs (the record keeps no credit code to compare)."""
    for name, stored, asked in (
        ("quantity_t", existing.quantity_t, request.quantity_t),
        ("beneficiary.name", existing.beneficiary, request.beneficiary.name),
        ("purpose", existing.purpose, request.purpose),
    ):
        if stored != asked:
            raise RegistryRefused(
                RefusalReason.IDEMPOTENCY_CONFLICT,
                FieldMessage("the reference was used with another {name}", name=name),
                field=name,
            )
    return _record(session, existing)


def _record(session: Session, retirement: CreditRetirement) -> RegistryRetirement:
    """The registry's record of a retirement: its serial blocks, lowest first."""
    rows = session.execute(
        sa.select(CreditSerialRange, CreditBatch, CreditProject.external_id)
        .join(CreditBatch, CreditBatch.id == CreditSerialRange.batch_id)
        .join(CreditProject, CreditProject.id == CreditBatch.project_id)
        .where(CreditSerialRange.retirement_id == retirement.id)
        .order_by(CreditSerialRange.serial_start)
    ).all()
    return RegistryRetirement(
        retirement_id=retirement.registry_reference,
        reference=retirement.registry_reference,
        quantity_t=retirement.quantity_t,
        beneficiary=Beneficiary(retirement.beneficiary, None),
        purpose=retirement.purpose,
        retired_on=retirement.retired_on,
        blocks=tuple(
            SerialBlock(
                project=project,
                batch=_batch_name(batch),
                vintage=batch.vintage,
                serial_start=piece.serial_start,
                serial_end=piece.serial_end,
            )
            for piece, batch, project in rows
        ),
    )


def _beneficiary_organisation(session: Session, beneficiary: Beneficiary) -> int:
    """The organisation a retirement is for: by its unified social credit code when the request
    carries one, else the one organisation whose name the beneficiary's name matches; refused as
    an unknown beneficiary otherwise (the registry knows only the parties it has on record)."""
    candidates = sa.select(Organisation.id, Organisation.name).where(
        Organisation.name.startswith(beneficiary.name, autoescape=True)
    )
    if beneficiary.credit_code:
        candidates = candidates.where(Organisation.uscc == beneficiary.credit_code)
    named = session.execute(candidates).all()
    matches = [row.id for row in named if beneficiary_matches(beneficiary.name, row.name)]
    if len(matches) != 1:
        raise RegistryRefused(
            RefusalReason.BENEFICIARY_UNKNOWN,
            FieldMessage("No organisation on record is {name}.", name=beneficiary.name),
            field="beneficiary",
        )
    return int(matches[0])
