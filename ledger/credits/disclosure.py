"""What the public may read of the sink credits: projects, batches, retirements, and for each
retirement the grams allocated and to what. Read-only queries; the open-data export streams.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.credits.allocations import part_of
from ledger.credits.models import (
    SHARE_PPM_TOTAL,
    CreditAllocation,
    CreditAllocationPart,
    CreditBatch,
    CreditBatchShare,
    CreditFarm,
    CreditProject,
    CreditRegistry,
    CreditRetirement,
    CreditSerialRange,
)

EXPORT_COLUMNS = (
    "registry",
    "project_id",
    "project_name",
    "methodology",
    "region_code",
    "batch_id",
    "vintage",
    "serial_start",
    "serial_end",
    "quantity_t",
    "status",
    "retirement_id",
    "registry_reference",
    "beneficiary",
    "purpose",
    "retired_on",
    "allocated_g",
    "allocated_serials",
)
EXPORT_CHUNK_ROWS = 1_000
_RANGE_TONNES = CreditSerialRange.serial_end - CreditSerialRange.serial_start + 1


def share_percent(share_ppm: int) -> str:
    """Parts per million as the percentage files use: ``315000`` → ``"31.5"``."""
    value = Decimal(share_ppm) * 100 / SHARE_PPM_TOTAL
    return format(value.normalize(), "f")


def project_totals(session: Session, project_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Tonnes issued and retired, and grams allocated, per project."""
    ids = list(project_ids)
    totals: dict[int, dict[str, int]] = {
        number: {"issued_t": 0, "retired_t": 0, "allocated_g": 0} for number in ids
    }
    if not ids:
        return totals
    for project_id, issued in session.execute(
        sa.select(CreditBatch.project_id, sa.func.sum(CreditBatch.quantity_t))
        .where(CreditBatch.project_id.in_(ids))
        .group_by(CreditBatch.project_id)
    ):
        totals[project_id]["issued_t"] = int(issued)
    for project_id, retired in session.execute(
        sa.select(CreditBatch.project_id, sa.func.sum(_RANGE_TONNES))
        .join(CreditBatch, CreditBatch.id == CreditSerialRange.batch_id)
        .where(CreditBatch.project_id.in_(ids), CreditSerialRange.status == "retired")
        .group_by(CreditBatch.project_id)
    ):
        totals[project_id]["retired_t"] = int(retired)
    for project_id, allocated in session.execute(
        sa.select(CreditBatch.project_id, sa.func.sum(CreditAllocationPart.quantity_g))
        .join(CreditSerialRange, CreditSerialRange.id == CreditAllocationPart.range_id)
        .join(CreditBatch, CreditBatch.id == CreditSerialRange.batch_id)
        .where(CreditBatch.project_id.in_(ids), CreditAllocationPart.reversal_entry_id.is_(None))
        .group_by(CreditBatch.project_id)
    ):
        totals[project_id]["allocated_g"] = int(allocated)
    return totals


def project_view(session: Session, project: CreditProject) -> dict[str, Any]:
    registry = session.get(CreditRegistry, project.registry_id)
    farms = session.scalars(
        sa.select(CreditFarm).where(CreditFarm.project_id == project.id).order_by(CreditFarm.code)
    ).all()
    return {
        "id": project.id,
        "registry": registry.code if registry else "",
        "external_id": project.external_id,
        "name": project.name,
        "methodology": project.methodology,
        "region_code": project.region_code,
        "farms": [{"code": farm.code, "name": farm.name} for farm in farms],
        **project_totals(session, [project.id])[project.id],
    }


def batch_views(session: Session, batches: Iterable[CreditBatch]) -> list[dict[str, Any]]:
    batches = list(batches)
    ids = [batch.id for batch in batches]
    shares: dict[int, list[dict[str, Any]]] = defaultdict(list)
    ranges: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids:
        for batch_id, code, name, ppm in session.execute(
            sa.select(
                CreditBatchShare.batch_id,
                CreditFarm.code,
                CreditFarm.name,
                CreditBatchShare.share_ppm,
            )
            .join(CreditFarm, CreditFarm.id == CreditBatchShare.farm_id)
            .where(CreditBatchShare.batch_id.in_(ids))
            .order_by(CreditBatchShare.batch_id, CreditFarm.code)
        ):
            shares[batch_id].append(
                {"farm_code": code, "farm_name": name, "share_percent": share_percent(ppm)}
            )
        for piece in session.scalars(
            sa.select(CreditSerialRange)
            .where(CreditSerialRange.batch_id.in_(ids))
            .order_by(CreditSerialRange.batch_id, CreditSerialRange.serial_start)
        ):
            ranges[piece.batch_id].append(
                {
                    "serial_start": piece.serial_start,
                    "serial_end": piece.serial_end,
                    "quantity_t": piece.quantity_t,
                    "status": piece.status,
                    "retirement_id": piece.retirement_id,
                }
            )
    views = []
    for batch in batches:
        pieces = ranges[batch.id]
        retired = sum(piece["quantity_t"] for piece in pieces if piece["status"] == "retired")
        views.append(
            {
                "id": batch.id,
                "project_id": batch.project_id,
                "vintage": batch.vintage,
                "serial_start": batch.serial_start,
                "serial_end": batch.serial_end,
                "quantity_t": batch.quantity_t,
                "retired_t": retired,
                "available_t": batch.quantity_t - retired,
                "shares": shares[batch.id],
                "ranges": pieces,
            }
        )
    return views


def retirement_views(
    session: Session, retirements: Iterable[CreditRetirement], *, detailed: bool = False
) -> list[dict[str, Any]]:
    retirements = list(retirements)
    ids = [retirement.id for retirement in retirements]
    allocated: dict[int, int] = {}
    registries = dict(session.execute(sa.select(CreditRegistry.id, CreditRegistry.code)).all())
    if ids:
        allocated = {
            key: int(total)
            for key, total in session.execute(
                sa.select(
                    CreditAllocationPart.retirement_id, sa.func.sum(CreditAllocationPart.quantity_g)
                )
                .where(
                    CreditAllocationPart.retirement_id.in_(ids),
                    CreditAllocationPart.reversal_entry_id.is_(None),
                )
                .group_by(CreditAllocationPart.retirement_id)
            )
        }
    views = []
    for retirement in retirements:
        view: dict[str, Any] = {
            "id": retirement.id,
            "registry": registries.get(retirement.registry_id, ""),
            "registry_reference": retirement.registry_reference,
            "beneficiary": retirement.beneficiary,
            "purpose": retirement.purpose,
            "retired_on": retirement.retired_on,
            "quantity_t": retirement.quantity_t,
            "allocated_g": allocated.get(retirement.id, 0),
            "created_at": retirement.created_at,
        }
        if detailed:
            view["ranges"] = [
                {
                    "id": piece.id,
                    "batch_id": batch.id,
                    "project_id": project.id,
                    "project_name": project.name,
                    "vintage": batch.vintage,
                    "serial_start": piece.serial_start,
                    "serial_end": piece.serial_end,
                    "quantity_t": piece.quantity_t,
                }
                for piece, batch, project in session.execute(
                    sa.select(CreditSerialRange, CreditBatch, CreditProject)
                    .join(CreditBatch, CreditBatch.id == CreditSerialRange.batch_id)
                    .join(CreditProject, CreditProject.id == CreditBatch.project_id)
                    .where(CreditSerialRange.retirement_id == retirement.id)
                    .order_by(CreditSerialRange.serial_start)
                )
            ]
            view["allocations"] = _allocations_of_retirement(session, retirement.id)
        views.append(view)
    return views


def _allocations_of_retirement(session: Session, retirement_id: int) -> list[dict[str, Any]]:
    """Each part allocated of a retirement, with the exact serials it took."""
    return [
        {
            "allocation_id": allocation.id,
            "target_type": allocation.target_type,
            "target_id": allocation.target_id,
            "range_id": part.range_id,
            "quantity_g": part.quantity_g,
            **part_serials(
                part_of(part.retirement_id, part.range_id, range_start, part.start_g, part.end_g)
            ),
            "created_at": allocation.created_at,
        }
        for part, allocation, range_start in session.execute(
            sa.select(CreditAllocationPart, CreditAllocation, CreditSerialRange.serial_start)
            .join(CreditAllocation, CreditAllocation.id == CreditAllocationPart.allocation_id)
            .join(CreditSerialRange, CreditSerialRange.id == CreditAllocationPart.range_id)
            .where(
                CreditAllocationPart.retirement_id == retirement_id,
                CreditAllocationPart.reversal_entry_id.is_(None),
            )
            .order_by(CreditAllocationPart.id)
        )
    ]


def serials_notation(allocation_id: int, part: Any) -> str:
    """One allocated part, exactly, as the export writes it: ``12@1000001:0-1000007:250000`` is
    allocation 12, from gram 0 of serial 1000001 to gram 250,000 of serial 1000007 (exclusive),
    so serials 1000001–1000006 whole and 250,000 g of 1000007."""
    return f"{allocation_id}@{part.serial_start}:{part.from_g}-{part.serial_end}:{part.to_g}"


def _export_serials(session: Session, range_ids: Sequence[int]) -> dict[int, str]:
    """Per range, its allocated parts in the export's notation, in gram order (a reversed
    allocation's parts hold no grams and are left out)."""
    serials: dict[int, list[str]] = defaultdict(list)
    for part, range_start in session.execute(
        sa.select(CreditAllocationPart, CreditSerialRange.serial_start)
        .join(CreditSerialRange, CreditSerialRange.id == CreditAllocationPart.range_id)
        .where(
            CreditAllocationPart.range_id.in_(range_ids),
            CreditAllocationPart.reversal_entry_id.is_(None),
        )
        .order_by(CreditAllocationPart.range_id, CreditAllocationPart.start_g)
    ):
        exact = part_of(part.retirement_id, part.range_id, range_start, part.start_g, part.end_g)
        serials[part.range_id].append(serials_notation(part.allocation_id, exact))
    return {range_id: " ".join(notations) for range_id, notations in serials.items()}


def export_rows(session: Session) -> Iterator[dict[str, Any]]:
    """Every serial range with its batch, project, retirement, grams allocated and the exact
    serials of each allocation (``serials_notation``, space-separated), in serial order, fetched
    a chunk at a time."""
    allocated = (
        sa.select(
            CreditAllocationPart.range_id.label("range_id"),
            sa.func.sum(CreditAllocationPart.quantity_g).label("grams"),
        )
        .where(CreditAllocationPart.reversal_entry_id.is_(None))
        .group_by(CreditAllocationPart.range_id)
        .subquery()
    )
    statement = (
        sa.select(
            CreditSerialRange.id,
            CreditRegistry.code,
            CreditProject.external_id,
            CreditProject.name,
            CreditProject.methodology,
            CreditProject.region_code,
            CreditBatch.id,
            CreditBatch.vintage,
            CreditSerialRange.serial_start,
            CreditSerialRange.serial_end,
            _RANGE_TONNES,
            CreditSerialRange.status,
            CreditRetirement.id,
            CreditRetirement.registry_reference,
            CreditRetirement.beneficiary,
            CreditRetirement.purpose,
            CreditRetirement.retired_on,
            sa.func.coalesce(allocated.c.grams, 0),
        )
        .join(CreditBatch, CreditBatch.id == CreditSerialRange.batch_id)
        .join(CreditProject, CreditProject.id == CreditBatch.project_id)
        .join(CreditRegistry, CreditRegistry.id == CreditBatch.registry_id)
        .outerjoin(CreditRetirement, CreditRetirement.id == CreditSerialRange.retirement_id)
        .outerjoin(allocated, allocated.c.range_id == CreditSerialRange.id)
        .order_by(CreditRegistry.code, CreditSerialRange.serial_start)
    )
    offset = 0
    while True:
        rows = session.execute(statement.offset(offset).limit(EXPORT_CHUNK_ROWS)).all()
        serials = _export_serials(session, [row[0] for row in rows])
        for row in rows:
            values = dict(zip(EXPORT_COLUMNS, (*row[1:], serials.get(row[0], "")), strict=True))
            if values["retired_on"] is not None:
                values["retired_on"] = values["retired_on"].isoformat()
            values["allocated_g"] = int(values["allocated_g"])
            yield values
        if len(rows) < EXPORT_CHUNK_ROWS:
            return
        offset += EXPORT_CHUNK_ROWS


def part_serials(part: Any) -> dict[str, int]:
    """The exact serials an allocation part took, as pages, JSON and the API show them: the
    first and last serial, the grams of each (whole serials between), and ``grams`` in all."""
    return {
        "serial_start": part.serial_start,
        "serial_end": part.serial_end,
        "first_serial_g": part.first_serial_g,
        "last_serial_g": part.last_serial_g,
        "from_g": part.from_g,
        "to_g": part.to_g,
        "grams": part.quantity_g,
    }


def backing_retirements(session: Session, parts: Sequence[Any]) -> list[dict[str, Any]]:
    """What an allocation's parts draw on, by retirement: the registry reference, the serial
    ranges and grams, and each batch's project, methodology, vintage and farms."""
    retirements = []
    for retirement_id in dict.fromkeys(part.retirement_id for part in parts):
        retirement = session.get(CreditRetirement, retirement_id)
        assert retirement is not None, "an allocation part names a stored retirement"
        ranges = [part for part in parts if part.retirement_id == retirement_id]
        batch_rows = session.execute(
            sa.select(CreditBatch, CreditProject)
            .join(CreditProject, CreditProject.id == CreditBatch.project_id)
            .where(
                CreditBatch.id.in_(
                    sa.select(CreditSerialRange.batch_id).where(
                        CreditSerialRange.id.in_([part.range_id for part in ranges])
                    )
                )
            )
            .order_by(CreditBatch.id)
        ).all()
        projects = {}
        for batch, project in batch_rows:
            farms = session.execute(
                sa.select(CreditFarm.name, CreditBatchShare.share_ppm)
                .join(CreditFarm, CreditFarm.id == CreditBatchShare.farm_id)
                .where(CreditBatchShare.batch_id == batch.id)
                .order_by(CreditFarm.code)
            ).all()
            projects[batch.id] = {
                "project": project.name,
                "project_id": project.external_id,
                "methodology": project.methodology,
                "region_code": project.region_code,
                "vintage": batch.vintage,
                "farms": [{"name": name, "share_ppm": ppm} for name, ppm in farms],
            }
        retirements.append(
            {
                "registry_reference": retirement.registry_reference,
                "retired_on": retirement.retired_on,
                "beneficiary": retirement.beneficiary,
                "ranges": [part_serials(part) for part in ranges],
                "batches": list(projects.values()),
            }
        )
    return retirements
