"""Label purchases earn the enterprise points: when a label lot is paid, its enterprise earns by
the ``label_purchase`` rule (typically ``per_fen``) on the amount paid, once per lot. A job pays
them (``tanhui points distribute``), so the payment path stays as it is. Functions take a session
and never commit.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.models import LabelLot, Product
from points.accounts import account_open
from points.earning import earn
from points.errors import ErrorCode, PointsError
from points.models import PurchaseReward
from points.rules import points_for, rule_current

LOTS_PER_RUN_MAX = 500


def reward(session: Session, *, lot: LabelLot, now: datetime) -> int:
    """Credit one paid lot's enterprise; returns the points (0 when done before)."""
    if session.get(PurchaseReward, lot.id) is not None:
        return 0
    rule = rule_current(session, "label_purchase", now)
    if rule is None:
        raise PointsError(code=ErrorCode.POINTS_RULE_MISSING)
    organisation_id = session.scalar(
        sa.select(Product.organisation_id).where(Product.id == lot.product_id)
    )
    account = account_open(session, "organisation", organisation_id)
    earning = earn(
        session,
        account=account,
        rule=rule,
        points=points_for(rule, fen=lot.amount_fen),
        key=f"label_purchase:{lot.id}",
        now=now,
        metadata={"lot_id": lot.id, "amount_fen": lot.amount_fen},
    )
    session.add(
        PurchaseReward(
            lot_id=lot.id,
            organisation_id=organisation_id,
            rule_id=rule.id,
            points=earning.points,
            created_at=now,
        )
    )
    session.flush()
    return earning.points


def reward_pending(session: Session, *, now: datetime, limit: int = LOTS_PER_RUN_MAX) -> int:
    """Reward every paid lot not yet rewarded (none while no rule is in force); returns how many."""
    if rule_current(session, "label_purchase", now) is None:
        return 0
    lots = session.scalars(
        sa.select(LabelLot)
        .outerjoin(PurchaseReward, PurchaseReward.lot_id == LabelLot.id)
        .where(LabelLot.paid_at.is_not(None), PurchaseReward.lot_id.is_(None))
        .order_by(LabelLot.id)
        .limit(limit)
    ).all()
    for lot in lots:
        reward(session, lot=lot, now=now)
    return len(lots)
