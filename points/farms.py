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

from sqlalchemy.orm import Session

from ledger import entries as ledger
from ledger import reads
from points.accounts import ASSET, ISSUER_ACCOUNT, account_code
from points.earning import Award, earn_many
from points.errors import ErrorCode, PointsError
from points.models import FarmDistribution, PointRule
from points.rules import points_for, rule_current

UNLINKED_ACCOUNT = "platform:points:farms_unlinked"
ALLOCATIONS_PER_RUN_MAX = 500
#: A farm's share of a batch is in parts per million: one million is the whole batch.
SHARE_PPM_TOTAL = 1_000_000


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


def _awards(
    session: Session, *, rule: PointRule, allocation_id: int
) -> tuple[list[Award], set[int]]:
    """Each farm's points from each batch the allocation drew on, and the farms' organisations."""
    awards: list[Award] = []
    organisations: set[int] = set()
    for batch_id, grams in reads.allocation_by_batch(session, allocation_id=allocation_id):
        batch_points = points_for(rule, kg_co2e=Decimal(grams) / 1000)
        shares = reads.batch_shares(session, batch_id=batch_id)
        owners = {share.farm_id: share.organisation_id for share in shares}
        split_shares = [(share.farm_id, share.share_ppm) for share in shares]
        for farm, amount in split(batch_points, split_shares).items():
            if amount == 0:
                continue
            organisation = owners[farm]
            if organisation is not None:
                organisations.add(organisation)
            awards.append(
                Award(
                    account=account_code("organisation", organisation)
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
    return awards, organisations


def undistributed_check(session: Session, *, allocation_id: int) -> None:
    """Refuse to let an allocation whose farm shares were paid be reversed and re-allocated: the
    replacement would be distributed again, paying farms twice for the same grams."""
    paid = session.get(FarmDistribution, allocation_id)
    if paid is not None:
        raise PointsError(
            code=ErrorCode.FARM_SHARES_PAID,
            params={"allocation_id": allocation_id, "points": paid.points},
        )


def distribute(session: Session, *, allocation_id: int, now: datetime) -> int:
    """Pay the farm shares of one label-lot allocation; returns the points paid. Once only.

    A distribution to 100,000 farms makes millions of short-lived objects: the process that runs
    one (``tanhui points distribute``, ``bench.points``) pauses Python's cycle collector around
    it (``service.gcpause``)."""
    if session.get(FarmDistribution, allocation_id) is not None:
        return 0
    rule = rule_current(session, "farm_share", now)
    if rule is None:
        raise PointsError(code=ErrorCode.POINTS_RULE_MISSING)
    ledger.account_open(
        session, code=UNLINKED_ACCOUNT, asset=ASSET, owner_type="platform", uses_lots=True
    )
    ledger.account_open(
        session, code=ISSUER_ACCOUNT, asset=ASSET, owner_type="platform", allow_negative=True
    )
    awards, organisations = _awards(session, rule=rule, allocation_id=allocation_id)
    ledger.accounts_open_many(
        session,
        owners={account_code("organisation", o): o for o in organisations},
        asset=ASSET,
        owner_type="organisation",
        uses_lots=True,
    )
    earnings = earn_many(session, rule=rule, awards=awards, now=now)
    paid = sum(earning.points for earning in earnings)
    session.add(FarmDistribution(allocation_id=allocation_id, rule_id=rule.id, points=paid,
                                 created_at=now))  # fmt: skip
    session.flush()
    return paid


def distribute_pending(
    session: Session, *, now: datetime, limit: int = ALLOCATIONS_PER_RUN_MAX
) -> int:
    """Distribute every label-lot allocation not yet distributed; returns how many."""
    pending = reads.allocations_pending(
        session, target_type="label_lot", done=FarmDistribution.allocation_id, limit=limit
    )
    for allocation_id in pending:
        distribute(session, allocation_id=allocation_id, now=now)
    return len(pending)
