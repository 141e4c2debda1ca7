"""Importing a registry's file: its projects, farms and batches, each batch a lot of the
inventory, all of it or nothing with every problem listed.

The file is parsed and checked on its own first (``ledger.credits.files``), then against what is
stored; the same bytes again answer the original import, and a file whose batches are all stored
already (the same serials, project, vintage and shares) changes nothing. Every import is ledger
entries (so log leaves) and a ``credits.import`` log event of its own.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.credits.accounts import (
    INVENTORY_ACCOUNT,
    accounts_open,
    issuer_account,
    registry_lock,
)
from ledger.credits.files import BatchPlan, FileRejected, Plan, Problem, ProjectPlan, parse
from ledger.credits.models import (
    CreditBatch,
    CreditBatchShare,
    CreditFarm,
    CreditImport,
    CreditProject,
    CreditRegistry,
    CreditSerialRange,
)
from ledger.entries.posting import entries_post
from ledger.entries.requests import EntryRequest, EntryResult, PostingRequest
from ledger.errors import CreditError, ErrorCode, Outcome
from ledger.tlog.log import log_append
from service.base.exceptions import FieldMessage
from service.base.units import GRAMS_PER_TONNE

#: A planned batch with the project it belongs to.
_Planned = tuple[ProjectPlan, BatchPlan]
#: A stored project with its farms, by code.
_Stored = tuple[CreditProject, dict[str, CreditFarm]]


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
        raise CreditError(ErrorCode.CREDIT_IMPORT_REJECTED, problems=rejected.problems) from None
    registry = registry_lock(session, plan.registry_code)
    problems, fresh = _against_stored(session, plan, registry)
    if problems:
        raise CreditError(ErrorCode.CREDIT_IMPORT_REJECTED, problems=problems)
    unchanged = len(plan.batches()) - len(fresh)
    if not fresh:
        return ImportResult(Outcome.EXISTS, None, 0, unchanged)

    if registry is None:
        session.add(CreditRegistry(code=plan.registry_code, name=plan.registry_name))
        session.flush()
        registry = registry_lock(session, plan.registry_code)
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
    results = entries_post(session, _issue_requests(registry.code, fresh, digest), now=now)
    logged = _batches_store(session, registry, record, projects, fresh, results, now)
    log_append(
        session,
        kind="credits.import",
        source_id=str(record.id),
        data={"registry": registry.code, "sha256": digest, "batches": logged},
        now=now,
    )
    return ImportResult(Outcome.CREATED, record.id, len(fresh), unchanged)


def _issue_requests(
    registry_code: str, fresh: Sequence[_Planned], digest: str
) -> list[EntryRequest]:
    """One entry per new batch: its tonnes, as grams, from the registry into a lot of the
    inventory that remembers where they came from."""
    requests = []
    for project_plan, batch in fresh:
        grams = batch.quantity_t * GRAMS_PER_TONNE
        provenance = {
            "registry": registry_code,
            "project": project_plan.external_id,
            "vintage": batch.vintage,
            "serial_start": batch.serial_start,
            "serial_end": batch.serial_end,
        }
        requests.append(
            EntryRequest(
                key=f"credits:batch:{registry_code}:{batch.serial_start}-{batch.serial_end}",
                kind="credits_issue",
                postings=[
                    PostingRequest(issuer_account(registry_code), -grams),
                    PostingRequest(INVENTORY_ACCOUNT, grams, provenance=provenance),
                ],
                metadata={"import_sha256": digest},
            )
        )
    return requests


def _batches_store(
    session: Session,
    registry: CreditRegistry,
    record: CreditImport,
    projects: dict[str, _Stored],
    fresh: Sequence[_Planned],
    results: Sequence[EntryResult],
    now: datetime,
) -> list[dict[str, Any]]:
    """Store each new batch with its farms' shares and one available serial range; answer what
    the import's log event records of them."""
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
    return logged


def _against_stored(
    session: Session, plan: Plan, registry: CreditRegistry | None
) -> tuple[list[Problem], list[_Planned]]:
    """What the file says differently from what is stored, and the batches not stored yet."""
    if registry is None:
        return [], plan.batches()
    problems: list[Problem] = []
    if registry.name != plan.registry_name:
        problems.append(
            Problem(
                "registry",
                "name",
                FieldMessage("the registry is stored as {name}", name=repr(registry.name)),
            )
        )
    problems.extend(_projects_against_stored(session, plan, registry))
    batch_problems, fresh = _batches_against_stored(session, plan, registry)
    return problems + batch_problems, fresh


def _projects_against_stored(
    session: Session, plan: Plan, registry: CreditRegistry
) -> list[Problem]:
    """A stored project the file names with other terms, or whose farms it names otherwise."""
    problems: list[Problem] = []
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
                    Problem(
                        project_plan.row,
                        name,
                        FieldMessage(
                            "project {external_id} differs", external_id=stored.external_id
                        ),
                    )
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
    return problems


def _batches_against_stored(
    session: Session, plan: Plan, registry: CreditRegistry
) -> tuple[list[Problem], list[_Planned]]:
    """Batches whose serials overlap stored ones (a problem unless the very same batch is stored
    with the same terms), and the batches not stored yet."""
    problems: list[Problem] = []
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
                    FieldMessage(
                        "{word} stored batch {id} (serials {serial_start}–{serial_end})",
                        word=word,
                        id=stored_batch.id,
                        serial_start=stored_batch.serial_start,
                        serial_end=stored_batch.serial_end,
                    ),
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


def _planned_terms(project: ProjectPlan, batch: BatchPlan) -> tuple[Any, ...]:
    return (project.external_id, batch.vintage, batch.quantity_t, dict(batch.shares_ppm))


def _projects_store(
    session: Session, plan: Plan, registry: CreditRegistry, now: datetime
) -> dict[str, _Stored]:
    stored: dict[str, _Stored] = {}
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
        raise CreditError(
            ErrorCode.CREDIT_BATCH_NOT_FOUND,
            FieldMessage("farm {farm_code}", farm_code=farm_code),
            field="farm_code",
        )
    farm.organisation_id = organisation_id
    session.flush()
    return farm
