"""Products of enterprises. Functions take a session and never commit.

Enterprise staff manage their own enterprise's products; operators manage any. A product another
enterprise owns answers ``NotFound``, so ids reveal nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from labels.errors import GtinTaken
from labels.gtin import normalise_gtin
from labels.models import Product
from service.base.exceptions import Forbidden, NotFound, ValidationFailed
from service.base.parties.models import Organisation
from service.base.parties.services import Principal

#: Largest sales unit, in grams (a 50 kg sack).
NET_CONTENT_MAX_G = 50_000


def _gtin(value: str) -> str:
    try:
        return normalise_gtin(value)
    except ValueError as error:
        raise ValidationFailed.field("gtin", str(error)) from error


def _gtin_free(session: Session, gtin: str, product_id: int | None = None) -> None:
    statement = sa.select(Product.id).where(Product.gtin == gtin)
    if product_id is not None:
        statement = statement.where(Product.id != product_id)
    if session.scalar(statement) is not None:
        raise GtinTaken()


def can_manage_products(principal: Principal, organisation_id: int) -> bool:
    return principal.has_any_role(("operator",)) or organisation_id in principal.organisation_ids(
        "enterprise_staff"
    )


def product_create(
    session: Session, *, principal: Principal, organisation_id: int, values: Mapping[str, Any]
) -> Product:
    """Register a product of an approved enterprise the principal works for."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or not (
        principal.is_platform_staff or organisation_id in principal.organisation_ids()
    ):
        raise NotFound()
    if not can_manage_products(principal, organisation_id):
        raise Forbidden()
    principal.organisation_write_check(organisation_id)
    if organisation.kind != "enterprise":
        raise ValidationFailed.field("organisation_id", "Products belong to enterprises.")
    if organisation.status != "approved":
        raise ValidationFailed.field(
            "organisation_id", "The enterprise awaits approval or is suspended."
        )
    gtin = _gtin(values["gtin"])
    _gtin_free(session, gtin)
    product = Product(organisation_id=organisation_id, **{**values, "gtin": gtin})
    session.add(product)
    session.flush()
    return product


def product_for_reader(session: Session, principal: Principal, product_id: int) -> Product:
    product = session.get(Product, product_id)
    if product is None or not (
        principal.is_platform_staff
        or product.organisation_id in principal.organisation_ids("enterprise_staff")
    ):
        raise NotFound()
    return product


def product_update(
    session: Session, *, principal: Principal, product: Product, changes: Mapping[str, Any]
) -> Product:
    if not can_manage_products(principal, product.organisation_id):
        raise Forbidden()
    principal.organisation_write_check(product.organisation_id)
    changes = dict(changes)
    if "gtin" in changes:
        changes["gtin"] = _gtin(changes["gtin"])
        _gtin_free(session, changes["gtin"], product.id)
    for name, value in changes.items():
        setattr(product, name, value)
    session.flush()
    return product


def products_visible(
    principal: Principal, *, organisation_id: int | None = None, category: str | None = None
) -> sa.Select[tuple[Product]]:
    """The products the principal may see (their enterprises', or all for platform staff), of
    one enterprise or category when given: a statement, so the caller pages it."""
    statement = sa.select(Product).order_by(Product.id)
    if not principal.is_platform_staff:
        statement = statement.where(
            Product.organisation_id.in_(principal.organisation_ids("enterprise_staff"))
        )
    if organisation_id is not None:
        statement = statement.where(Product.organisation_id == organisation_id)
    if category is not None:
        statement = statement.where(Product.category == category)
    return statement
