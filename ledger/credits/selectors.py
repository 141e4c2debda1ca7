"""What other packages may read of the credit registry: projects, batches, retirements and
imports, and the figures the disclosure publishes. Read-only; functions never write.

The registry's tables are the ledger's own: the pages, the credit API, the demo seed and the
benchmarks read them through these functions and import no model module, so the ledger can
change how it stores a batch or a retirement without a change elsewhere.

Functions that build a list return its statement unexecuted, because the caller's pager runs it
twice (the page's rows and the total); the others take the ``session`` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.credits.accounts import retired_account
from ledger.credits.allocations import reversed_allocation
from ledger.credits.models import (
    CreditAllocation,
    CreditAllocationFinding,
    CreditBatch,
    CreditFarm,
    CreditImport,
    CreditProject,
    CreditRetirement,
)
from ledger.models import Account


def _month(moment: date | datetime) -> str:
    """``YYYY-MM``, the key every monthly report of the service uses."""
    return f"{moment.year:04d}-{moment.month:02d}"


# -- lists (statements for a pager) ---------------------------------------------------------------
def projects(*, region_code: str | None = None) -> sa.Select[CreditProject]:
    """Projects in id order, in one region when given."""
    statement = sa.select(CreditProject).order_by(CreditProject.id)
    if region_code is not None:
        statement = statement.where(CreditProject.region_code == region_code)
    return statement


def batches(*, project_id: int | None = None, vintage: int | None = None) -> sa.Select[CreditBatch]:
    """Batches in id order, of one project and one vintage when given."""
    statement = sa.select(CreditBatch).order_by(CreditBatch.id)
    if project_id is not None:
        statement = statement.where(CreditBatch.project_id == project_id)
    if vintage is not None:
        statement = statement.where(CreditBatch.vintage == vintage)
    return statement


def batches_with_projects() -> sa.Select[CreditBatch, CreditProject]:
    """Every batch with its project as (batch, project) rows, newest batch first."""
    return (
        sa.select(CreditBatch, CreditProject)
        .join(CreditProject, CreditProject.id == CreditBatch.project_id)
        .order_by(CreditBatch.id.desc())
    )


def retirements() -> sa.Select[CreditRetirement]:
    """Every retirement, newest first."""
    return sa.select(CreditRetirement).order_by(CreditRetirement.id.desc())


# -- single records -------------------------------------------------------------------------------
def project(session: Session, *, project_id: int) -> CreditProject | None:
    """The project with this id, or ``None``."""
    return session.get(CreditProject, project_id)


def projects_all(session: Session) -> list[CreditProject]:
    """Every project, in id order (the registry holds a handful, so no pager)."""
    return list(session.scalars(projects()))


def retirement(session: Session, *, retirement_id: int) -> CreditRetirement | None:
    """The retirement with this id, or ``None``."""
    return session.get(CreditRetirement, retirement_id)


def batch_id_at(session: Session, *, serial_start: int) -> int:
    """The id of the batch whose serials start at ``serial_start`` (raises
    ``sqlalchemy.exc.NoResultFound`` or ``MultipleResultsFound`` unless exactly one does: a seed
    that names its batches by serial expects one)."""
    return session.scalars(
        sa.select(CreditBatch.id).where(CreditBatch.serial_start == serial_start)
    ).one()


def batch_ids_starting_above(session: Session, *, serial_start: int) -> list[int]:
    """Ids of the batches whose serials start above ``serial_start``, in id order (a range of
    serials a seed keeps apart from the registry's own)."""
    return list(
        session.scalars(
            sa.select(CreditBatch.id)
            .where(CreditBatch.serial_start > serial_start)
            .order_by(CreditBatch.id)
        )
    )


def farms_coded(session: Session, *, pattern: str) -> list[tuple[int, str]]:
    """(id, code) of the project farms whose code matches the SQL ``LIKE`` ``pattern``, in id
    order."""
    rows = session.execute(
        sa.select(CreditFarm.id, CreditFarm.code)
        .where(CreditFarm.code.like(pattern))
        .order_by(CreditFarm.id)
    )
    return [(farm_id, code) for farm_id, code in rows]


def imports_recent(session: Session, *, limit: int) -> list[CreditImport]:
    """The latest ``limit`` registry files imported, newest first."""
    return list(
        session.scalars(sa.select(CreditImport).order_by(CreditImport.id.desc()).limit(limit))
    )


# -- disclosure figures ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RegistryFigures:
    """The registry in numbers: tonnes issued (every batch) and retired, grams allocated, and
    how many projects and batches it holds."""

    issued_t: int
    retired_t: int
    allocated_g: int
    projects: int
    batches: int


def registry_figures(session: Session) -> RegistryFigures:
    """The registry's totals; zero for an empty registry."""
    issued_t = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(CreditBatch.quantity_t), 0)))
    retired_t = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(CreditRetirement.quantity_t), 0))
    )
    allocated_g = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(CreditAllocation.quantity_g), 0)).where(
            ~reversed_allocation(CreditAllocation.id)
        )
    )
    projects = session.scalar(sa.select(sa.func.count()).select_from(CreditProject))
    batches = session.scalar(sa.select(sa.func.count()).select_from(CreditBatch))
    return RegistryFigures(
        issued_t=int(issued_t or 0),
        retired_t=int(retired_t or 0),
        allocated_g=int(allocated_g or 0),
        projects=int(projects or 0),
        batches=int(batches or 0),
    )


@dataclass(frozen=True)
class CreditMonths:
    """Tonnes retired and grams allocated per month (``YYYY-MM``); a month with nothing of one
    kind is absent from its mapping rather than zero, so a reader can tell the two apart."""

    retired_t: dict[str, int] = field(default_factory=dict)
    allocated_g: dict[str, int] = field(default_factory=dict)


def credits_by_month(session: Session, *, zone: ZoneInfo) -> CreditMonths:
    """Tonnes retired by the month of the registry's retirement date (a calendar date, taken as
    it is), and grams allocated by the month the allocation was made in ``zone``."""
    months = CreditMonths()
    for retired_on, quantity_t in session.execute(
        sa.select(CreditRetirement.retired_on, CreditRetirement.quantity_t)
    ):
        month = _month(retired_on)
        months.retired_t[month] = months.retired_t.get(month, 0) + int(quantity_t)
    for created_at, quantity_g in session.execute(
        sa.select(CreditAllocation.created_at, CreditAllocation.quantity_g).where(
            ~reversed_allocation(CreditAllocation.id)
        )
    ):
        month = _month(created_at.astimezone(zone))
        months.allocated_g[month] = months.allocated_g.get(month, 0) + int(quantity_g)
    return months


# -- claimants ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClaimantCredits:
    """One claimant's retired pool: grams retired for it and not allocated, of which held for
    orders, and what is left to hold (``available_g``)."""

    unallocated_g: int
    held_g: int

    @property
    def available_g(self) -> int:
        return self.unallocated_g - self.held_g


def claimant_credits(session: Session, *, organisation_id: int) -> ClaimantCredits:
    """The claimant's retired pool (zero when nothing was ever retired for it)."""
    row = session.execute(
        sa.select(Account.balance, Account.reserved).where(
            Account.code == retired_account(organisation_id)
        )
    ).first()
    if row is None:
        return ClaimantCredits(0, 0)
    return ClaimantCredits(int(row.balance), int(row.reserved))


def findings_open(session: Session, *, limit: int) -> list[CreditAllocationFinding]:
    """Allocations recorded by migration 0017 as breaking the claimant rule, not yet resolved."""
    return list(
        session.scalars(
            sa.select(CreditAllocationFinding)
            .where(CreditAllocationFinding.status == "open")
            .order_by(CreditAllocationFinding.id)
            .limit(limit)
        )
    )
