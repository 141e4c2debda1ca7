"""Point rules: a versioned formula per event type, with caps and a validity. Publishing a rule
adds a version; the old ones stay as they were, so every earning names the version it used."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from points.models import EVENT_TYPES, PointRule
from service.base.exceptions import FieldMessage, ValidationFailed

#: The field each formula kind needs.
FORMULA_FIELDS = {
    "fixed": "points",
    "per_kg_co2e": "points_per_kg",
    "per_fen": "points_per_100_fen",
    "per_mu": "points_per_mu",
}


def rule_publish(
    session: Session, *, event_type: str, values: dict[str, Any], user_id: int | None, now: datetime
) -> PointRule:
    """Publish a new version of an event type's rule (the old versions stay as they were)."""
    if event_type not in EVENT_TYPES:
        raise ValidationFailed.field(
            "event_type", FieldMessage("Must be one of: {choices}.", choices=", ".join(EVENT_TYPES))
        )
    formula = values["formula"]
    needed = FORMULA_FIELDS[formula["kind"]]
    if formula.get(needed) is None:
        raise ValidationFailed.field(f"formula.{needed}", "Missing data for required field.")
    latest = session.scalar(
        sa.select(sa.func.max(PointRule.version)).where(PointRule.event_type == event_type)
    )
    rule = PointRule(
        event_type=event_type,
        version=(latest or 0) + 1,
        formula={"kind": formula["kind"], needed: formula[needed]},
        cap_per_day=values.get("cap_per_day"),
        cap_per_month=values.get("cap_per_month"),
        validity_days=values["validity_days"],
        valid_from=values.get("valid_from") or now,
        valid_until=values.get("valid_until"),
        created_by=user_id,
        created_at=now,
    )
    session.add(rule)
    session.flush()
    return rule


def rule_current(session: Session, event_type: str, now: datetime) -> PointRule | None:
    """The newest version in force at ``now``."""
    return session.scalars(
        sa.select(PointRule)
        .where(
            PointRule.event_type == event_type,
            PointRule.valid_from <= now,
            sa.or_(PointRule.valid_until.is_(None), PointRule.valid_until > now),
        )
        .order_by(PointRule.version.desc())
        .limit(1)
    ).first()


def points_for(
    rule: PointRule, *, kg_co2e: Decimal = Decimal(0), fen: int = 0, mu: Decimal = Decimal(0)
) -> int:
    """What the rule's formula gives, rounded down to whole points."""
    formula = rule.formula
    if formula["kind"] == "fixed":
        return int(formula["points"])
    if formula["kind"] == "per_kg_co2e":
        value = kg_co2e * Decimal(str(formula["points_per_kg"]))
    elif formula["kind"] == "per_mu":
        value = mu * Decimal(str(formula["points_per_mu"]))
    else:
        value = Decimal(fen) * Decimal(str(formula["points_per_100_fen"])) / 100
    return int(value.to_integral_value(rounding=ROUND_FLOOR))
