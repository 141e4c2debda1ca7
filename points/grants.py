"""An operator's grant of points to a consumer or an organisation, under the ``operator_grant``
rule (its caps and validity apply). Functions take a session and never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from ledger import reads
from points.accounts import account_open
from points.earning import Earning, earn
from points.errors import ErrorCode, IdempotencyConflict, PointsError
from points.idempotency import request_same_check
from points.models import PointRule
from points.rules import points_for, rule_current
from service.base.exceptions import ValidationFailed
from service.base.parties.models import Organisation, User

GRANT_POINTS_MAX = 1_000_000


@dataclass(frozen=True)
class GrantChecked:
    """A grant that may go ahead: the rule, the party's open account, the entry's key, and the
    entry already posted under that key (a retry), if any."""

    rule: PointRule
    account: str
    entry_key: str
    earlier: reads.StoredEntry | None


def grant_check(
    session: Session,
    *,
    owner_type: str,
    owner_id: int,
    reason: str,
    key: str,
    request_sha256: str,
    now: datetime,
) -> GrantChecked:
    """The rule in force and the party exist; a key used before is used for this grant (the
    whole request: ``points.idempotency``)."""
    entry_key = f"grant:{key}"
    earlier = reads.entry_by_key(session, entry_key)
    if earlier is not None:  # the key first: used for another request, it answers nothing else
        metadata = earlier.request["metadata"]
        if (metadata.get("owner"), metadata.get("reason")) != (f"{owner_type}:{owner_id}", reason):
            raise IdempotencyConflict("Idempotency-Key", "Used for another grant.")
        request_same_check(metadata.get("request_sha256"), request_sha256)
    rule = rule_current(session, "operator_grant", now)
    if rule is None:
        raise PointsError(code=ErrorCode.POINTS_RULE_MISSING)
    exists = session.get(User if owner_type == "user" else Organisation, owner_id)
    if exists is None:
        raise ValidationFailed.field("owner_id", "No such party.")
    account = account_open(session, owner_type, owner_id)
    return GrantChecked(rule, account, entry_key, earlier)


def grant(
    session: Session,
    *,
    owner_type: str,
    owner_id: int,
    points: int | None,
    reason: str,
    key: str,
    request_sha256: str,
    user_id: int,
    now: datetime,
) -> Earning:
    """An operator's grant under the ``operator_grant`` rule: ``points``, or the rule's formula
    when not given; the rule's caps and validity apply. A repeated key grants nothing more."""
    checked = grant_check(
        session, owner_type=owner_type, owner_id=owner_id, reason=reason, key=key,
        request_sha256=request_sha256, now=now,
    )  # fmt: skip
    if checked.earlier is not None:
        earlier = checked.earlier
        granted = sum(p["amount"] for p in earlier.request["postings"] if p["amount"] > 0)
        return Earning(granted, earlier.request["metadata"].get("requested", granted), None,
                       earlier.id)  # fmt: skip
    requested = points if points is not None else points_for(checked.rule)
    return earn(
        session,
        account=checked.account,
        rule=checked.rule,
        points=requested,
        key=checked.entry_key,
        now=now,
        metadata={
            "owner": f"{owner_type}:{owner_id}",
            "reason": reason,
            "requested": requested,
            "granted_by": user_id,
            "request_sha256": request_sha256,
        },  # fmt: skip
    )
