"""The catalogue and redemption: items points buy, orders that hold points and reserve stock until
they are fulfilled or cancelled, and personal offsets. Functions take a session and never commit.

Order placement, in a fixed order so concurrent orders neither oversell nor deadlock:

1. the ordering party's points account row is locked: one party's orders take turns, so its
   per-party limit and its balance are read and used in one step;
2. the item's stock is taken by ``UPDATE … SET stock_available = stock_available - q WHERE
   stock_available >= q`` (the row lock serialises buyers of one item; the database also refuses
   a negative stock);
3. the points are held (``ledger.hold_create``) for ``platform:points:redeemed``.

The first step and the checks it makes possible are ``order_check``; ``order_place`` writes.

Fulfilment posts the hold (the points leave the party's lots, first-expiring first); cancellation
voids it and returns the stock. A personal offset is fulfilled at once: retired credits are
allocated to it (``credits.allocate``, target ``personal_offset``), a certificate number is
issued, and the certificate is entered in the transparency log. Points buy the offset; the claim
rests on the retired credits alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger import credits, reads
from ledger import entries as ledger
from ledger.credits.disclosure import backing_retirements
from ledger.tlog import leaf_proof, log_append
from points.accounts import ASSET, account_open
from points.errors import ErrorCode, IdempotencyConflict, RedemptionError
from points.idempotency import request_same_check
from points.models import CatalogueItem, RedemptionOrder
from points.rows import locked
from service.base.exceptions import FieldMessage, Forbidden, NotFound, ValidationFailed
from service.base.parties.models import Organisation
from service.base.parties.services import Principal, platform_organisation

REDEEMED_ACCOUNT = "platform:points:redeemed"
ORDER_QUANTITY_MAX = 100
CERTIFICATE_PREFIX = "TH-PO"
AUDIENCE_BY_KIND = {"farm": "farm", "cooperative": "farm", "enterprise": "enterprise"}
STAFF_ROLES = ("enterprise_staff", "farm_staff")


@dataclass(frozen=True)
class Party:
    """Who an order is for: a consumer (``user``) or an organisation."""

    owner_type: str
    owner_id: int
    audience: str


def party_for(session: Session, principal: Principal, organisation_id: int | None) -> Party:
    """The consumer themself, or an organisation the principal works for."""
    if organisation_id is None:
        if not principal.has_any_role(("consumer",)):
            raise ValidationFailed.field("organisation_id", "Required for staff orders.")
        return Party("user", principal.user_id, "consumer")
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or organisation_id not in principal.organisation_ids(*STAFF_ROLES):
        raise NotFound()
    principal.organisation_write_check(organisation_id)
    if organisation.status != "approved" or organisation.kind not in AUDIENCE_BY_KIND:
        raise ValidationFailed.field("organisation_id", "Must be an approved farm or enterprise.")
    return Party("organisation", organisation_id, AUDIENCE_BY_KIND[organisation.kind])


# -- the catalogue --------------------------------------------------------------------------------
def item_create(session: Session, *, values: dict[str, Any], now: datetime) -> CatalogueItem:
    if (values["kind"] == "personal_offset") != (values.get("offset_g_per_unit") is not None):
        raise ValidationFailed.field(
            "offset_g_per_unit", "Required for personal offsets, and only for them."
        )
    if session.scalar(sa.select(CatalogueItem.id).where(CatalogueItem.code == values["code"])):
        raise RedemptionError(
            code=ErrorCode.ITEM_CODE_TAKEN, fields={"code": [FieldMessage("Already in use.")]}
        )
    item = CatalogueItem(
        **{key: value for key, value in values.items() if key != "stock"},
        stock_total=values["stock"],
        stock_available=values["stock"],
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    return item


def item_update(
    session: Session, *, item_id: int, values: dict[str, Any], now: datetime
) -> CatalogueItem:
    """Change an item's terms (orders already placed keep theirs); ``stock_added`` adds to both
    the total and what is left, atomically."""
    item = session.get(CatalogueItem, item_id)
    if item is None:
        raise NotFound()
    added = values.pop("stock_added", 0)
    if added:
        session.execute(
            sa.update(CatalogueItem)
            .where(CatalogueItem.id == item_id)
            .values(
                stock_total=CatalogueItem.stock_total + added,
                stock_available=CatalogueItem.stock_available + added,
            )
            .execution_options(synchronize_session=False)
        )
    for key, value in values.items():
        setattr(item, key, value)
    item.updated_at = now
    session.flush()
    session.refresh(item)
    return item


def items_for(session: Session, audience: str | None) -> list[CatalogueItem]:
    query = sa.select(CatalogueItem).where(CatalogueItem.active).order_by(CatalogueItem.id)
    if audience is not None:
        query = query.where(CatalogueItem.audience == audience)
    return list(session.scalars(query))


# -- orders ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrderChecked:
    """An order that may be placed: the party's points account (its row locked), the item, the
    price, and the key scoped to the party."""

    account: str
    item: CatalogueItem
    price: int
    scoped_key: str


def order_check(
    session: Session,
    *,
    party: Party,
    item_id: int,
    quantity: int,
    key: str,
    request_sha256: str,
    now: datetime,
) -> OrderChecked | RedemptionOrder:
    """Lock the party's points account, then check the order: the earlier order when the key was
    used for this one, else the item on offer to the party, within its per-party limit, and the
    points to pay for it. The lock makes one party's orders take turns, so its limit and its
    balance are read and used in one step."""
    if not 0 < quantity <= ORDER_QUANTITY_MAX:
        raise ValidationFailed.field(
            "quantity",
            FieldMessage(
                "Must be between 1 and {order_quantity_max}.", order_quantity_max=ORDER_QUANTITY_MAX
            ),
        )
    scoped_key = f"{party.owner_type}:{party.owner_id}:{key}"
    account = account_open(session, party.owner_type, party.owner_id)
    ledger.account_open(session, code=REDEEMED_ACCOUNT, asset=ASSET, owner_type="platform")
    account_id = reads.account_lock(session, account)
    existing = session.scalars(
        sa.select(RedemptionOrder)
        .where(RedemptionOrder.idempotency_key == scoped_key)
        .execution_options(populate_existing=True)
    ).first()
    if existing is not None:
        if (existing.item_id, existing.quantity) != (item_id, quantity):
            raise IdempotencyConflict("Idempotency-Key", "Used for another order.")
        request_same_check(existing.request_sha256, request_sha256)
        return existing
    item = session.get(CatalogueItem, item_id)
    if item is None:
        raise NotFound()
    if not item.active:
        raise RedemptionError(code=ErrorCode.ITEM_UNAVAILABLE)
    if item.audience != party.audience:
        raise RedemptionError(code=ErrorCode.ITEM_NOT_FOR_PARTY, params={"audience": item.audience})
    if item.per_party_limit is not None:
        _limit_check(session, party=party, item=item, quantity=quantity)
    price = item.price_points * quantity
    if reads.available(session, account_id=account_id, now=now) < price:
        raise RedemptionError(
            code=ErrorCode.POINTS_INSUFFICIENT,
            fields={"quantity": [FieldMessage("Not enough points.")]},
        )
    return OrderChecked(account, item, price, scoped_key)


def _limit_check(session: Session, *, party: Party, item: CatalogueItem, quantity: int) -> None:
    ordered = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(RedemptionOrder.quantity), 0)).where(
            RedemptionOrder.item_id == item.id,
            RedemptionOrder.owner_type == party.owner_type,
            RedemptionOrder.owner_id == party.owner_id,
            RedemptionOrder.status != "cancelled",
        )
    )
    if item.per_party_limit is not None and int(ordered) + quantity > item.per_party_limit:
        raise RedemptionError(
            code=ErrorCode.REDEMPTION_LIMIT_REACHED,
            params={"limit": item.per_party_limit, "ordered": int(ordered)},
            fields={
                "quantity": [
                    FieldMessage("At most {left} more.", left=item.per_party_limit - int(ordered))
                ]
            },
        )


def order_place(
    session: Session,
    *,
    party: Party,
    item_id: int,
    quantity: int,
    key: str,
    request_sha256: str,
    user_id: int,
    now: datetime,
    holder_name: str = "",
    offset_programme_uscc: str = "",
) -> tuple[RedemptionOrder, bool]:
    """Order ``quantity`` of an item for ``party``; returns (order, created). A repeated key
    answers the original order; the key with another order is refused.

    The write needs what ``order_check`` leaves: the party's account row locked. It takes the
    stock (the item's row lock serialises its buyers; the database refuses a negative stock),
    then holds the points."""
    checked = order_check(
        session, party=party, item_id=item_id, quantity=quantity, key=key,
        request_sha256=request_sha256, now=now,
    )  # fmt: skip
    if isinstance(checked, RedemptionOrder):
        return checked, False
    item = checked.item
    taken = session.execute(
        sa.update(CatalogueItem)
        .where(CatalogueItem.id == item.id, CatalogueItem.stock_available >= quantity)
        .values(stock_available=CatalogueItem.stock_available - quantity)
        .returning(CatalogueItem.id)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is None:
        raise RedemptionError(
            code=ErrorCode.OUT_OF_STOCK, fields={"quantity": [FieldMessage("Not enough in stock.")]}
        )
    hold = ledger.hold_create(
        session,
        key=f"redeem:{checked.scoped_key}",
        account=checked.account,
        destination=REDEEMED_ACCOUNT,
        amount=checked.price,
        now=now,
        metadata={"item_id": item.id, "quantity": quantity},
    )
    order = RedemptionOrder(
        item_id=item.id,
        owner_type=party.owner_type,
        owner_id=party.owner_id,
        quantity=quantity,
        points=checked.price,
        hold_id=hold.hold_id,
        status="reserved",
        idempotency_key=checked.scoped_key,
        request_sha256=request_sha256,
        holder_name=holder_name,
        created_by=user_id,
        created_at=now,
    )
    session.add(order)
    session.flush()
    if item.kind == "personal_offset":
        _offset(session, order, item, now, offset_programme_uscc)
    return order, True


def _post(session: Session, order: RedemptionOrder, user_id: int | None, now: datetime) -> None:
    result = ledger.hold_post(
        session,
        hold_id=order.hold_id,
        key=f"redeem:{order.id}:post",
        kind="points_redeem",
        now=now,
        metadata={"order_id": order.id},
    )
    order.status, order.entry_id = "fulfilled", result.entry_id
    order.resolved_by, order.resolved_at = user_id, now


def order_fulfil(
    session: Session, *, order_id: int, user_id: int, now: datetime
) -> RedemptionOrder:
    """The goods went out: the held points are spent. Fulfilling twice changes nothing."""
    order = locked(session, RedemptionOrder, order_id)
    if order.status == "fulfilled":
        return order
    if order.status != "reserved":
        raise RedemptionError(code=ErrorCode.ORDER_STATE_CONFLICT, params={"status": order.status})
    _post(session, order, user_id, now)
    session.flush()
    return order


def order_cancel(
    session: Session, *, order_id: int, principal: Principal, note: str, now: datetime
) -> RedemptionOrder:
    """Release the points and return the stock (the owner or an operator; an auditor reads
    orders but changes none). Twice is once."""
    order = locked(session, RedemptionOrder, order_id)
    if not _may_see(principal, order):
        raise NotFound()
    if not _may_cancel(principal, order):
        raise Forbidden()
    if order.owner_type == "organisation":
        principal.organisation_write_check(order.owner_id)
    if order.status == "cancelled":
        return order
    if order.status != "reserved":
        raise RedemptionError(code=ErrorCode.ORDER_STATE_CONFLICT, params={"status": order.status})
    ledger.hold_void(session, hold_id=order.hold_id, now=now)
    session.execute(
        sa.update(CatalogueItem)
        .where(CatalogueItem.id == order.item_id)
        .values(stock_available=CatalogueItem.stock_available + order.quantity)
        .execution_options(synchronize_session=False)
    )
    order.status, order.note = "cancelled", note
    order.resolved_by, order.resolved_at = principal.user_id, now
    session.flush()
    return order


def _owns(principal: Principal, order: RedemptionOrder) -> bool:
    """The order is the principal's own, or one of their organisations'."""
    if order.owner_type == "user":
        return order.owner_id == principal.user_id
    return order.owner_id in principal.organisation_ids(*STAFF_ROLES)


def _may_see(principal: Principal, order: RedemptionOrder) -> bool:
    return principal.has_any_role(("operator", "auditor")) or _owns(principal, order)


def _may_cancel(principal: Principal, order: RedemptionOrder) -> bool:
    """Operators and the order's owner: auditors see every order, and none is theirs to undo."""
    return principal.has_any_role(("operator",)) or _owns(principal, order)


def order_for_reader(session: Session, principal: Principal, order_id: int) -> RedemptionOrder:
    order = session.get(RedemptionOrder, order_id)
    if order is None or not _may_see(principal, order):
        raise NotFound()
    return order


def orders_visible(principal: Principal, status: str | None = None) -> sa.Select:
    """Operators and auditors see every order; others their own and their organisations'."""
    query = sa.select(RedemptionOrder).order_by(RedemptionOrder.id.desc())
    if not principal.has_any_role(("operator", "auditor")):
        mine = RedemptionOrder.owner_type == "user", RedemptionOrder.owner_id == principal.user_id
        theirs = (
            RedemptionOrder.owner_type == "organisation",
            RedemptionOrder.owner_id.in_(principal.organisation_ids(*STAFF_ROLES)),
        )
        query = query.where(sa.or_(sa.and_(*mine), sa.and_(*theirs)))
    if status is not None:
        query = query.where(RedemptionOrder.status == status)
    return query


# -- personal offsets -----------------------------------------------------------------------------
def certificate_number(order: RedemptionOrder) -> str:
    return f"{CERTIFICATE_PREFIX}-{order.created_at.year}-{order.id:07d}"


def offset_programme(session: Session, uscc: str) -> Organisation:
    """The personal-offset programme: the organisation whose retirements back personal offsets
    (their purpose says so). ``uscc`` is the ``PERSONAL_OFFSET_PROGRAMME_USCC`` setting; empty,
    the programme is the platform organisation's own."""
    if not uscc:
        return platform_organisation(session)
    programme = session.scalars(sa.select(Organisation).where(Organisation.uscc == uscc)).first()
    if programme is None:
        raise NotFound()
    return programme


def _offset(
    session: Session,
    order: RedemptionOrder,
    item: CatalogueItem,
    now: datetime,
    programme_uscc: str,
) -> None:
    """Allocate the offset's grams, claimed by the personal-offset programme; the certificate
    names the consumer (``holder_name``) as the end beneficiary."""
    grams = item.offset_g_per_unit * order.quantity
    allocation = credits.allocate(
        session,
        key=f"offset:{order.id}",
        target_type="personal_offset",
        target_id=f"order:{order.id}",
        claimant_organisation_id=offset_programme(session, programme_uscc).id,
        quantity_g=grams,
        now=now,
    )
    _post(session, order, None, now)
    order.allocation_id = allocation.allocation_id
    order.certificate_number = certificate_number(order)
    session.flush()
    log_append(
        session,
        kind="points.personal_offset",
        source_id=order.certificate_number,
        data={
            "certificate": order.certificate_number,
            "order_id": order.id,
            "holder_name": order.holder_name,
            "allocation_id": allocation.allocation_id,
            "quantity_g": grams,
            "points": order.points,
            "parts": [credits.part_leaf(part) for part in allocation.parts],
            "at": now.isoformat(),
        },
        now=now,
    )


def certificate(session: Session, number: str) -> dict[str, Any]:
    """A personal offset's certificate: what was offset, by which retired credits, and the
    certificate's place in the transparency log (once sequenced)."""
    order = session.scalars(
        sa.select(RedemptionOrder).where(RedemptionOrder.certificate_number == number)
    ).first()
    if order is None:
        raise NotFound()
    allocations = credits.allocations_of(session, "personal_offset", f"order:{order.id}")
    parts = [part for allocation in allocations for part in allocation["parts"]]
    claimant = (
        session.get(Organisation, allocations[0]["claimant_organisation_id"])
        if allocations
        else None
    )
    return {
        "certificate_number": number,
        "holder_name": order.holder_name,
        "end_beneficiary": order.holder_name,
        "claimant": claimant.name if claimant is not None else "",
        "quantity_g": sum(allocation["quantity_g"] for allocation in allocations),
        "points": order.points,
        "issued_at": order.created_at,
        "retirements": backing_retirements(session, parts),
        "log": leaf_proof(session, kind="points.personal_offset", source_id=number),
        "statement": (
            "This certificate records retired sink credits allocated to one person's offset. "
            "The points paid for it are a reward currency and make no claim of their own."
        ),
    }


def offset_allocation_repoint(
    session: Session, *, target_id: str, from_allocation_id: int, to_allocation_id: int
) -> None:
    """Back a personal offset (target ``order:{id}``) by the allocation that replaced its
    reversed one (an operator resolving a claimant finding); its certificate keeps its number."""
    number = target_id.removeprefix("order:")
    moved = session.execute(
        sa.update(RedemptionOrder)
        .where(
            RedemptionOrder.id == (int(number) if number.isdigit() else 0),
            RedemptionOrder.allocation_id == from_allocation_id,
        )
        .values(allocation_id=to_allocation_id)
        .returning(RedemptionOrder.id)
    ).first()
    if moved is None:
        raise RedemptionError(code=ErrorCode.ORDER_STATE_CONFLICT, params={"status": "-"})
