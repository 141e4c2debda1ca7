"""Sink credits: registries, projects and their farms, batches, serial ranges, retirements and
allocations.

A batch is a contiguous range of registry serials, one per tonne. Its grams sit in the ledger as
a lot of the inventory account; a retirement moves whole tonnes of it (the lowest serials still
available) into lots of the retired pool, one lot per retired serial range; an allocation moves
grams of those lots to a target and records which ranges it drew on. The serial ranges of a
batch always tile it exactly: available ranges shrink as tonnes retire, retired ranges never
change.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ledger.models import BIGINT
from service.base.orm import Base, utcnow

#: Farm shares are kept in parts per million of a batch; they sum to exactly this.
SHARE_PPM_TOTAL = 1_000_000
RANGE_STATUSES = ("available", "retired")
ALLOCATION_TARGET_TYPES = ("label_lot", "personal_offset")
#: What a finding of migration 0017 says: the retirement names another beneficiary; the
#: retirement's beneficiary matched no organisation; the allocation's claimant is unknown.
FINDING_PROBLEMS = ("other_beneficiary", "beneficiary_unknown", "claimant_unknown")
FINDING_STATUSES = ("open", "resolved")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class CreditRegistry(Base):
    __tablename__ = "credit_registries"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(128))


class CreditImport(Base):
    """One accepted import file; the same bytes again answer this record."""

    __tablename__ = "credit_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    filename: Mapped[str] = mapped_column(sa.String(255), default="")
    format: Mapped[str] = mapped_column(sa.String(8))
    batches_created: Mapped[int]
    batches_unchanged: Mapped[int]
    imported_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.CheckConstraint(_in("format", ("csv", "json")), name="format_known"),)


class CreditProject(Base):
    __tablename__ = "credit_projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_registries.id"))
    external_id: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    methodology: Mapped[str] = mapped_column(sa.String(200))
    region_code: Mapped[str] = mapped_column(sa.String(6))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("registry_id", "external_id"),)


class CreditFarm(Base):
    """A farm taking part in a project; linked to a registered farm organisation when known."""

    __tablename__ = "credit_farms"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_projects.id"))
    code: Mapped[str] = mapped_column(sa.String(64))
    name: Mapped[str] = mapped_column(sa.String(200))
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))

    __table_args__ = (sa.UniqueConstraint("project_id", "code"),)


class CreditBatch(Base):
    __tablename__ = "credit_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_registries.id"))
    project_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_projects.id"), index=True)
    import_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_imports.id"))
    vintage: Mapped[int]
    serial_start: Mapped[int] = mapped_column(sa.BigInteger)
    serial_end: Mapped[int] = mapped_column(sa.BigInteger)
    quantity_t: Mapped[int] = mapped_column(sa.BigInteger)
    #: The inventory lot that holds this batch's grams.
    lot_id: Mapped[int] = mapped_column(BIGINT, sa.ForeignKey("ledger_lots.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("registry_id", "serial_start"),
        sa.CheckConstraint("serial_start >= 0", name="serial_start_non_negative"),
        sa.CheckConstraint("quantity_t > 0", name="quantity_positive"),
        sa.CheckConstraint(
            "quantity_t = serial_end - serial_start + 1", name="one_serial_per_tonne"
        ),
    )


class CreditBatchShare(Base):
    __tablename__ = "credit_batch_shares"

    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_batches.id"), primary_key=True)
    farm_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_farms.id"), primary_key=True)
    share_ppm: Mapped[int]

    __table_args__ = (
        sa.CheckConstraint(f"share_ppm > 0 AND share_ppm <= {SHARE_PPM_TOTAL}", name="share_ppm"),
    )


class CreditRetirement(Base):
    __tablename__ = "credit_retirements"

    id: Mapped[int] = mapped_column(primary_key=True)
    registry_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_registries.id"))
    registry_reference: Mapped[str] = mapped_column(sa.String(128))
    #: The beneficiary's name as the registry wrote it, and the party it names: the only party
    #: whose claims may draw on this retirement. Null only on retirements recorded before 0017
    #: whose name matched no organisation (their allocations are findings).
    beneficiary: Mapped[str] = mapped_column(sa.String(200))
    beneficiary_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id"), index=True
    )
    purpose: Mapped[str] = mapped_column(sa.String(500))
    retired_on: Mapped[date]
    quantity_t: Mapped[int] = mapped_column(sa.BigInteger)
    entry_id: Mapped[int] = mapped_column(BIGINT, sa.ForeignKey("ledger_entries.id"))
    recorded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("registry_id", "registry_reference"),
        sa.UniqueConstraint(
            "id", "beneficiary_organisation_id", name="uq_credit_retirements_id_beneficiary"
        ),
        sa.CheckConstraint("quantity_t > 0", name="quantity_positive"),
    )


class CreditSerialRange(Base):
    """Part of a batch's serials: still available, or retired (then with its retired-pool lot)."""

    __tablename__ = "credit_serial_ranges"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_batches.id"), index=True)
    serial_start: Mapped[int] = mapped_column(sa.BigInteger)
    serial_end: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16))
    retirement_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("credit_retirements.id"), index=True
    )
    lot_id: Mapped[int | None] = mapped_column(BIGINT, sa.ForeignKey("ledger_lots.id"))

    __table_args__ = (
        sa.CheckConstraint("serial_end >= serial_start", name="not_empty"),
        sa.CheckConstraint(_in("status", RANGE_STATUSES), name="status_known"),
        sa.CheckConstraint(
            "(status = 'retired') = (retirement_id IS NOT NULL AND lot_id IS NOT NULL)",
            name="retired_has_retirement_and_lot",
        ),
    )

    @property
    def quantity_t(self) -> int:
        return self.serial_end - self.serial_start + 1


class CreditAllocation(Base):
    __tablename__ = "credit_allocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(128), unique=True)
    target_type: Mapped[str] = mapped_column(sa.String(32))
    target_id: Mapped[str] = mapped_column(sa.String(64))
    #: The party making the claim: a label lot's enterprise, or the personal-offset programme.
    #: Null only on allocations made before 0017 whose claimant could not be told.
    claimant_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id"), index=True
    )
    quantity_g: Mapped[int] = mapped_column(sa.BigInteger)
    entry_id: Mapped[int] = mapped_column(BIGINT, sa.ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint(
            "id", "claimant_organisation_id", name="uq_credit_allocations_id_claimant"
        ),
        sa.CheckConstraint("quantity_g > 0", name="quantity_positive"),
        sa.CheckConstraint(_in("target_type", ALLOCATION_TARGET_TYPES), name="target_type_known"),
        sa.Index("ix_credit_allocations_target", "target_type", "target_id"),
    )


class CreditAllocationPart(Base):
    """Grams of one retired serial range in one allocation: the provenance of a claim.

    ``[start_g, end_g)`` are offsets into the range's gram line (serial ``serial_start + k``
    covers ``[k * 1,000,000, (k + 1) * 1,000,000)``), so the part names exactly the serials it
    took (``ledger.credits.serials``). On PostgreSQL an EXCLUDE constraint (migration 0018,
    btree_gist) refuses two parts of one range that share a gram; ``ledger verify`` checks it on
    every database.
    """

    __tablename__ = "credit_allocation_parts"

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_allocations.id"), index=True)
    range_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_serial_ranges.id"), index=True)
    retirement_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_retirements.id"), index=True)
    #: The allocation's claimant, repeated so the database can hold it to the retirement's
    #: beneficiary (two composite foreign keys). Null only on parts made before 0017 that broke
    #: the claimant rule; each of those has a finding.
    claimant_organisation_id: Mapped[int | None]
    quantity_g: Mapped[int] = mapped_column(sa.BigInteger)
    start_g: Mapped[int] = mapped_column(sa.BigInteger)
    end_g: Mapped[int] = mapped_column(sa.BigInteger)
    #: The ledger entry that reversed this part's allocation (an operator resolving a finding):
    #: the one change a part may take, once (migration 0022's trigger). A reversed part stays as
    #: history and holds no grams: the EXCLUDE constraint and ``ledger verify`` skip it.
    reversal_entry_id: Mapped[int | None] = mapped_column(sa.BigInteger)

    __table_args__ = (
        sa.CheckConstraint("quantity_g > 0", name="quantity_positive"),
        sa.CheckConstraint("start_g >= 0 AND start_g < end_g", name="offsets_ordered"),
        sa.CheckConstraint("quantity_g = end_g - start_g", name="quantity_is_offsets"),
        sa.ForeignKeyConstraint(
            ["retirement_id", "claimant_organisation_id"],
            ["credit_retirements.id", "credit_retirements.beneficiary_organisation_id"],
            name="fk_credit_allocation_parts_claimant_is_beneficiary",
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id", "claimant_organisation_id"],
            ["credit_allocations.id", "credit_allocations.claimant_organisation_id"],
            name="fk_credit_allocation_parts_claimant_of_allocation",
        ),
    )


class CreditAllocationFinding(Base):
    """An allocation made before the claimant rule that breaks it, recorded by migration 0017
    rather than rewritten: history stays as it was until an operator reverses and re-allocates.
    ``ledger verify`` reports a recorded finding and fails on an unrecorded violation."""

    __tablename__ = "credit_allocation_findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_allocations.id"), index=True)
    retirement_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_retirements.id"))
    claimant_organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    beneficiary_organisation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("organisations.id")
    )
    #: What is wrong, in words an operator reads (English; the console translates the kind).
    problem: Mapped[str] = mapped_column(sa.String(32))
    quantity_g: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Who resolved it and when, and the allocation that replaced the reversed one.
    resolved_by: Mapped[int | None]
    resolved_at: Mapped[datetime | None]
    replacement_allocation_id: Mapped[int | None]

    __table_args__ = (
        sa.UniqueConstraint("allocation_id", "retirement_id"),
        sa.CheckConstraint(_in("problem", FINDING_PROBLEMS), name="problem_known"),
        sa.CheckConstraint(_in("status", FINDING_STATUSES), name="status_known"),
    )
