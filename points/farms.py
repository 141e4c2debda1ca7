"""Farm benefit-sharing: when a label lot's allocation draws on a batch, that batch's farms earn
points pro rata to their shares.

Rounding, documented and exact: per batch drawn on, the points are ``floor(grams drawn / 1000 ×
points_per_kg)`` (the rule's rate); those points are split among the batch's farms by the largest
remainder method: each farm gets ``floor(points × share)``, and the points left over go one each to
the farms with the largest fractional parts (ties: the lower farm id). The farms' points add up to
the batch's points exactly, so no point is lost to the split. A farm not yet linked to a registered
farm organisation earns into ``platform:points:farms_unlinked`` until it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger import entries as ledger
from ledger.credits.models import (
    SHARE_PPM_TOTAL,
    CreditAllocation,
    CreditAllocationPart,
    CreditBatchShare,
    CreditFarm,
    CreditSerialRange,
)
from points import services as points
from points.models import FarmDistribution
from service.gcpause import collector_paused

UNLINKED_ACCOUNT = "platform:points:farms_unlinked"
ALLOCATIONS_PER_RUN_MAX = 500


def split(total: int, shares_ppm: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Split ``total`` points among (farm id, share in ppm) by the largest remainder method.

    >>> split(10, [(1, 333_334), (2, 333_333), (3, 333_333)])
    {1: 4, 2: 3, 3: 3}
    """
    if sum(ppm for _, ppm in shares_ppm) != SHARE_PPM_TOTAL:
        raise ValueError("shares must add up to one million ppm")
    base = {farm: total * ppm // SHARE_PPM_TOTAL for farm, ppm in shares_ppm}
    remainders = sorted(
        ((total * ppm % SHARE_PPM_TOTAL, -farm) for farm, ppm in shares_ppm), reverse=True
    )
    for _, negative_farm in remainders[: total - sum(base.values())]:
        base[-negative_farm] += 1
    return base


@collector_paused()
def distribute(session: Session, *, allocation_id: int, now: datetime) -> int:
    """Pay the farm shares of one label-lot allocation; returns the points paid. Once only.

    Python's cycle collector is paused meanwhile (``service.gcpause``): a distribution to 100,000
    farms makes millions of short-lived objects, and reference counting frees them."""
    if session.get(FarmDistribution, allocation_id) is not None:
        return 0
    rule = points.rule_current(session, "farm_share", now)
    if rule is None:
        raise points.PointsError(code="points_rule_missing")
    drawn = session.execute(
        sa.select(CreditSerialRange.batch_id, sa.func.sum(CreditAllocationPart.quantity_g))
        .join(CreditSerialRange, CreditSerialRange.id == CreditAllocationPart.range_id)
        .where(CreditAllocationPart.allocation_id == allocation_id)
        .group_by(CreditSerialRange.batch_id)
        .order_by(CreditSerialRange.batch_id)
    ).all()
    ledger.account_open(
        session, code=UNLINKED_ACCOUNT, asset="POINT", owner_type="platform", uses_lots=True
    )
    ledger.account_open(
        session,
        code=points.ISSUER_ACCOUNT,
        asset="POINT",
        owner_type="platform",
        allow_negative=True,
    )
    awards: list[points.Award] = []
    organisations: set[int] = set()
    for batch_id, grams in drawn:
        batch_points = points.points_for(rule, kg_co2e=Decimal(int(grams)) / 1000)
        shares = session.execute(
            sa.select(
                CreditBatchShare.farm_id, CreditBatchShare.share_ppm, CreditFarm.organisation_id
            )
            .join(CreditFarm, CreditFarm.id == CreditBatchShare.farm_id)
            .where(CreditBatchShare.batch_id == batch_id)
            .order_by(CreditBatchShare.farm_id)
        ).all()
        owners = {farm: organisation for farm, _, organisation in shares}
        for farm, amount in split(batch_points, [(farm, ppm) for farm, ppm, _ in shares]).items():
            if amount == 0:
                continue
            organisation = owners[farm]
            if organisation is not None:
                organisations.add(organisation)
            awards.append(
                points.Award(
                    account=points.account_code("organisation", organisation)
                    if organisation is not None
                    else UNLINKED_ACCOUNT,
                    points=amount,
                    key=f"farm_share:{allocation_id}:{batch_id}:{farm}",
                    metadata={
                        "allocation_id": allocation_id,
                        "batch_id": batch_id,
                        "farm_id": farm,
                    },  # fmt: skip
                )
            )
    ledger.accounts_open_many(
        session,
        owners={points.account_code("organisation", o): o for o in organisations},
        asset="POINT",
        owner_type="organisation",
        uses_lots=True,
    )
    earnings = points.earn_many(session, rule=rule, awards=awards, now=now)
    paid = sum(earning.points for earning in earnings)
    session.add(FarmDistribution(allocation_id=allocation_id, rule_id=rule.id, points=paid,
                                 created_at=now))  # fmt: skip
    session.flush()
    return paid


def distribute_pending(
    session: Session, *, now: datetime, limit: int = ALLOCATIONS_PER_RUN_MAX
) -> int:
    """Distribute every label-lot allocation not yet distributed; returns how many."""
    pending = session.scalars(
        sa.select(CreditAllocation.id)
        .outerjoin(FarmDistribution, FarmDistribution.allocation_id == CreditAllocation.id)
        .where(
            CreditAllocation.target_type == "label_lot", FarmDistribution.allocation_id.is_(None)
        )
        .order_by(CreditAllocation.id)
        .limit(limit)
    ).all()
    for allocation_id in pending:
        distribute(session, allocation_id=allocation_id, now=now)
    return len(pending)
