"""Farm practice records: a farm declares a low-carbon practice for a season, sees the reduction
the rice formulas give (information only, never a carbon claim), and earns points by the
``farm_practice`` rule once an operator has verified the record. Functions take a session and
never commit.

One record per farm, plot, practice and season: the same practice on the same plot is not
rewarded twice (a reduction already counted is not counted again).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labels.formulas import InputInvalid
from points.accounts import account_open
from points.earning import earn
from points.errors import ErrorCode, PointsError
from points.formulas import practice_reduction
from points.models import PracticeRecord
from points.rows import locked
from points.rules import points_for, rule_current
from service.base.exceptions import FieldMessage, Forbidden, NotFound, ValidationFailed
from service.base.parties.models import Organisation
from service.base.parties.services import Principal

FARM_KINDS = ("farm", "cooperative")
SEASON_YEAR_MIN = 2015
DECISIONS = ("verified", "rejected")


def can_submit_for(principal: Principal, organisation_id: int) -> bool:
    return organisation_id in principal.organisation_ids("farm_staff")


def practice_submit(
    session: Session,
    *,
    principal: Principal,
    organisation_id: int,
    values: dict[str, Any],
    now: datetime,
) -> PracticeRecord:
    """Record a practice of a farm the principal works for, with its computed reduction."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or not (
        principal.is_platform_staff or organisation_id in principal.organisation_ids()
    ):
        raise NotFound()
    if not can_submit_for(principal, organisation_id):
        raise Forbidden()
    principal.organisation_write_check(organisation_id)
    if organisation.kind not in FARM_KINDS or organisation.status != "approved":
        raise ValidationFailed.field("organisation_id", "Must be an approved farm or cooperative.")
    season_year = values["season_year"]
    if not SEASON_YEAR_MIN <= season_year <= now.year:
        raise ValidationFailed.field(
            "season_year",
            FieldMessage(
                "Must be between {season_year_min} and {year}.",
                season_year_min=SEASON_YEAR_MIN,
                year=now.year,
            ),
        )
    try:
        reduction = practice_reduction(values["practice"], values["area_mu"], values["inputs"])
    except InputInvalid as error:
        raise ValidationFailed.field(error.field, error.message) from None
    record = PracticeRecord(
        organisation_id=organisation_id,
        practice=values["practice"],
        season_year=season_year,
        plot_ref=values["plot_ref"],
        area_mu=values["area_mu"],
        inputs=dict(values["inputs"]),
        reduction_kg_co2e=reduction.kg_co2e,
        basis=reduction.basis(),
        evidence=values.get("evidence", ""),
        status="submitted",
        points=0,
        submitted_by=principal.user_id,
        submitted_at=now,
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        raise PointsError(
            code=ErrorCode.PRACTICE_DUPLICATE,
            fields={
                "plot_ref": [
                    FieldMessage("This plot has a record of this practice for the season.")
                ]
            },
        ) from None
    return record


def practice_decide(
    session: Session, *, record_id: int, decision: str, note: str, user_id: int, now: datetime
) -> PracticeRecord:
    """An operator verifies (points by the rule in force) or rejects a submitted record. The same
    decision again changes nothing; the other one is refused."""
    if decision not in DECISIONS:
        raise ValidationFailed.field(
            "decision", FieldMessage("Must be one of: {choices}.", choices=", ".join(DECISIONS))
        )
    record = locked(session, PracticeRecord, record_id)
    if record.status == decision:
        return record
    if record.status != "submitted":
        raise PointsError(code=ErrorCode.PRACTICE_DECIDED, params={"status": record.status})
    if decision == "verified":
        rule = rule_current(session, "farm_practice", now)
        if rule is None:
            raise PointsError(code=ErrorCode.POINTS_RULE_MISSING)
        amount = points_for(
            rule, kg_co2e=max(record.reduction_kg_co2e, Decimal(0)), mu=record.area_mu
        )
        account = account_open(session, "organisation", record.organisation_id)
        earning = earn(
            session,
            account=account,
            rule=rule,
            points=amount,
            key=f"practice:{record.id}",
            now=now,
            metadata={"practice_record_id": record.id},
        )
        record.points, record.entry_id, record.rule_id = earning.points, earning.entry_id, rule.id
    record.status, record.decided_by, record.decided_at = decision, user_id, now
    record.decision_note = note
    session.flush()
    return record


def practices_visible(principal: Principal, status: str | None = None) -> sa.Select:
    """Operators and auditors see every record; farm staff see their farms'."""
    query = sa.select(PracticeRecord).order_by(PracticeRecord.id.desc())
    if not principal.has_any_role(("operator", "auditor")):
        query = query.where(
            PracticeRecord.organisation_id.in_(principal.organisation_ids("farm_staff"))
        )
    if status is not None:
        query = query.where(PracticeRecord.status == status)
    return query
