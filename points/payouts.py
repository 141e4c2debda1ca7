"""Farm payouts: a farm turns points into fen at the configured rate. Functions take a session and
never commit.

* **Request** (farm staff): the points are held for ``platform:points:paid_out``; the amount in
  fen is fixed at the rate of the day, ``amount_fen = points × fen_per_100_points / 100`` exactly
  (a request whose points do not convert to whole fen is refused with the step to use).
* **Approve** (an operator): one transaction posts the hold (the points leave the farm's lots,
  first-expiring first) and a FEN entry from ``platform:fen:points_payouts`` (the programme's
  payout budget) to ``organisation:{id}:fen:payable`` (what the platform owes the farm).
  **Reject**: the hold is voided; the points are spendable again.
* **Export** (an operator): approved payouts not yet exported go into one file for the bank
  (CSV, GBK-safe UTF-8 with BOM, yuan with two decimals) or for WeChat Pay's transfer-to-balance
  batch (JSON detail list, amounts in fen); each payout is exported once, and the file's SHA-256
  is kept so a re-download can be checked against what was sent. Exporting posts the payable to
  ``platform:fen:in_transfer``: the money has left for the bank or WeChat.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger import entries as ledger
from ledger import reads
from points.accounts import ASSET, account_open
from points.errors import ErrorCode, IdempotencyConflict, PayoutError
from points.idempotency import request_same_check
from points.models import FarmPayout, PayoutExport
from points.rows import locked
from service.base.exceptions import FieldMessage, Forbidden, NotFound, ValidationFailed
from service.base.parties.models import Organisation
from service.base.parties.services import Principal

PAID_OUT_ACCOUNT = "platform:points:paid_out"
BUDGET_ACCOUNT = "platform:fen:points_payouts"
IN_TRANSFER_ACCOUNT = "platform:fen:in_transfer"
PAYOUT_POINTS_MIN = 100
PAYOUTS_PER_EXPORT_MAX = 1_000
BANK_COLUMNS = ("序号", "收款户名", "收款账号", "开户银行", "金额（元）", "用途", "付款编号")
FARM_KINDS = ("farm", "cooperative")


def payable_account(organisation_id: int) -> str:
    return f"organisation:{organisation_id}:fen:payable"


def amount_fen_for(points_amount: int, fen_per_100_points: int) -> int:
    """Fen for ``points_amount`` at the rate; ``ValidationFailed`` unless it is whole fen.

    >>> amount_fen_for(1_000, 50)
    500
    """
    step = 100 // math.gcd(100, fen_per_100_points)
    if points_amount % step:
        raise ValidationFailed.field(
            "points", FieldMessage("Must be a multiple of {step}.", step=step)
        )
    return points_amount * fen_per_100_points // 100


def _accounts_open(session: Session, organisation_id: int) -> None:
    ledger.account_open(session, code=PAID_OUT_ACCOUNT, asset=ASSET, owner_type="platform")
    ledger.account_open(
        session, code=BUDGET_ACCOUNT, asset="FEN", owner_type="platform", allow_negative=True
    )
    ledger.account_open(session, code=IN_TRANSFER_ACCOUNT, asset="FEN", owner_type="platform")
    ledger.account_open(
        session,
        code=payable_account(organisation_id),
        asset="FEN",
        owner_type="organisation",
        owner_id=organisation_id,
    )


def payout_request(
    session: Session,
    *,
    principal: Principal,
    organisation_id: int,
    values: dict[str, Any],
    key: str,
    request_sha256: str,
    fen_per_100_points: int,
    now: datetime,
) -> tuple[FarmPayout, bool]:
    """A farm asks for ``points`` in fen; returns (payout, created). Same key and request, same
    answer; the key is looked up before the values are checked, so a key used for another request
    is refused as such."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or organisation_id not in principal.organisation_ids():
        raise NotFound()
    if organisation_id not in principal.organisation_ids("farm_staff"):
        raise Forbidden()
    principal.organisation_write_check(organisation_id)
    if organisation.kind not in FARM_KINDS or organisation.status != "approved":
        raise ValidationFailed.field("organisation_id", "Must be an approved farm or cooperative.")
    scoped_key = f"organisation:{organisation_id}:{key}"
    account = account_open(session, "organisation", organisation_id)
    _accounts_open(session, organisation_id)
    account_id = reads.account_lock(session, account)
    existing = session.scalars(
        sa.select(FarmPayout).where(FarmPayout.idempotency_key == scoped_key)
    ).first()
    if existing is not None:
        if (existing.points, existing.method, existing.payee_account) != (
            values["points"],
            values["method"],
            values["payee_account"],
        ):
            raise IdempotencyConflict("Idempotency-Key", "Used for another payout.")
        request_same_check(existing.request_sha256, request_sha256)
        return existing, False
    amount = values["points"]
    if amount < PAYOUT_POINTS_MIN:
        raise ValidationFailed.field(
            "points",
            FieldMessage("At least {payout_points_min}.", payout_points_min=PAYOUT_POINTS_MIN),
        )
    amount_fen = amount_fen_for(amount, fen_per_100_points)
    if values["method"] == "bank" and not values.get("bank_name"):
        raise ValidationFailed.field("bank_name", "Required for bank transfers.")
    if reads.available(session, account_id=account_id, now=now) < amount:
        raise PayoutError(
            code=ErrorCode.POINTS_INSUFFICIENT,
            fields={"points": [FieldMessage("Not enough points.")]},
        )
    hold = ledger.hold_create(
        session,
        key=f"payout:{scoped_key}",
        account=account,
        destination=PAID_OUT_ACCOUNT,
        amount=amount,
        now=now,
        metadata={"organisation_id": organisation_id},
    )
    payout = FarmPayout(
        organisation_id=organisation_id,
        points=amount,
        fen_per_100_points=fen_per_100_points,
        amount_fen=amount_fen,
        method=values["method"],
        payee_name=values["payee_name"],
        payee_account=values["payee_account"],
        bank_name=values.get("bank_name") or "",
        hold_id=hold.hold_id,
        status="requested",
        idempotency_key=scoped_key,
        request_sha256=request_sha256,
        requested_by=principal.user_id,
        requested_at=now,
    )
    session.add(payout)
    session.flush()
    return payout, True


def payout_decide(
    session: Session, *, payout_id: int, decision: str, note: str, user_id: int, now: datetime
) -> FarmPayout:
    """Approve (points spent, fen owed to the farm) or reject (points released). The same
    decision twice is once; the other is refused."""
    payout = locked(session, FarmPayout, payout_id)
    settled = {"approved": ("approved", "exported"), "rejected": ("rejected",)}[decision]
    if payout.status in settled:
        return payout
    if payout.status != "requested":
        raise PayoutError(code=ErrorCode.PAYOUT_STATE_CONFLICT, params={"status": payout.status})
    if decision == "rejected":
        ledger.hold_void(session, hold_id=payout.hold_id, now=now)
    else:
        _accounts_open(session, payout.organisation_id)
        posted = ledger.hold_post(
            session,
            hold_id=payout.hold_id,
            key=f"payout:{payout.id}:points",
            kind="points_payout",
            now=now,
            metadata={"payout_id": payout.id},
        )
        fen = ledger.entry_post(
            session,
            ledger.EntryRequest(
                key=f"payout:{payout.id}:fen",
                kind="points_payout_fen",
                postings=[
                    ledger.PostingRequest(BUDGET_ACCOUNT, -payout.amount_fen),
                    ledger.PostingRequest(
                        payable_account(payout.organisation_id), payout.amount_fen
                    ),
                ],
                metadata={
                    "payout_id": payout.id,
                    "points": payout.points,
                    "fen_per_100_points": payout.fen_per_100_points,
                },
            ),
            now=now,
        )
        payout.points_entry_id, payout.fen_entry_id = posted.entry_id, fen.entry_id
    payout.status, payout.decided_by, payout.decided_at = decision, user_id, now
    payout.decision_note = note
    session.flush()
    return payout


def payouts_visible(principal: Principal, status: str | None = None) -> sa.Select:
    """Operators and auditors see every payout; farm staff their farms'."""
    query = sa.select(FarmPayout).order_by(FarmPayout.id.desc())
    if not principal.has_any_role(("operator", "auditor")):
        query = query.where(
            FarmPayout.organisation_id.in_(principal.organisation_ids("farm_staff"))
        )
    if status is not None:
        query = query.where(FarmPayout.status == status)
    return query


# -- export ---------------------------------------------------------------------------------------
def render(method: str, payouts: list[FarmPayout], export_id: int) -> bytes:
    """The transfer file for ``payouts``: deterministic, so a re-download hashes the same."""
    if method == "bank":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(BANK_COLUMNS)
        for number, payout in enumerate(payouts, start=1):
            writer.writerow(
                [
                    number,
                    payout.payee_name,
                    payout.payee_account,
                    payout.bank_name,
                    f"{payout.amount_fen // 100}.{payout.amount_fen % 100:02d}",
                    "碳积分兑付",
                    f"TH-PAY-{payout.id}",
                ]
            )
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    document = {
        "out_batch_no": f"THPAY{export_id:010d}",
        "batch_name": "碳积分兑付",
        "batch_remark": "碳积分兑付",
        "total_amount": sum(payout.amount_fen for payout in payouts),
        "total_num": len(payouts),
        "transfer_detail_list": [
            {
                "out_detail_no": f"THPAY{payout.id:012d}",
                "transfer_amount": payout.amount_fen,
                "transfer_remark": "碳积分兑付",
                "openid": payout.payee_account,
                "user_name": payout.payee_name,
            }
            for payout in payouts
        ],
    }
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def export_create(
    session: Session, *, method: str, user_id: int, now: datetime
) -> tuple[PayoutExport, bytes] | None:
    """Export the approved payouts of ``method`` not yet exported (oldest first, at most
    ``PAYOUTS_PER_EXPORT_MAX``); None when there are none."""
    payouts = list(
        session.scalars(
            sa.select(FarmPayout)
            .where(FarmPayout.method == method, FarmPayout.status == "approved")
            .order_by(FarmPayout.id)
            .limit(PAYOUTS_PER_EXPORT_MAX)
            .with_for_update()
        )
    )
    if not payouts:
        return None
    export = PayoutExport(
        method=method,
        payouts=len(payouts),
        total_fen=sum(payout.amount_fen for payout in payouts),
        sha256="",
        created_by=user_id,
        created_at=now,
    )
    session.add(export)
    session.flush()
    requests = []
    for payout in payouts:
        payout.status, payout.export_id = "exported", export.id
        requests.append(
            ledger.EntryRequest(
                key=f"payout:{payout.id}:transfer",
                kind="points_payout_transfer",
                postings=[
                    ledger.PostingRequest(
                        payable_account(payout.organisation_id), -payout.amount_fen
                    ),
                    ledger.PostingRequest(IN_TRANSFER_ACCOUNT, payout.amount_fen),
                ],
                metadata={"payout_id": payout.id, "export_id": export.id},
            )
        )
    ledger.entries_post(session, requests, now=now)
    content = render(method, payouts, export.id)
    export.sha256 = hashlib.sha256(content).hexdigest()
    session.flush()
    return export, content


def export_file_type(export: PayoutExport) -> tuple[str, str]:
    """The transfer file's name and media type."""
    if export.method == "bank":
        return f"payouts-{export.id}.csv", "text/csv; charset=utf-8"
    return f"payouts-{export.id}.json", "application/json"


def export_download(export: PayoutExport, content: bytes) -> tuple[bytes, dict[str, str]]:
    """A transfer file as a download: its bytes, and the headers that type it, name it and give
    its hash. The API and the console serve it alike (a Flask view may return the pair as is)."""
    name, mimetype = export_file_type(export)
    return content, {
        "Content-Type": mimetype,
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-SHA256": export.sha256,
    }


def export_file(session: Session, export_id: int) -> tuple[PayoutExport, bytes]:
    export = session.get(PayoutExport, export_id)
    if export is None:
        raise NotFound()
    payouts = list(
        session.scalars(
            sa.select(FarmPayout).where(FarmPayout.export_id == export_id).order_by(FarmPayout.id)
        )
    )
    return export, render(export.method, payouts, export.id)
