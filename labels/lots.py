"""Label lots: an enterprise orders N units of a certified label under a lot number.

    reserved ──payment confirmed──▶ paid ──allocation──▶ issued
        │                            └──not covered──▶ retiring ──registry retired──▶ issued
        └──────cancel──────▶ cancelled

Ordering quotes the lot (grams = N × footprint per unit, rounded up per unit, for carbon-neutral
labels; price = grams × price per tonne, rounded up to the fen, + the service fee) and holds the
grams in the enterprise's retired pool (what it has, when that does not cover the lot: the
registry retires the rest on payment, ``labels.retiring``). Confirming a payment (offline, by
an operator; or a verified WeChat Pay notification) settles the fen through the ledger, releases
the hold and allocates the retired grams to the lot in one transaction; the lot's unit codes are
valid from then on. Cancelling before payment releases the hold. Confirmations and cancellations
are idempotent: a repeat changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.codes import UNITS_PER_LOT_MAX, CodeInvalid, LotKey, lot_key, serial_verify
from labels.errors import LabelNotCertified, LotStateConflict
from labels.models import Footprint, Label, LabelLot, Product, UnitRevocation
from labels.retiring import hold_release, lot_back, tonnes_to_retire
from labels.services import product_for_reader
from ledger import credits
from ledger import entries as ledger
from ledger import reads as ledger_reads
from ledger.credits import selectors as credit_selectors
from ledger.tlog import log_append
from service.base.exceptions import FieldMessage, Forbidden, NotFound, ValidationFailed
from service.base.parties.services import Principal, organisation_active_check
from service.base.units import GRAMS_PER_TONNE

#: GS1 AI 10 (batch or lot number) is at most 20 characters.
LOT_NUMBER_MAX_CHARS = 20
#: GS1 General Specifications, Figure 7.11-1: the GS1 AI encodable character set 82, which
#: AI 10 is drawn from ("X..20").
CSET_82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
#: Of CSET 82, the characters a URI path carries as they are (RFC 3986 "unreserved"). The rest
#: (``/``, ``?``, ``%``, ``&``, ``+``, ...) a GS1 Digital Link must percent-encode, and scanners,
#: printers and browsers do not all do that alike: lot numbers here are refused them, so every
#: printed code is the lot number itself, character for character.
LOT_NUMBER_PATTERN = re.compile(rf"[A-Za-z0-9\-._]{{1,{LOT_NUMBER_MAX_CHARS}}}")
#: RFC 3986 section 5.2.4 removes these path segments: ``/10/../21/x`` is ``/21/x`` to a browser.
DOT_SEGMENTS = frozenset({".", ".."})
LOT_NUMBER_MESSAGE = f"1 to {LOT_NUMBER_MAX_CHARS} letters, digits, '-', '.' or '_' (GS1 AI 10)."
UNITS_MAX = 10_000_000
HOLD_DAYS = 14
REVOCATION_REASON_MAX_CHARS = 500
PLATFORM_REVENUE_ACCOUNT = "platform:revenue:labels"
PAYMENTS_ACCOUNT = {
    "offline": "external:payments:offline",
    "wechatpay": "external:payments:wechatpay",
}


@dataclass(frozen=True)
class Pricing:
    price_per_tonne_fen: int
    service_fee_fen: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Pricing:
        return cls(config["LABEL_PRICE_PER_TONNE_FEN"], config["LABEL_SERVICE_FEE_FEN"])


@dataclass(frozen=True)
class Quote:
    units: int
    grams_per_unit: int
    grams_required: int
    price_per_tonne_fen: int
    service_fee_fen: int
    amount_fen: int
    #: For a quote to an enterprise: its retired grams not allocated nor held, and the whole
    #: tonnes it must still retire for this lot (0 when covered).
    retired_available_g: int | None = None
    tonnes_to_retire: int | None = None


def grams_per_unit(label: Label, footprint: Footprint) -> int:
    """Grams of retired credits one unit needs: its footprint, rounded up, for carbon-neutral
    labels; none for the others (they claim no offset)."""
    if label.scheme != "carbon_neutral":
        return 0
    grams = (footprint.kg_per_unit * 1000).to_integral_value(rounding=ROUND_CEILING)
    return int(grams)


def quote(label: Label, footprint: Footprint, units: int, pricing: Pricing) -> Quote:
    if type(units) is not int or not 0 < units <= UNITS_MAX:
        raise ValidationFailed.field(
            "units", FieldMessage("Between 1 and {units_max}.", units_max=UNITS_MAX)
        )
    per_unit = grams_per_unit(label, footprint)
    grams = per_unit * units
    credit_fen = (Decimal(grams) * pricing.price_per_tonne_fen / GRAMS_PER_TONNE).to_integral_value(
        rounding=ROUND_CEILING
    )
    return Quote(
        units=units,
        grams_per_unit=per_unit,
        grams_required=grams,
        price_per_tonne_fen=pricing.price_per_tonne_fen,
        service_fee_fen=pricing.service_fee_fen,
        amount_fen=int(credit_fen) + pricing.service_fee_fen,
    )


def _certified(label: Label, now: datetime) -> None:
    if label.status != "certified" or (label.valid_until and label.valid_until <= now.date()):
        raise LabelNotCertified(params={"status": label.status})


def lot_number_check(lot_number: str) -> None:
    """A lot number a Digital Link path carries unchanged: CSET 82 characters that need no
    percent-encoding, and not a dot segment (``.`` or ``..``), which browsers remove."""
    if not all(character in CSET_82 for character in lot_number):
        raise ValidationFailed.field(
            "lot_number", "Only characters of the GS1 AI encodable character set 82 (GS1 AI 10)."
        )
    if not LOT_NUMBER_PATTERN.fullmatch(lot_number):
        raise ValidationFailed.field("lot_number", LOT_NUMBER_MESSAGE)
    if lot_number in DOT_SEGMENTS:
        raise ValidationFailed.field("lot_number", "'.' and '..' cannot be a lot number.")


def lot_order(
    session: Session,
    *,
    principal: Principal,
    label: Label,
    lot_number: str,
    units: int,
    pricing: Pricing,
    key_id: str,
    now: datetime,
) -> LabelLot:
    """Order a lot: quote it and hold its grams in the enterprise's own retired pool (grams
    retired for it, so two enterprises never hold each other's). When those grams do not cover
    the lot it holds what there is; the whole tonnes still to retire are retired on payment."""
    product = session.get(Product, label.product_id)
    assert product is not None
    if not (
        principal.has_any_role(("operator",))
        or product.organisation_id in principal.organisation_ids("enterprise_staff")
    ):
        raise Forbidden()
    principal.organisation_write_check(product.organisation_id)
    _certified(label, now)
    lot_number_check(lot_number)
    taken = session.scalar(
        sa.select(LabelLot.id).where(
            LabelLot.product_id == product.id, LabelLot.lot_number == lot_number
        )
    )
    if taken is not None:
        raise ValidationFailed.field("lot_number", "This product has a lot with this number.")
    footprint = session.get(Footprint, label.footprint_id)
    assert footprint is not None
    priced = quote(label, footprint, units, pricing)
    assert units <= UNITS_PER_LOT_MAX
    lot = LabelLot(
        label_id=label.id,
        product_id=product.id,
        lot_number=lot_number,
        units=units,
        grams_per_unit=priced.grams_per_unit,
        grams_required=priced.grams_required,
        price_per_tonne_fen=priced.price_per_tonne_fen,
        service_fee_fen=priced.service_fee_fen,
        amount_fen=priced.amount_fen,
        status="reserved",
        held_g=0,
        key_id=key_id,
        ordered_by=principal.user_id,
        created_at=now,
    )
    session.add(lot)
    session.flush()
    if priced.grams_required:
        _lot_hold(session, lot, product.organisation_id, now)
    session.flush()
    return lot


def _lot_hold(session: Session, lot: LabelLot, organisation_id: int, now: datetime) -> None:
    """Hold the lot's grams in the enterprise's retired pool, or, when they do not cover it,
    what the pool has (the registry retires the rest on payment). The pool's row is locked
    before it is read, so two orders never hold the same grams."""
    credits.accounts_open(session, beneficiary_id=organisation_id)
    pool = credits.retired_account(organisation_id)
    ledger_reads.account_lock(session, pool)
    available = credit_selectors.claimant_credits(session, organisation_id=organisation_id)
    amount = min(max(available.available_g, 0), lot.grams_required)
    if amount <= 0:
        return
    hold = ledger.hold_create(
        session,
        key=f"lot:{lot.id}:hold",
        account=pool,
        destination=credits.ALLOCATED_ACCOUNT,
        amount=amount,
        now=now,
        expires_at=now + timedelta(days=HOLD_DAYS),
        metadata={"lot_id": lot.id, "claimant_organisation_id": organisation_id},
    )
    lot.hold_id, lot.held_g = hold.hold_id, amount


def lot_cancel(session: Session, *, lot: LabelLot, now: datetime) -> LabelLot:
    """Cancel before payment; the hold is released. Cancelling twice changes nothing."""
    if lot.status == "cancelled":
        return lot
    if lot.status != "reserved":
        raise LotStateConflict(params={"status": lot.status})
    hold_release(session, lot, now)
    lot.status, lot.cancelled_at = "cancelled", now
    session.flush()
    return lot


def lot_payment_confirm(
    session: Session,
    *,
    lot: LabelLot,
    provider: str,
    reference: str,
    amount_fen: int,
    now: datetime,
) -> LabelLot:
    """Record the lot's payment, then back and issue it. A repeat of the same payment changes
    nothing; a payment of another amount, or after cancellation, is refused. The lot's row is
    locked first, so notifications delivered twice at once settle once."""
    session.refresh(lot, with_for_update=True)
    if lot.status in ("paid", "retiring", "issued"):
        if (lot.payment_provider, lot.payment_reference) == (provider, reference):
            return lot
        raise LotStateConflict(params={"status": lot.status})
    if lot.status != "reserved":
        raise LotStateConflict(params={"status": lot.status})
    if amount_fen != lot.amount_fen:
        raise ValidationFailed.field(
            "amount_fen", FieldMessage("The lot costs {amount_fen} fen.", amount_fen=lot.amount_fen)
        )
    external = PAYMENTS_ACCOUNT[provider]
    ledger.account_open(
        session, code=external, asset="FEN", owner_type="external", allow_negative=True
    )
    ledger.account_open(session, code=PLATFORM_REVENUE_ACCOUNT, asset="FEN", owner_type="platform")
    ledger.entry_post(
        session,
        ledger.EntryRequest(
            key=f"lot:{lot.id}:payment",
            kind="label_lot_payment",
            postings=[
                ledger.PostingRequest(external, -amount_fen),
                ledger.PostingRequest(PLATFORM_REVENUE_ACCOUNT, amount_fen),
            ],
            metadata={"lot_id": lot.id, "provider": provider, "reference": reference},
        ),
        now=now,
    )
    lot.status, lot.paid_at = "paid", now
    lot.payment_provider, lot.payment_reference = provider, reference
    session.flush()
    lot_back(session, lot, now)
    return lot


def lot_for_reader(session: Session, principal: Principal, lot_id: int) -> LabelLot:
    """The lot, or ``NotFound`` when it does not exist or its product is out of sight."""
    lot = session.get(LabelLot, lot_id)
    if lot is None:
        raise NotFound()
    product_for_reader(session, principal, lot.product_id)
    return lot


def lot_for_writer(session: Session, principal: Principal, lot_id: int) -> LabelLot:
    """The lot, for a write: as ``lot_for_reader``, and refused to a suspended enterprise's
    staff (``OrganisationSuspended``)."""
    lot = lot_for_reader(session, principal, lot_id)
    product = session.get(Product, lot.product_id)
    assert product is not None
    principal.organisation_write_check(product.organisation_id)
    return lot


def lot_key_of(lot: LabelLot, product: Product, master_keys: dict[str, bytes]) -> LotKey:
    return lot_key(master_keys, lot.key_id, gtin=product.gtin, lot=lot.lot_number, units=lot.units)


def lot_issued_for_reader(
    session: Session, principal: Principal, lot_id: int, master_keys: dict[str, bytes]
) -> tuple[LabelLot, Product, LotKey]:
    """An issued lot the principal may see, its product and its key: what printing its codes
    needs. A lot not issued yet (or cancelled) has no valid codes: ``LotStateConflict``."""
    lot = lot_for_reader(session, principal, lot_id)
    if lot.status != "issued":
        raise LotStateConflict(params={"status": lot.status})
    product = session.get(Product, lot.product_id)
    assert product is not None
    organisation_active_check(session, product.organisation_id)
    return lot, product, lot_key_of(lot, product, master_keys)


def lot_quote(session: Session, *, label: Label, units: int, pricing: Pricing) -> Quote:
    """What a lot of ``units`` of the label would need in retired credits, and cost; the
    enterprise's retired grams still available, and the whole tonnes it must retire first."""
    footprint = session.get(Footprint, label.footprint_id)
    assert footprint is not None
    product = session.get(Product, label.product_id)
    assert product is not None
    priced = quote(label, footprint, units, pricing)
    available = credit_selectors.claimant_credits(
        session, organisation_id=product.organisation_id
    ).available_g
    return replace(
        priced,
        retired_available_g=max(available, 0),
        tonnes_to_retire=tonnes_to_retire(priced.grams_required, available),
    )


def revocations_of(session: Session, lot: LabelLot) -> list[UnitRevocation]:
    """The lot's revoked unit ranges, in the order they were revoked."""
    return list(
        session.scalars(
            sa.select(UnitRevocation)
            .where(UnitRevocation.lot_id == lot.id)
            .order_by(UnitRevocation.id)
        )
    )


def units_revoke(
    session: Session,
    *,
    lot: LabelLot,
    index_start: int,
    index_end: int,
    reason: str,
    user_id: int | None,
    now: datetime,
) -> UnitRevocation:
    """Revoke units ``index_start`` … ``index_end`` (one unit: the same index twice)."""
    if lot.status != "issued":
        raise LotStateConflict(params={"status": lot.status})
    if not 0 <= index_start <= index_end < lot.units:
        raise ValidationFailed.field(
            "index_end", FieldMessage("Units are 0 to {last}.", last=lot.units - 1)
        )
    if not reason.strip() or len(reason) > REVOCATION_REASON_MAX_CHARS:
        raise ValidationFailed.field("reason", "Say why.")
    revocation = UnitRevocation(
        lot_id=lot.id,
        index_start=index_start,
        index_end=index_end,
        reason=reason.strip(),
        revoked_by=user_id,
        created_at=now,
    )
    session.add(revocation)
    session.flush()
    log_append(
        session,
        kind="labels.units_revoked",
        source_id=str(revocation.id),
        data={"lot_id": lot.id, "from": index_start, "to": index_end, "reason": reason.strip()},
        now=now,
    )
    return revocation


def unit_revoked(session: Session, lot_id: int, index: int) -> bool:
    return (
        session.scalar(
            sa.select(UnitRevocation.id)
            .where(
                UnitRevocation.lot_id == lot_id,
                UnitRevocation.index_start <= index,
                UnitRevocation.index_end >= index,
            )
            .limit(1)
        )
        is not None
    )


def unit_check(
    session: Session, lot: LabelLot, product: Product, serial: str, master_keys: dict[str, bytes]
) -> tuple[int, bool]:
    """(index, revoked) of a unit serial of an issued lot; ``CodeInvalid`` if forged."""
    if lot.status != "issued":
        raise CodeInvalid("lot not issued")
    index = serial_verify(lot_key_of(lot, product, master_keys), serial)
    return index, unit_revoked(session, lot.id, index)


def lot_allocation_repoint(
    session: Session, *, lot_id: int, from_allocation_id: int, to_allocation_id: int
) -> None:
    """Back an issued lot by the allocation that replaced its reversed one (an operator resolving
    a claimant finding). Only a lot backed by ``from_allocation_id`` moves; the new backing is in
    the log as the finding's resolution, and the scan record's cache key names the allocation."""
    moved = session.execute(
        sa.update(LabelLot)
        .where(LabelLot.id == lot_id, LabelLot.allocation_id == from_allocation_id)
        .values(allocation_id=to_allocation_id)
        .returning(LabelLot.id)
    ).first()
    if moved is None:
        status = session.scalar(sa.select(LabelLot.status).where(LabelLot.id == lot_id))
        raise LotStateConflict(params={"status": status or "-"})
