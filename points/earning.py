"""Earning points under a rule's caps. Functions take a session and never commit.

Caps are per party and per event type, over the calendar day and month in Asia/Shanghai; the
party's account row is locked while its earnings in the window are summed, so concurrent earnings
cannot together pass a cap. An earning beyond a cap is granted only up to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, overload

from sqlalchemy.orm import Session

from ledger import entries as ledger
from ledger import reads
from points.accounts import ISSUER_ACCOUNT
from points.models import PointRule
from service.base.units import SHANGHAI

ENTRY_KIND_PREFIX = "points_"


@dataclass(frozen=True)
class Earning:
    points: int
    requested: int
    capped_by: str | None
    entry_id: int | None


@dataclass(frozen=True)
class Award:
    """One party's earning in a batch: ``points`` to ``account`` under the entry key ``key``."""

    account: str
    points: int
    key: str
    metadata: dict[str, Any] | None = None


def window_start(now: datetime, unit: str) -> datetime:
    """The start of the Shanghai calendar day or month (``unit``) that ``now`` falls in."""
    local = now.astimezone(SHANGHAI)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "month":
        start = start.replace(day=1)
    return start


def earn_many(
    session: Session, *, rule: PointRule, awards: Sequence[Award], now: datetime
) -> list[Earning]:
    """Credit each award under ``rule``, capped per party, as lots expiring after the rule's
    validity: the batch path (farm distributions) and, with one award, the single one.

    The parties' account rows are locked in id order first (``ledger.reads.accounts_lock``), so
    concurrent earnings of one party cannot together pass a cap; awards to one account in the
    batch count against its caps in order. Entries go to the ledger in batches
    (``ledger.entries_post_many``).
    """
    ids = reads.accounts_lock(session, (award.account for award in awards))
    return earn_locked(session, rule=rule, awards=awards, ids=ids, now=now)


def _rooms(
    session: Session,
    *,
    rule: PointRule,
    account_ids: list[int],
    kind: str,
    now: datetime,
    earned: dict[str, dict[int, int]] | None,
) -> dict[str, dict[int, int]]:
    """What each account may still earn in each capped window (by window, then account id)."""
    caps = {unit: cap for unit, cap in (("day", rule.cap_per_day), ("month", rule.cap_per_month))
            if cap is not None}  # fmt: skip
    if not caps:
        return {}
    if earned is None:
        starts = {unit: window_start(now, unit) for unit in caps}
        earned = reads.credited_in_windows(
            session, account_ids=account_ids, kind=kind, starts=starts
        )
    return {unit: {account_id: max(cap - earned[unit].get(account_id, 0), 0)
                   for account_id in account_ids}
            for unit, cap in caps.items()}  # fmt: skip


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
    rooms = _rooms(
        session, rule=rule, account_ids=sorted(ids.values()), kind=kind, now=now, earned=earned
    )
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
