"""Idempotency: a repeated key answers what it first did, or names the field that differs.

Shared by both posting paths and by holds, so one key means one request everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.entries.requests import EntryRequest, EntryResult
from ledger.errors import ErrorCode, LedgerError, Outcome
from ledger.models import Entry
from service.base.exceptions import FieldMessage


def existing_entries(
    session: Session,
    requests: Sequence[EntryRequest],
    canonical: Sequence[dict[str, Any]],
    keys: Sequence[str],
) -> Iterable[tuple[int, EntryResult]]:
    stored = {
        entry.idempotency_key: entry
        for entry in session.scalars(sa.select(Entry).where(Entry.idempotency_key.in_(keys)))
    }
    for index, request in enumerate(requests):
        entry = stored.get(request.key)
        if entry is None:
            continue
        request_compare(entry.request, canonical[index])
        yield (
            index,
            EntryResult(
                outcome=Outcome.EXISTS,
                entry_id=entry.id,
                key=entry.idempotency_key,
                kind=entry.kind,
                postings=tuple((p["account"], p["amount"]) for p in entry.request["postings"]),
            ),
        )


def request_compare(stored: Mapping[str, Any], request: Mapping[str, Any]) -> None:
    for name in sorted(set(stored) | set(request)):
        if stored.get(name) != request.get(name):
            raise LedgerError(
                ErrorCode.IDEMPOTENCY_CONFLICT,
                FieldMessage("the key was used with another {name}", name=name),
                field=name,
            )
