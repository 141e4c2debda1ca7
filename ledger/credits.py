"""Sink credits in the ledger: import batches from a registry's file, record retirements, and
allocate retired grams to label lots and personal offsets.

Accounts (all ``CREDIT_G``, grams CO2e):

* ``registry:{code}:issued``: the registry's issuance, an issuer account (may go negative);
* ``platform:credits:inventory``: batches held, one lot per batch;
* ``platform:credits:retired``: retired tonnes, one lot per retired serial range;
* ``platform:credits:allocated``: grams allocated to targets; which ranges they came from is
  recorded in ``credit_allocation_parts``.

Every import, retirement and allocation is a ledger entry (so a log leaf) and a log event of its
own (``credits.import``, ``credits.retirement``, ``credits.allocation``). Functions take a session
and never commit; a refusal raises ``CreditError`` before anything is written.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger import services as ledger
from ledger.credit_files import FileRejected, Plan, Problem, parse
from ledger.credit_models import (
    ALLOCATION_TARGET_TYPES,
    CreditAllocation,
    CreditAllocationPart,
    CreditBatch,
    CreditBatchShare,
    CreditFarm,
    CreditImport,
    CreditProject,
    CreditRegistry,
    CreditRetirement,
    CreditSerialRange,
)
from ledger.errors import Outcome
from ledger.models import Account, Entry, Lot
from ledger.tlog import log_append
from service.base.exceptions import ServiceError
from service.base.units import GRAMS_PER_TONNE

INVENTORY_ACCOUNT = "platform:credits:inventory"
RETIRED_ACCOUNT = "platform:credits:retired"
ALLOCATED_ACCOUNT = "platform:credits:allocated"
ASSET = "CREDIT_G"
RETIREMENT_LINES_MAX = 100
ALLOCATION_RETIREMENTS_MAX = 100
TARGET_ID_MAX_LENGTH_CHARS = 64
KEY_MAX_LENGTH_CHARS = 128
REFERENCE_MAX_LENGTH_CHARS = 128
BENEFICIARY_MAX_LENGTH_CHARS = 200
PURPOSE_MAX_LENGTH_CHARS = 500
#: Problems listed in one refusal at most (the count is always given).
PROBLEMS_REPORTED_MAX = 500


class CreditErrorCode(enum.StrEnum):
    IMPORT_REJECTED = "credit_import_rejected"
    REGISTRY_NOT_FOUND = "credit_registry_not_found"
    BATCH_NOT_FOUND = "credit_batch_not_found"
    RETIREMENT_INVALID = "credit_retirement_invalid"
    RETIREMENT_NOT_FOUND = "credit_retirement_not_found"
    CREDITS_INSUFFICIENT = "credits_insufficient"
    ALLOCATION_INVALID = "credit_allocation_invalid"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"


class CreditError(ServiceError):
    """A credit operation refused; nothing of it was written. ``problems`` lists, for a refused
    import, every bad row (row, field, reason)."""

    def __init__(
        self,
        code: CreditErrorCode,
        detail: str = "",
        *,
        field: str | None = None,
        problems: Sequence[Problem] = (),
    ) -> None:
        fields: dict[str, list[str]] = {}
        for problem in problems[:PROBLEMS_REPORTED_MAX]:
            fields.setdefault(problem.path(), []).append(problem.reason)
        if field:
            fields.setdefault(field, []).append(detail or code.value)
        super().__init__(
            code=code.value,
            params={"detail": detail, "count": len(problems)},
            fields=fields or None,
        )
        self.error_code = code
        self.detail = detail
        self.problems = list(problems)


def issuer_account(registry_code: str) -> str:
    return f"registry:{registry_code}:issued"


def accounts_open(session: Session, registry_code: str | None = None) -> None:
    """Open the platform's credit accounts (and a registry's issuer account); idempotent."""
    ledger.account_open(
        session, code=INVENTORY_ACCOUNT, asset=ASSET, owner_type="platform", uses_lots=True
    )
    ledger.account_open(
        session, code=RETIRED_ACCOUNT, asset=ASSET, owner_type="platform", uses_lots=True
    )
    ledger.account_open(session, code=ALLOCATED_ACCOUNT, asset=ASSET, owner_type="platform")
    if registry_code is not None:
        ledger.account_open(
            session,
            code=issuer_account(registry_code),
            asset=ASSET,
            owner_type="registry",
            allow_negative=True,
        )


# -- import ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportResult:
    outcome: Outcome
    import_id: int | None
    batches_created: int
    batches_unchanged: int


def import_file(
    session: Session,
    *,
    content: bytes,
    file_format: str,
    filename: str = "",
    imported_by: int | None = None,
    now: datetime,
) -> ImportResult:
    """Import a registry file: all of it, or nothing with every problem listed.

    The same bytes again answer the original import; a file whose batches are all stored
    already (the same serials, project, vintage and shares) changes nothing.
    """
    digest = hashlib.sha256(content).hexdigest()
    earlier = session.scalars(sa.select(CreditImport).where(CreditImport.sha256 == digest)).first()
    if earlier is not None:
        return ImportResult(
            Outcome.EXISTS, earlier.id, earlier.batches_created, earlier.batches_unchanged
        )
    try:
        plan = parse(content, file_format, current_year=now.year)
    except FileRejected as rejected:
        raise CreditError(CreditErrorCode.IMPORT_REJECTED, problems=rejected.problems) from None
    registry = _registry_lock(session, plan.registry_code)
    problems, fresh = _against_stored(session, plan, registry)
    if problems:
        raise CreditError(CreditErrorCode.IMPORT_REJECTED, problems=problems)
    unchanged = len(plan.batches()) - len(fresh)
    if not fresh:
        return ImportResult(Outcome.EXISTS, None, 0, unchanged)

    if registry is None:
        registry = CreditRegistry(code=plan.registry_code, name=plan.registry_name)
        session.add(registry)
        session.flush()
        registry = _registry_lock(session, plan.registry_code)
        assert registry is not None
    accounts_open(session, registry.code)
    record = CreditImport(
        sha256=digest,
        filename=filename[:255],
        format=file_format,
        batches_created=len(fresh),
        batches_unchanged=unchanged,
        imported_by=imported_by,
        created_at=now,
    )
    session.add(record)
    projects = _projects_store(session, plan, registry, now)
    session.flush()

    requests = []
    for project_plan, batch in fresh:
        grams = batch.quantity_t * GRAMS_PER_TONNE
        provenance = {
            "registry": registry.code,
            "project": project_plan.external_id,
            "vintage": batch.vintage,
            "serial_start": batch.serial_start,
            "serial_end": batch.serial_end,
        }
        requests.append(
            ledger.EntryRequest(
                key=f"credits:batch:{registry.code}:{batch.serial_start}-{batch.serial_end}",
                kind="credits_issue",
                postings=[
                    ledger.PostingRequest(issuer_account(registry.code), -grams),
                    ledger.PostingRequest(INVENTORY_ACCOUNT, grams, provenance=provenance),
                ],
                metadata={"import_sha256": digest},
            )
        )
    results = ledger.entries_post(session, requests, now=now)
    logged = []
    for (project_plan, batch), result in zip(fresh, results, strict=True):
        project, farms = projects[project_plan.external_id]
        (lot_use,) = result.lots
        row = CreditBatch(
            registry_id=registry.id,
            project_id=project.id,
            import_id=record.id,
            vintage=batch.vintage,
            serial_start=batch.serial_start,
            serial_end=batch.serial_end,
            quantity_t=batch.quantity_t,
            lot_id=lot_use.lot_id,
            created_at=now,
        )
        session.add(row)
        session.flush()
        session.add_all(
            [
                CreditBatchShare(batch_id=row.id, farm_id=farms[code].id, share_ppm=ppm)
                for code, ppm in sorted(batch.shares_ppm.items())
            ]
        )
        session.add(
            CreditSerialRange(
                batch_id=row.id,
                serial_start=batch.serial_start,
                serial_end=batch.serial_end,
                status="available",
            )
        )
        logged.append(
            {
                "batch_id": row.id,
                "project": project_plan.external_id,
                "vintage": batch.vintage,
                "serial_start": batch.serial_start,
                "serial_end": batch.serial_end,
                "quantity_t": batch.quantity_t,
                "shares_ppm": dict(sorted(batch.shares_ppm.items())),
            }
        )
    session.flush()
    log_append(
        session,
        kind="credits.import",
        source_id=str(record.id),
        data={"registry": registry.code, "sha256": digest, "batches": logged},
        now=now,
    )
    return ImportResult(Outcome.CREATED, record.id, len(fresh), unchanged)


def _registry_lock(session: Session, code: str) -> CreditRegistry | None:
    """The registry row, locked: imports and retirements of one registry take turns."""
    return session.scalars(
        sa.select(CreditRegistry).where(CreditRegistry.code == code).with_for_update()
    ).first()


def _against_stored(
    session: Session, plan: Plan, registry: CreditRegistry | None
) -> tuple[list[Problem], list[tuple[Any, Any]]]:
    problems: list[Problem] = []
    if registry is None:
        return problems, plan.batches()
    if registry.name != plan.registry_name:
        problems.append(Problem("registry", "name", f"the registry is stored as {registry.name!r}"))
    stored_projects = {
        project.external_id: project
        for project in session.scalars(
            sa.select(CreditProject).where(CreditProject.registry_id == registry.id)
        )
    }
    for project_plan in plan.projects:
        stored = stored_projects.get(project_plan.external_id)
        if stored is None:
            continue
        for name, value in (
            ("name", project_plan.name),
            ("methodology", project_plan.methodology),
            ("region_code", project_plan.region_code),
        ):
            if getattr(stored, name) != value:
                problems.append(
                    Problem(project_plan.row, name, f"project {stored.external_id} differs")
                )
        farms = {
            farm.code: farm
            for farm in session.scalars(
                sa.select(CreditFarm).where(CreditFarm.project_id == stored.id)
            )
        }
        for code, farm in project_plan.farms.items():
            if code in farms and farms[code].name != farm.name:
                problems.append(
                    Problem(project_plan.row, f"farms.{code}", "the farm is stored by another name")
                )
    fresh = []
    for project_plan, batch in plan.batches():
        overlapping = session.scalars(
            sa.select(CreditBatch).where(
                CreditBatch.registry_id == registry.id,
                CreditBatch.serial_start <= batch.serial_end,
                CreditBatch.serial_end >= batch.serial_start,
            )
        ).all()
        if not overlapping:
            fresh.append((project_plan, batch))
            continue
        same = overlapping[0]
        if (
            len(overlapping) == 1
            and (same.serial_start, same.serial_end) == (batch.serial_start, batch.serial_end)
            and _batch_terms(session, same) == _planned_terms(project_plan, batch)
        ):
            continue  # stored already, unchanged
        for stored_batch in overlapping:
            word = (
                "repeats with other terms"
                if (stored_batch.serial_start, stored_batch.serial_end)
                == (batch.serial_start, batch.serial_end)
                else "overlaps"
            )
            problems.append(
                Problem(
                    batch.row,
                    "serial_start",
                    f"{word} stored batch {stored_batch.id} "
                    f"(serials {stored_batch.serial_start}–{stored_batch.serial_end})",
                )
            )
    return problems, fresh


def _batch_terms(session: Session, batch: CreditBatch) -> tuple[Any, ...]:
    project = session.get(CreditProject, batch.project_id)
    assert project is not None
    shares = session.execute(
        sa.select(CreditFarm.code, CreditBatchShare.share_ppm)
        .join(CreditFarm, CreditFarm.id == CreditBatchShare.farm_id)
        .where(CreditBatchShare.batch_id == batch.id)
    ).all()
    return (project.external_id, batch.vintage, batch.quantity_t, dict(shares))


def _planned_terms(project: Any, batch: Any) -> tuple[Any, ...]:
    return (project.external_id, batch.vintage, batch.quantity_t, dict(batch.shares_ppm))


def _projects_store(
    session: Session, plan: Plan, registry: CreditRegistry, now: datetime
) -> dict[str, tuple[CreditProject, dict[str, CreditFarm]]]:
    stored: dict[str, tuple[CreditProject, dict[str, CreditFarm]]] = {}
    for project_plan in plan.projects:
        project = session.scalars(
            sa.select(CreditProject).where(
                CreditProject.registry_id == registry.id,
                CreditProject.external_id == project_plan.external_id,
            )
        ).first()
        if project is None:
            project = CreditProject(
                registry_id=registry.id,
                external_id=project_plan.external_id,
                name=project_plan.name,
                methodology=project_plan.methodology,
                region_code=project_plan.region_code,
                created_at=now,
            )
            session.add(project)
            session.flush()
        farms = {
            farm.code: farm
            for farm in session.scalars(
                sa.select(CreditFarm).where(CreditFarm.project_id == project.id)
            )
        }
        for code, farm_plan in project_plan.farms.items():
            if code not in farms:
                farm = CreditFarm(project_id=project.id, code=code, name=farm_plan.name)
                session.add(farm)
                farms[code] = farm
        session.flush()
        stored[project_plan.external_id] = (project, farms)
    return stored


# -- retirement -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetirementLine:
    batch_id: int
    quantity_t: int


@dataclass(frozen=True)
class RetirementResult:
    outcome: Outcome
    retirement: CreditRetirement


def retire(
    session: Session,
    *,
    registry_code: str,
    registry_reference: str,
    beneficiary: str,
    purpose: str,
    retired_on: date,
    lines: Sequence[RetirementLine],
    recorded_by: int | None = None,
    now: datetime,
) -> RetirementResult:
    """Record a retirement the registry made: whole tonnes of one or more batches, the lowest
    serials still available first. Repeating a reference answers the original retirement."""
    registry = _registry_lock(session, registry_code)
    if registry is None:
        raise CreditError(CreditErrorCode.REGISTRY_NOT_FOUND, registry_code, field="registry_code")
    texts = {
        "registry_reference": (registry_reference, REFERENCE_MAX_LENGTH_CHARS),
        "beneficiary": (beneficiary, BENEFICIARY_MAX_LENGTH_CHARS),
        "purpose": (purpose, PURPOSE_MAX_LENGTH_CHARS),
    }
    for name, (value, limit) in texts.items():
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            raise CreditError(
                CreditErrorCode.RETIREMENT_INVALID, f"1 to {limit} characters", field=name
            )
    if retired_on > now.date():
        raise CreditError(CreditErrorCode.RETIREMENT_INVALID, "in the future", field="retired_on")
    if not 0 < len(lines) <= RETIREMENT_LINES_MAX:
        raise CreditError(
            CreditErrorCode.RETIREMENT_INVALID,
            f"1 to {RETIREMENT_LINES_MAX} lines",
            field="lines",
        )
    if len({line.batch_id for line in lines}) != len(lines):
        raise CreditError(
            CreditErrorCode.RETIREMENT_INVALID, "a batch appears twice", field="lines"
        )
    for line in lines:
        if type(line.quantity_t) is not int or line.quantity_t <= 0:
            raise CreditError(
                CreditErrorCode.RETIREMENT_INVALID, "whole tonnes, more than 0", field="quantity_t"
            )
    request = {
        "beneficiary": beneficiary.strip(),
        "purpose": purpose.strip(),
        "retired_on": retired_on.isoformat(),
        "lines": [[line.batch_id, line.quantity_t] for line in lines],
    }
    existing = session.scalars(
        sa.select(CreditRetirement).where(
            CreditRetirement.registry_id == registry.id,
            CreditRetirement.registry_reference == registry_reference.strip(),
        )
    ).first()
    if existing is not None:
        stored = _retirement_request(session, existing)
        for name in ("beneficiary", "purpose", "retired_on", "lines"):
            if stored[name] != request[name]:
                raise CreditError(
                    CreditErrorCode.IDEMPOTENCY_CONFLICT,
                    f"the reference was used with another {name}",
                    field=name,
                )
        return RetirementResult(Outcome.EXISTS, existing)

    batches = {}
    for line in lines:
        batch = session.get(CreditBatch, line.batch_id)
        if batch is None or batch.registry_id != registry.id:
            raise CreditError(CreditErrorCode.BATCH_NOT_FOUND, str(line.batch_id), field="batch_id")
        batches[line.batch_id] = batch
    # Take the lowest available serials of each batch, under the batch ranges' row locks.
    pieces: list[tuple[CreditBatch, CreditSerialRange, int]] = []
    for line in lines:
        batch = batches[line.batch_id]
        available = session.scalars(
            sa.select(CreditSerialRange)
            .where(CreditSerialRange.batch_id == batch.id, CreditSerialRange.status == "available")
            .order_by(CreditSerialRange.serial_start)
            .with_for_update()
        ).all()
        needed = line.quantity_t
        have = sum(piece.quantity_t for piece in available)
        if have < needed:
            raise CreditError(
                CreditErrorCode.CREDITS_INSUFFICIENT,
                f"batch {batch.id} has {have} t available, not {needed} t",
                field="quantity_t",
            )
        for piece in available:
            take = min(piece.quantity_t, needed)
            pieces.append((batch, piece, take))
            needed -= take
            if needed == 0:
                break

    accounts_open(session, registry.code)
    reference = registry_reference.strip()
    postings = []
    for line in lines:
        batch = batches[line.batch_id]
        postings.append(
            ledger.PostingRequest(
                INVENTORY_ACCOUNT, -line.quantity_t * GRAMS_PER_TONNE, lot_id=batch.lot_id
            )
        )
    for batch, piece, take in pieces:
        postings.append(
            ledger.PostingRequest(
                RETIRED_ACCOUNT,
                take * GRAMS_PER_TONNE,
                provenance={
                    "registry": registry.code,
                    "reference": reference,
                    "batch_id": batch.id,
                    "vintage": batch.vintage,
                    "serial_start": piece.serial_start,
                    "serial_end": piece.serial_start + take - 1,
                },
            )
        )
    result = ledger.entry_post(
        session,
        ledger.EntryRequest(
            key=f"credits:retirement:{registry.code}:{reference}",
            kind="credits_retire",
            postings=postings,
            metadata={"reference": reference},
        ),
        now=now,
    )
    retirement = CreditRetirement(
        registry_id=registry.id,
        registry_reference=reference,
        beneficiary=request["beneficiary"],
        purpose=request["purpose"],
        retired_on=retired_on,
        quantity_t=sum(line.quantity_t for line in lines),
        entry_id=result.entry_id,
        recorded_by=recorded_by,
        created_at=now,
    )
    session.add(retirement)
    session.flush()
    retired_lots = [use.lot_id for use in result.lots if use.amount > 0]
    ranges = []
    for (batch, piece, take), lot_id in zip(pieces, retired_lots, strict=True):
        start = piece.serial_start
        if take == piece.quantity_t:
            piece.status, piece.retirement_id, piece.lot_id = "retired", retirement.id, lot_id
        else:
            piece.serial_start = start + take
            session.add(
                CreditSerialRange(
                    batch_id=batch.id,
                    serial_start=start,
                    serial_end=start + take - 1,
                    status="retired",
                    retirement_id=retirement.id,
                    lot_id=lot_id,
                )
            )
        ranges.append([batch.id, start, start + take - 1])
    session.flush()
    log_append(
        session,
        kind="credits.retirement",
        source_id=str(retirement.id),
        data={"registry": registry.code, "reference": reference, **request, "ranges": ranges},
        now=now,
    )
    return RetirementResult(Outcome.CREATED, retirement)


def _retirement_request(session: Session, retirement: CreditRetirement) -> dict[str, Any]:
    entry_request = session.scalar(sa.select(Entry.request).where(Entry.id == retirement.entry_id))
    lines = [
        [posting["lot_id"], -posting["amount"] // GRAMS_PER_TONNE]
        for posting in entry_request["postings"]
        if posting["account"] == INVENTORY_ACCOUNT
    ]
    batch_by_lot = dict(
        session.execute(
            sa.select(CreditBatch.lot_id, CreditBatch.id).where(
                CreditBatch.lot_id.in_([lot for lot, _ in lines])
            )
        ).all()
    )
    return {
        "beneficiary": retirement.beneficiary,
        "purpose": retirement.purpose,
        "retired_on": retirement.retired_on.isoformat(),
        "lines": [[batch_by_lot[lot], tonnes] for lot, tonnes in lines],
    }


# -- allocation -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AllocationPart:
    retirement_id: int
    range_id: int
    serial_start: int
    serial_end: int
    quantity_g: int


@dataclass(frozen=True)
class AllocationResult:
    outcome: Outcome
    allocation_id: int
    quantity_g: int
    parts: tuple[AllocationPart, ...]


def allocate(
    session: Session,
    *,
    key: str,
    target_type: str,
    target_id: str,
    quantity_g: int,
    now: datetime,
    retirement_ids: Sequence[int] | None = None,
) -> AllocationResult:
    """Allocate ``quantity_g`` retired grams to a target: from the named retirements in the
    order given, or FIFO by vintage (then retirement, then serial). All or nothing; a repeated
    key answers the original allocation."""
    if not isinstance(key, str) or not 0 < len(key) <= KEY_MAX_LENGTH_CHARS:
        raise CreditError(CreditErrorCode.ALLOCATION_INVALID, "key length", field="key")
    if target_type not in ALLOCATION_TARGET_TYPES:
        raise CreditError(
            CreditErrorCode.ALLOCATION_INVALID,
            ", ".join(ALLOCATION_TARGET_TYPES),
            field="target_type",
        )
    if not isinstance(target_id, str) or not 0 < len(target_id) <= TARGET_ID_MAX_LENGTH_CHARS:
        raise CreditError(CreditErrorCode.ALLOCATION_INVALID, "target id", field="target_id")
    if type(quantity_g) is not int or not 0 < quantity_g <= ledger.AMOUNT_MAX:
        raise CreditError(
            CreditErrorCode.ALLOCATION_INVALID, "whole grams, more than 0", field="quantity_g"
        )
    named = list(retirement_ids or [])
    if len(named) > ALLOCATION_RETIREMENTS_MAX or len(set(named)) != len(named):
        raise CreditError(
            CreditErrorCode.ALLOCATION_INVALID,
            f"at most {ALLOCATION_RETIREMENTS_MAX} distinct retirements",
            field="retirement_ids",
        )
    request = {
        "target_type": target_type,
        "target_id": target_id,
        "quantity_g": quantity_g,
        "retirement_ids": named,
    }
    existing = session.scalars(
        sa.select(CreditAllocation).where(CreditAllocation.idempotency_key == key)
    ).first()
    if existing is not None:
        stored = {
            "target_type": existing.target_type,
            "target_id": existing.target_id,
            "quantity_g": existing.quantity_g,
            "retirement_ids": _allocation_named(session, existing),
        }
        for name in ("target_type", "target_id", "quantity_g", "retirement_ids"):
            if stored[name] != request[name]:
                raise CreditError(
                    CreditErrorCode.IDEMPOTENCY_CONFLICT,
                    f"the key was used with another {name}",
                    field=name,
                )
        return AllocationResult(
            Outcome.EXISTS, existing.id, existing.quantity_g, _parts_of(session, existing.id)
        )

    accounts_open(session)
    # Allocators take turns on the retired pool's account row, so each plans from what the
    # others committed: the ledger refuses any draw beyond a lot's remainder in any case.
    session.execute(
        sa.select(Account.id).where(Account.code == RETIRED_ACCOUNT).with_for_update()
    ).one()
    candidates = (
        sa.select(
            CreditSerialRange.id,
            CreditSerialRange.retirement_id,
            CreditSerialRange.serial_start,
            CreditSerialRange.serial_end,
            CreditSerialRange.lot_id,
            Lot.remaining,
        )
        .join(Lot, Lot.id == CreditSerialRange.lot_id)
        .join(CreditBatch, CreditBatch.id == CreditSerialRange.batch_id)
        .where(CreditSerialRange.status == "retired", Lot.remaining > 0)
    )
    if named:
        found = set(
            session.scalars(
                sa.select(CreditRetirement.id).where(CreditRetirement.id.in_(named))
            ).all()
        )
        missing = [number for number in named if number not in found]
        if missing:
            raise CreditError(
                CreditErrorCode.RETIREMENT_NOT_FOUND,
                ", ".join(map(str, missing)),
                field="retirement_ids",
            )
        order = sa.case({number: position for position, number in enumerate(named)},
                        value=CreditSerialRange.retirement_id)  # fmt: skip
        candidates = candidates.where(CreditSerialRange.retirement_id.in_(named)).order_by(
            order, CreditSerialRange.serial_start, CreditSerialRange.id
        )
    else:
        candidates = candidates.order_by(
            CreditBatch.vintage, CreditSerialRange.retirement_id, CreditSerialRange.serial_start
        )
    draws = []
    needed = quantity_g
    for row in session.execute(candidates):
        take = min(row.remaining, needed)
        draws.append((row, take))
        needed -= take
        if needed == 0:
            break
    if needed:
        raise CreditError(
            CreditErrorCode.CREDITS_INSUFFICIENT,
            f"{quantity_g - needed} g of retired credits unallocated, not {quantity_g} g",
            field="quantity_g",
        )
    postings = [
        ledger.PostingRequest(RETIRED_ACCOUNT, -take, lot_id=row.lot_id) for row, take in draws
    ]
    postings.append(ledger.PostingRequest(ALLOCATED_ACCOUNT, quantity_g))
    result = ledger.entry_post(
        session,
        ledger.EntryRequest(
            key=f"credits:allocation:{key}",
            kind="credits_allocate",
            postings=postings,
            metadata={
                "target_type": target_type,
                "target_id": target_id,
                "retirement_ids": named,
            },
        ),
        now=now,
    )
    allocation = CreditAllocation(
        idempotency_key=key,
        target_type=target_type,
        target_id=target_id,
        quantity_g=quantity_g,
        entry_id=result.entry_id,
        created_at=now,
    )
    session.add(allocation)
    session.flush()
    session.add_all(
        [
            CreditAllocationPart(
                allocation_id=allocation.id,
                range_id=row.id,
                retirement_id=row.retirement_id,
                quantity_g=take,
            )
            for row, take in draws
        ]
    )
    session.flush()
    parts = _parts_of(session, allocation.id)
    log_append(
        session,
        kind="credits.allocation",
        source_id=str(allocation.id),
        data={
            "key": key,
            "target_type": target_type,
            "target_id": target_id,
            "quantity_g": quantity_g,
            "parts": [[p.retirement_id, p.serial_start, p.serial_end, p.quantity_g] for p in parts],
        },
        now=now,
    )
    return AllocationResult(Outcome.CREATED, allocation.id, quantity_g, parts)


def _allocation_named(session: Session, allocation: CreditAllocation) -> list[int]:
    metadata = session.scalar(sa.select(Entry.request).where(Entry.id == allocation.entry_id))[
        "metadata"
    ]
    return list(metadata.get("retirement_ids", []))


def _parts_of(session: Session, allocation_id: int) -> tuple[AllocationPart, ...]:
    rows = session.execute(
        sa.select(
            CreditAllocationPart.retirement_id,
            CreditAllocationPart.range_id,
            CreditSerialRange.serial_start,
            CreditSerialRange.serial_end,
            CreditAllocationPart.quantity_g,
        )
        .join(CreditSerialRange, CreditSerialRange.id == CreditAllocationPart.range_id)
        .where(CreditAllocationPart.allocation_id == allocation_id)
        .order_by(CreditAllocationPart.id)
    ).all()
    return tuple(AllocationPart(*row) for row in rows)


def allocations_of(session: Session, target_type: str, target_id: str) -> list[Mapping[str, Any]]:
    """What backs a target: each allocation with its parts (for labels and the resolver)."""
    result = []
    for allocation in session.scalars(
        sa.select(CreditAllocation)
        .where(CreditAllocation.target_type == target_type, CreditAllocation.target_id == target_id)
        .order_by(CreditAllocation.id)
    ):
        result.append(
            {
                "allocation_id": allocation.id,
                "quantity_g": allocation.quantity_g,
                "parts": _parts_of(session, allocation.id),
            }
        )
    return result


def farm_link(
    session: Session, *, project_external_id: str, farm_code: str, organisation_id: int
) -> CreditFarm:
    """Link a project's farm to the farm (or cooperative) registered with the service, so its
    share of each batch can earn it points."""
    farm = session.scalars(
        sa.select(CreditFarm)
        .join(CreditProject, CreditProject.id == CreditFarm.project_id)
        .where(CreditProject.external_id == project_external_id, CreditFarm.code == farm_code)
    ).first()
    if farm is None:
        raise CreditError(CreditErrorCode.BATCH_NOT_FOUND, f"farm {farm_code}", field="farm_code")
    farm.organisation_id = organisation_id
    session.flush()
    return farm
