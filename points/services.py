"""Points: rules, earning under caps, and once-only unit claims. Functions take a session and
never commit.

Points are ledger amounts of asset ``POINT``: each party has an account with FIFO lots (every
earning is a lot that expires after its rule's validity); they are issued from
``platform:points:issued``. Points are rewards, never carbon claims.

Caps are per party and per event type, over the calendar day and month in Asia/Shanghai; the
party's account row is locked while its earnings in the window are summed, so concurrent earnings
cannot together pass a cap. An earning beyond a cap is granted only up to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any, overload

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.codes import CodeInvalid, lot_key, serial_verify
from labels.lots import unit_revoked
from labels.models import Footprint, Label, LabelLot, Product, UnitRevocation
from ledger import entries as ledger
from ledger.models import Account, Entry, Lot, Posting
from points import postgresql as claim_statements
from points.models import EVENT_TYPES, PointRule, UnitClaim
from service.base.exceptions import NotFound, ServiceError, ValidationFailed
from service.base.parties.models import Organisation, User
from service.base.units import SHANGHAI

ISSUER_ACCOUNT = "platform:points:issued"
EXPIRING_WINDOW_DAYS = 30
HISTORY_ROWS_MAX = 50
GRANT_POINTS_MAX = 1_000_000
#: The field each formula kind needs.
FORMULA_FIELDS = {
    "fixed": "points",
    "per_kg_co2e": "points_per_kg",
    "per_fen": "points_per_100_fen",
    "per_mu": "points_per_mu",
}
ENTRY_KIND_PREFIX = "points_"


class PointsError(ServiceError):
    """A points write that cannot be done; nothing of it was written."""


def account_code(owner_type: str, owner_id: int) -> str:
    return f"{owner_type}:{owner_id}:points"


def account_open(session: Session, owner_type: str, owner_id: int) -> str:
    """Open the party's points account (and the issuer) unless open; returns its code."""
    code = account_code(owner_type, owner_id)
    ledger.accounts_ensure(
        session,
        [
            ledger.AccountSpec(ISSUER_ACCOUNT, "POINT", "platform", allow_negative=True),
            ledger.AccountSpec(code, "POINT", owner_type, owner_id, uses_lots=True),
        ],
    )
    return code


def locked(session: Session, model: type[Any], row_id: int) -> Any:
    """The row, locked for this transaction and read afresh; ``NotFound`` when there is none."""
    row = session.scalars(
        sa.select(model)
        .where(model.id == row_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None:
        raise NotFound()
    return row


def account_lock(session: Session, code: str) -> int:
    """Lock a party's points account row (its spending takes turns); returns its id."""
    return session.execute(
        sa.select(Account.id).where(Account.code == code).with_for_update()
    ).scalar_one()


# -- rules ----------------------------------------------------------------------------------------
def rule_publish(
    session: Session, *, event_type: str, values: dict[str, Any], user_id: int | None, now: datetime
) -> PointRule:
    """Publish a new version of an event type's rule (the old versions stay as they were)."""
    if event_type not in EVENT_TYPES:
        raise ValidationFailed.field("event_type", f"Must be one of: {', '.join(EVENT_TYPES)}.")
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


# -- earning --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Earning:
    points: int
    requested: int
    capped_by: str | None
    entry_id: int | None


def _window_start(now: datetime, unit: str) -> datetime:
    local = now.astimezone(SHANGHAI)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "month":
        start = start.replace(day=1)
    return start


@dataclass(frozen=True)
class Award:
    """One party's earning in a batch: ``points`` to ``account`` under the entry key ``key``."""

    account: str
    points: int
    key: str
    metadata: dict[str, Any] | None = None


#: Accounts whose window earnings one query sums (a bound on its parameters).
ACCOUNTS_PER_QUERY_MAX = 5_000


def _earned_in_windows(
    session: Session, account_ids: list[int], kind: str, starts: dict[str, datetime]
) -> dict[str, dict[int, int]]:
    """Points each account earned of ``kind`` since each window's start, all windows in one
    query per chunk of accounts."""
    earliest = min(starts.values())
    sums = [
        sa.func.sum(sa.case((Entry.created_at >= start, Posting.amount), else_=0))
        for start in starts.values()
    ]
    earned: dict[str, dict[int, int]] = {unit: {} for unit in starts}
    for first in range(0, len(account_ids), ACCOUNTS_PER_QUERY_MAX):
        chunk = account_ids[first : first + ACCOUNTS_PER_QUERY_MAX]
        for account_id, *totals in session.execute(
            sa.select(Posting.account_id, *sums)
            .join(Entry, Entry.id == Posting.entry_id)
            .where(
                ledger.among(session, Posting.account_id, chunk),
                Entry.kind == kind,
                Entry.created_at >= earliest,
                Posting.amount > 0,
            )
            .group_by(Posting.account_id)
        ):
            for unit, total in zip(starts, totals, strict=True):
                earned[unit][account_id] = int(total)
    return earned


def earn_many(
    session: Session, *, rule: PointRule, awards: Sequence[Award], now: datetime
) -> list[Earning]:
    """Credit each award under ``rule``, capped per party, as lots expiring after the rule's
    validity: the batch path (farm distributions) and, with one award, the single one.

    The parties' account rows are locked in id order first, so concurrent earnings of one party
    cannot together pass a cap; awards to one account in the batch count against its caps in
    order. Entries go to the ledger in batches (``ledger.entries_post_many``).
    """
    codes = sorted({award.account for award in awards})
    # The accounts' terms come with their ids, so posting to them looks nothing up again.
    columns = (Account.id, Account.code, Account.asset, Account.allow_negative, Account.uses_lots)
    rows: list[Any] = []
    if len(codes) <= ACCOUNTS_PER_QUERY_MAX or session.get_bind().dialect.name == "postgresql":
        # Resolve and lock in one statement (on PostgreSQL the codes are one array parameter).
        rows += session.execute(
            sa.select(*columns)
            .where(ledger.among(session, Account.code, codes))
            .order_by(Account.id)
            .with_for_update()
        )
    else:
        for start in range(0, len(codes), ACCOUNTS_PER_QUERY_MAX):
            chunk = codes[start : start + ACCOUNTS_PER_QUERY_MAX]
            rows += session.execute(
                sa.select(*columns).where(ledger.among(session, Account.code, chunk))
            )
        locked = sorted(row[0] for row in rows)
        for start in range(0, len(locked), ACCOUNTS_PER_QUERY_MAX):
            chunk = locked[start : start + ACCOUNTS_PER_QUERY_MAX]
            session.execute(
                sa.select(Account.id)
                .where(ledger.among(session, Account.id, chunk))
                .order_by(Account.id)
                .with_for_update()
            ).all()
    ledger.accounts_known(session, rows)
    ids = {row[1]: row[0] for row in rows}
    return earn_locked(session, rule=rule, awards=awards, ids=ids, now=now)


def earn_locked(
    session: Session,
    *,
    rule: PointRule,
    awards: Sequence[Award],
    ids: dict[str, int],
    now: datetime,
    earned: dict[str, dict[int, int]] | None = None,
) -> list[Earning]:
    """``earn_many`` once the accounts (``ids``, by code) are locked: the caps' room, the entries.
    ``earned`` gives what each account earned in each window when the caller has summed it."""
    kind = ENTRY_KIND_PREFIX + rule.event_type
    ordered = sorted(ids.values())
    caps = {unit: cap for unit, cap in (("day", rule.cap_per_day), ("month", rule.cap_per_month))
            if cap is not None}  # fmt: skip
    rooms: dict[str, dict[int, int]] = {}
    if caps:
        if earned is None:
            starts = {unit: _window_start(now, unit) for unit in caps}
            earned = _earned_in_windows(session, ordered, kind, starts)
        rooms = {unit: {account_id: max(cap - earned[unit].get(account_id, 0), 0)
                        for account_id in ordered}
                 for unit, cap in caps.items()}  # fmt: skip
    results: list[tuple[int, str | None]] = []
    granted_awards: list[tuple[Award, int]] = []
    for award in awards:
        account_id = ids[award.account]
        granted, capped_by = award.points, None
        for unit, room in rooms.items():
            if granted > room[account_id]:
                granted, capped_by = room[account_id], f"cap_per_{unit}"
        for room in rooms.values():
            room[account_id] -= granted
        results.append((granted, capped_by))
        if granted > 0:
            granted_awards.append((award, granted))
    requests = _EarningEntries(
        granted_awards, kind=kind, rule=rule, expires_at=now + timedelta(days=rule.validity_days)
    )
    if len(requests) == 1:  # a claim, a grant: the lean single statement
        posted = ledger.entries_post(session, requests[:], now=now)
    else:
        posted = ledger.entries_post_many(
            session, requests, now=now, account_codes=[ISSUER_ACCOUNT, *ids]
        )
    entry_ids = {result.key: result.entry_id for result in posted}
    return [
        Earning(granted, award.points, capped_by, entry_ids.get(award.key))
        for award, (granted, capped_by) in zip(awards, results, strict=True)
    ]


class _EarningEntries(Sequence[ledger.EntryRequest]):
    """The ledger entries of granted awards, each built when read: a distribution's batches are
    built by the ledger's helper thread while the database writes the batch before."""

    def __init__(
        self, granted: list[tuple[Award, int]], *, kind: str, rule: PointRule,
        expires_at: datetime,
    ) -> None:  # fmt: skip
        self._granted = granted
        self._kind = kind
        self._rule_facts = {"rule_id": rule.id, "rule_version": rule.version}
        self._provenance = {"rule_id": rule.id, "version": rule.version}
        self._expires_at = expires_at

    def __len__(self) -> int:
        return len(self._granted)

    @overload
    def __getitem__(self, index: int) -> ledger.EntryRequest: ...

    @overload
    def __getitem__(self, index: slice) -> list[ledger.EntryRequest]: ...

    def __getitem__(self, index: int | slice) -> ledger.EntryRequest | list[ledger.EntryRequest]:
        if isinstance(index, slice):
            return [self._entry(award, points) for award, points in self._granted[index]]
        return self._entry(*self._granted[index])

    def _entry(self, award: Award, points: int) -> ledger.EntryRequest:
        return ledger.EntryRequest(
            key=award.key,
            kind=self._kind,
            postings=[
                ledger.PostingRequest(ISSUER_ACCOUNT, -points),
                ledger.PostingRequest(
                    award.account,
                    points,
                    expires_at=self._expires_at,
                    provenance=self._provenance,
                ),
            ],
            metadata={**self._rule_facts, **(award.metadata or {})},
        )


def earn(
    session: Session,
    *,
    account: str,
    rule: PointRule,
    points: int,
    key: str,
    now: datetime,
    metadata: dict[str, Any] | None = None,
) -> Earning:
    """Credit ``points`` to one party under ``rule`` (capped); see ``earn_many``."""
    return earn_many(session, rule=rule, awards=[Award(account, points, key, metadata)], now=now)[0]


def grant(
    session: Session,
    *,
    owner_type: str,
    owner_id: int,
    points: int | None,
    reason: str,
    key: str,
    user_id: int,
    now: datetime,
) -> Earning:
    """An operator's grant under the ``operator_grant`` rule: ``points``, or the rule's formula
    when not given; the rule's caps and validity apply. A repeated key grants nothing more."""
    rule = rule_current(session, "operator_grant", now)
    if rule is None:
        raise PointsError(code="points_rule_missing")
    if owner_type == "user":
        exists = session.get(User, owner_id)
    else:
        exists = session.get(Organisation, owner_id)
    if exists is None:
        raise ValidationFailed.field("owner_id", "No such party.")
    account = account_open(session, owner_type, owner_id)
    entry_key = f"grant:{key}"
    earlier = session.scalars(sa.select(Entry).where(Entry.idempotency_key == entry_key)).first()
    if earlier is not None:
        metadata = earlier.request["metadata"]
        if (metadata.get("owner"), metadata.get("reason")) != (f"{owner_type}:{owner_id}", reason):
            raise PointsError(
                code="idempotency_conflict", fields={"Idempotency-Key": ["Used for another grant."]}
            )
        granted = sum(p["amount"] for p in earlier.request["postings"] if p["amount"] > 0)
        return Earning(granted, metadata.get("requested", granted), None, earlier.id)
    requested = points if points is not None else points_for(rule)
    return earn(
        session,
        account=account,
        rule=rule,
        points=requested,
        key=entry_key,
        now=now,
        metadata={
            "owner": f"{owner_type}:{owner_id}",
            "reason": reason,
            "requested": requested,
            "granted_by": user_id,
        },  # fmt: skip
    )


# -- claims ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    id: int
    lot_id: int
    unit_index: int
    user_id: int
    points: int
    entry_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    created: bool
    capped_by: str | None


_CLAIM_COLUMNS = (UnitClaim.id, UnitClaim.lot_id, UnitClaim.unit_index, UnitClaim.user_id,
                  UnitClaim.points, UnitClaim.entry_id, UnitClaim.created_at)  # fmt: skip


#: A claim's points and entry, once earned (built once: every claim runs it).
_CLAIM_SETTLE = (
    sa.update(UnitClaim.__table__)
    .where(UnitClaim.__table__.c.id == sa.bindparam("claim"))
    .values(points=sa.bindparam("claim_points"), entry_id=sa.bindparam("entry"))
)


def _claim_unknown(message: str) -> PointsError:
    return PointsError(code="claim_code_invalid", fields={"code": [message]})


def claim_unit(
    session: Session,
    *,
    user_id: int,
    gtin: str,
    lot_number: str,
    serial: str,
    key: str,
    master_keys: dict[str, bytes],
    now: datetime,
    region_code: str | None = None,
    portable: bool = False,
) -> ClaimResult:
    """Claim a scanned unit for the user: once per unit, ever; a retry with the same key returns
    the original claim.

    The hot path of the mini-program, so it is a few statements: the unit's lot, label and
    footprint in one query; the rule in force; the claim row, inserted unless the unit or the key
    is taken (the unique constraints decide between concurrent claimants); the earning; the
    claim's points. On PostgreSQL (unless ``portable``) the first three and the account's lock
    are one statement (``points.postgresql``).
    """
    one_statement = not portable and session.get_bind().dialect.name == "postgresql"
    if one_statement:
        taken = _claim_take_postgresql(
            session, user_id=user_id, gtin=gtin, lot_number=lot_number, serial=serial, key=key,
            master_keys=master_keys, now=now, region_code=region_code,
        )  # fmt: skip
    else:
        taken = _claim_take(
            session, user_id=user_id, gtin=gtin, lot_number=lot_number, serial=serial, key=key,
            master_keys=master_keys, now=now, region_code=region_code,
        )  # fmt: skip
    if taken.revoked or taken.label_status != "certified":
        if (replayed := _replay(session, key, taken.lot_id, taken.index, user_id)) is not None:
            return replayed
        raise PointsError(code="claim_code_revoked", params={"status": taken.label_status})
    rule = taken.rule
    if rule is None:
        if (replayed := _replay(session, key, taken.lot_id, taken.index, user_id)) is not None:
            return replayed
        raise PointsError(code="points_rule_missing")
    if taken.claim_id is None:  # the key or the unit is taken
        if (replayed := _replay(session, key, taken.lot_id, taken.index, user_id)) is not None:
            return replayed
        raise PointsError(code="unit_already_claimed")
    award = Award(
        account_code("user", user_id),
        points_for(rule, kg_co2e=taken.kg_per_unit),
        f"claim:{taken.claim_id}",
        {"lot_id": taken.lot_id, "unit_index": taken.index},
    )
    if taken.account_id is None:
        account_open(session, "user", user_id)
        [earning] = earn_many(session, rule=rule, awards=[award], now=now)
    else:
        [earning] = earn_locked(
            session, rule=rule, awards=[award], ids={award.account: taken.account_id}, now=now,
            earned=taken.earned,
        )  # fmt: skip
    if one_statement:
        claim_statements.claim_settle(
            session, claim_id=taken.claim_id, points=earning.points, entry_id=earning.entry_id
        )
    else:
        session.connection().execute(
            _CLAIM_SETTLE,
            {"claim": taken.claim_id, "claim_points": earning.points, "entry": earning.entry_id},
        )
    claim = Claim(
        taken.claim_id, taken.lot_id, taken.index, user_id, earning.points, earning.entry_id, now
    )
    return ClaimResult(claim, True, earning.capped_by)


@dataclass(frozen=True)
class _Taken:
    """A claim's unit and what became of its row: ``claim_id`` is ``None`` unless it went in;
    ``account_id`` is the claimant's points account when it exists and is locked, and ``earned``
    the points it earned in the rule's windows when already summed."""

    lot_id: int
    index: int
    label_status: str
    revoked: bool
    kg_per_unit: Decimal
    rule: PointRule | None
    claim_id: int | None
    account_id: int | None = None
    earned: dict[str, dict[int, int]] | None = None


def _genuine_index(
    master_keys: dict[str, bytes], key_id: str, *, gtin: str, lot_number: str, units: int,
    serial: str, lot_status: str,
) -> int:  # fmt: skip
    try:
        if lot_status != "issued":
            raise CodeInvalid("lot not issued")
        return serial_verify(
            lot_key(master_keys, key_id, gtin=gtin, lot=lot_number, units=units), serial
        )
    except CodeInvalid:
        raise _claim_unknown("Not a genuine code.") from None


def _claim_take(
    session: Session, *, user_id: int, gtin: str, lot_number: str, serial: str, key: str,
    master_keys: dict[str, bytes], now: datetime, region_code: str | None,
) -> _Taken:  # fmt: skip
    """The portable path: the lot, the rule, the claim row, the account opened and locked."""
    revocations = sa.exists().where(UnitRevocation.lot_id == LabelLot.id)
    found = session.execute(
        sa.select(LabelLot.id, LabelLot.status, LabelLot.key_id, LabelLot.units, Label.status,
                  Footprint.kg_per_unit, revocations)
        .join(Product, Product.id == LabelLot.product_id)
        .join(Label, Label.id == LabelLot.label_id)
        .join(Footprint, Footprint.id == Label.footprint_id)
        .where(Product.gtin == gtin, LabelLot.lot_number == lot_number)
    ).first()  # fmt: skip
    if found is None:
        raise _claim_unknown("Unknown code.")
    lot_id, lot_status, key_id, units, label_status, kg_per_unit, has_revocations = found
    index = _genuine_index(
        master_keys, key_id, gtin=gtin, lot_number=lot_number, units=units, serial=serial,
        lot_status=lot_status,
    )  # fmt: skip
    revoked = has_revocations and unit_revoked(session, lot_id, index)
    taken = _Taken(lot_id, index, label_status, revoked, kg_per_unit, None, None)
    if revoked or label_status != "certified":
        return taken
    rule = rule_current(session, "unit_claim", now)
    if rule is None:
        return taken
    claims = UnitClaim.__table__
    claim_id = session.execute(
        ledger.insert_for(session, claims)
        .values(lot_id=lot_id, unit_index=index, user_id=user_id, rule_id=rule.id, points=0,
                idempotency_key=key, region_code=region_code, created_at=now)
        .on_conflict_do_nothing()
        .returning(claims.c.id)
    ).scalar()  # fmt: skip
    return dataclasses.replace(taken, rule=rule, claim_id=claim_id)


def _claim_take_postgresql(
    session: Session, *, user_id: int, gtin: str, lot_number: str, serial: str, key: str,
    master_keys: dict[str, bytes], now: datetime, region_code: str | None,
) -> _Taken:  # fmt: skip
    """``points.postgresql.claim_take``, with the lot's facts remembered (read afresh once when
    the statement finds them stale), and the caps' sums when the claim went in."""
    account = account_code("user", user_id)
    day, month = _window_start(now, "day"), _window_start(now, "month")
    fresh = False
    while True:
        facts, remembered = claim_statements.lot_facts(session, gtin, lot_number, fresh=fresh)
        if facts is None:
            raise _claim_unknown("Unknown code.")
        try:
            index = serial_verify(
                lot_key(master_keys, facts.key_id, gtin=gtin, lot=lot_number, units=facts.units),
                serial,
            )
        except CodeInvalid:
            if not remembered:
                raise _claim_unknown("Not a genuine code.") from None
            fresh = True  # perhaps not this lot's facts any more: read them again
            continue
        found = claim_statements.claim_take(
            session, gtin=gtin, lot_number=lot_number, facts=facts, index=index, user_id=user_id,
            key=key, region_code=region_code, account=account, issuer=ISSUER_ACCOUNT,
            kind=ENTRY_KIND_PREFIX + "unit_claim", day=day, month=month, now=now,
        )  # fmt: skip
        if found.lot_id is not None:
            break
        if not remembered:
            raise _claim_unknown("Unknown code.")
        fresh = True
    if found.lot_status != "issued":
        raise _claim_unknown("Not a genuine code.")
    rule = None
    if found.rule is not None:
        rule_id, version, formula, cap_per_day, cap_per_month, validity_days = found.rule
        rule = PointRule(
            id=rule_id, event_type="unit_claim", version=version, formula=formula,
            cap_per_day=cap_per_day, cap_per_month=cap_per_month, validity_days=validity_days,
        )  # fmt: skip
    taken = _Taken(
        found.lot_id, index, found.label_status, found.revoked, found.kg_per_unit, rule,
        found.claim_id,
    )  # fmt: skip
    if found.claim_id is None or found.account is None or found.issuer is None:
        return taken  # no claim, or the accounts are yet to be opened (a first claim)
    if (tuple(found.account[2:]), tuple(found.issuer[2:])) != (
        ("POINT", False, True),
        ("POINT", True, False),
    ):
        return taken  # not points accounts: opening them refuses with the conflict
    ledger.accounts_known(session, [found.account, found.issuer])
    account_id = found.account[0]
    earned = None
    if rule is not None and (rule.cap_per_day is not None or rule.cap_per_month is not None):
        # The statement's own sums hold when no one changed the account between its snapshot
        # and its lock; otherwise they are summed again, after the lock.
        since_day, since_month = found.earned or claim_statements.earned_since(
            session, account_id=account_id, kind=ENTRY_KIND_PREFIX + rule.event_type,
            day=day, month=month,
        )  # fmt: skip
        earned = {"day": {account_id: since_day}, "month": {account_id: since_month}}
    return dataclasses.replace(taken, account_id=account_id, earned=earned)


def _replay(
    session: Session, key: str, lot_id: int, index: int, user_id: int
) -> ClaimResult | None:
    """The original answer when ``key`` was used before (a conflict when it was used for another
    claim); ``None`` when it was not."""
    row = session.execute(
        sa.select(*_CLAIM_COLUMNS).where(UnitClaim.idempotency_key == key)
    ).first()
    if row is None:
        return None
    existing = Claim(*row)
    if (existing.lot_id, existing.unit_index, existing.user_id) != (lot_id, index, user_id):
        raise PointsError(code="idempotency_conflict", fields={"code": ["Another claim."]})
    return ClaimResult(existing, False, None)


# -- what a party sees ----------------------------------------------------------------------------
def available_of(session: Session, account_id: int, now: datetime) -> int:
    """Spendable points: the balance less holds, counting lots past their expiry as gone (the
    expiry job may not have posted them yet). Read under the account's row lock to spend."""
    balance, reserved = session.execute(
        sa.select(Account.balance, Account.reserved).where(Account.id == account_id)
    ).one()
    lapsed = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Lot.remaining), 0)).where(
            Lot.account_id == account_id, Lot.remaining > 0, Lot.expires_at <= now
        )
    )
    return int(balance) - int(reserved) - int(lapsed)


def summary(session: Session, owner_type: str, owner_id: int, now: datetime) -> dict[str, Any]:
    """Balance, lifetime earned and spent, points expiring within 30 days, recent history."""
    code = account_code(owner_type, owner_id)
    account = session.scalars(sa.select(Account).where(Account.code == code)).first()
    if account is None:
        return {"balance": 0, "available": 0, "lifetime_earned": 0, "lifetime_spent": 0,
                "lifetime_expired": 0, "expiring_30d": 0, "history": []}  # fmt: skip
    postings = (
        sa.select(Posting.amount, Entry.kind)
        .join(Entry, Entry.id == Posting.entry_id)
        .where(Posting.account_id == account.id)
        .subquery()
    )
    earned, spent, expired = session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(sa.case((postings.c.amount > 0, postings.c.amount))), 0),
            sa.func.coalesce(
                sa.func.sum(
                    sa.case(
                        (
                            sa.and_(postings.c.amount < 0, postings.c.kind != "expiry"),
                            -postings.c.amount,
                        )
                    )
                ),
                0,
            ),
            sa.func.coalesce(
                sa.func.sum(sa.case((postings.c.kind == "expiry", -postings.c.amount))), 0
            ),
        )
    ).one()
    # Lots past their expiry count for nothing, even before the expiry job has posted them.
    lapsed = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Lot.remaining), 0)).where(
            Lot.account_id == account.id, Lot.remaining > 0, Lot.expires_at <= now
        )
    )
    expiring = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Lot.remaining), 0)).where(
            Lot.account_id == account.id,
            Lot.remaining > 0,
            Lot.expires_at > now,
            Lot.expires_at <= now + timedelta(days=EXPIRING_WINDOW_DAYS),
        )
    )
    history = session.execute(
        sa.select(Entry.kind, Posting.amount, Entry.created_at)
        .join(Entry, Entry.id == Posting.entry_id)
        .where(Posting.account_id == account.id)
        .order_by(Posting.id.desc())
        .limit(HISTORY_ROWS_MAX)
    ).all()
    return {
        "balance": account.balance - int(lapsed),
        "available": max(account.balance - account.reserved - int(lapsed), 0),
        "lifetime_earned": int(earned),
        "lifetime_spent": int(spent),
        "lifetime_expired": int(expired),
        "expiring_30d": int(expiring),
        "history": [{"kind": kind, "points": amount, "at": at} for kind, amount, at in history],
    }


# -- liability ------------------------------------------------------------------------------------
def liability(session: Session, now: datetime) -> dict[str, Any]:
    """What the platform owes in points: outstanding by party type, when it expires (by month,
    Shanghai), and points earned, spent and expired per month."""
    outstanding = dict(
        session.execute(
            sa.select(Account.owner_type, sa.func.coalesce(sa.func.sum(Account.balance), 0))
            .where(Account.asset == "POINT", Account.allow_negative.is_(False))
            .where(Account.code != ledger.EXPIRY_SINKS["POINT"])
            .group_by(Account.owner_type)
            .order_by(Account.owner_type)
        ).all()
    )
    schedule: dict[str, int] = {}
    for expires_at, remaining in session.execute(
        sa.select(Lot.expires_at, Lot.remaining)
        .join(Account, Account.id == Lot.account_id)
        .where(Account.asset == "POINT", Lot.remaining > 0, Lot.expires_at.is_not(None))
        .order_by(Lot.expires_at)
    ):
        month = expires_at.astimezone(SHANGHAI).strftime("%Y-%m")
        schedule[month] = schedule.get(month, 0) + int(remaining)
    months: dict[str, dict[str, int]] = {}
    rows = session.execute(
        sa.select(Entry.created_at, Entry.kind, Posting.amount)
        .join(Entry, Entry.id == Posting.entry_id)
        .join(Account, Account.id == Posting.account_id)
        .where(Account.asset == "POINT", Account.allow_negative.is_(False), Account.uses_lots)
    )
    for created_at, kind, amount in rows:
        month = created_at.astimezone(SHANGHAI).strftime("%Y-%m")
        bucket = months.setdefault(month, {"earned": 0, "spent": 0, "expired": 0})
        if kind == "expiry":
            bucket["expired"] += -amount
        elif amount > 0:
            bucket["earned"] += amount
        else:
            bucket["spent"] += -amount
    return {
        "as_of": now,
        "outstanding_by_party_type": {key: int(value) for key, value in outstanding.items()},
        "outstanding_total": sum(int(value) for value in outstanding.values()),
        "expiry_schedule": [{"month": m, "points": p} for m, p in sorted(schedule.items())],
        "by_month": [{"month": m, **v} for m, v in sorted(months.items())],
    }
