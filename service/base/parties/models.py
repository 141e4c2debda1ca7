"""Users, organisations and the roles users hold in them.

A role is always held in an organisation: enterprise staff in an enterprise, farm staff in a farm
or cooperative, and consumers, operators, certifiers and auditors in the one platform
organisation. The database enforces the kinds, the roles and which identifiers each kind needs.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.base.orm import Base, utcnow

ORGANISATION_KINDS = ("enterprise", "farm", "cooperative", "platform")
ORGANISATION_STATUSES = ("pending", "approved", "suspended")
INVITATION_STATUSES = ("pending", "accepted", "declined")
ROLES = ("consumer", "enterprise_staff", "farm_staff", "operator", "certifier", "auditor")
#: Which organisation kinds each role may be held in.
ROLE_ORGANISATION_KINDS: dict[str, tuple[str, ...]] = {
    "consumer": ("platform",),
    "enterprise_staff": ("enterprise",),
    "farm_staff": ("farm", "cooperative"),
    "operator": ("platform",),
    "certifier": ("platform",),
    "auditor": ("platform",),
}
PLATFORM_ROLES = ("operator", "certifier", "auditor")
STAFF_ROLE_BY_KIND = {
    "enterprise": "enterprise_staff",
    "farm": "farm_staff",
    "cooperative": "farm_staff",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(sa.String(64), default="")
    username: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    phone_country_code: Mapped[str | None] = mapped_column(sa.String(4))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", foreign_keys="Membership.user_id", lazy="selectin"
    )


class WeChatIdentity(Base):
    """A user as one mini-program (appid) knows them; unionid links the user across appids."""

    __tablename__ = "wechat_identities"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    appid: Mapped[str] = mapped_column(sa.String(32))
    openid: Mapped[str] = mapped_column(sa.String(64))
    unionid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("appid", "openid"),)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(128))
    uscc: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    region_code: Mapped[str | None] = mapped_column(sa.String(6))
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    contact_name: Mapped[str | None] = mapped_column(sa.String(64))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(20))
    address: Mapped[str | None] = mapped_column(sa.String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    approved_at: Mapped[datetime | None]
    approved_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    memberships: Mapped[list[Membership]] = relationship(back_populates="organisation")

    __table_args__ = (
        sa.CheckConstraint(_in("kind", ORGANISATION_KINDS), name="kind_known"),
        sa.CheckConstraint(_in("status", ORGANISATION_STATUSES), name="status_known"),
        sa.CheckConstraint("kind <> 'enterprise' OR uscc IS NOT NULL", name="enterprise_has_uscc"),
        sa.CheckConstraint(
            "kind NOT IN ('farm', 'cooperative') OR region_code IS NOT NULL",
            name="farm_has_region_code",
        ),
        sa.Index(
            "uq_organisations_one_platform",
            "kind",
            unique=True,
            sqlite_where=sa.text("kind = 'platform'"),
            postgresql_where=sa.text("kind = 'platform'"),
        ),
        sa.Index("ix_organisations_kind_status", "kind", "status"),
    )


class Membership(Base):
    __tablename__ = "memberships"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(sa.String(24))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    user: Mapped[User] = relationship(back_populates="memberships", foreign_keys=[user_id])
    organisation: Mapped[Organisation] = relationship(back_populates="memberships", lazy="joined")

    __table_args__ = (
        sa.UniqueConstraint("user_id", "organisation_id", "role"),
        sa.CheckConstraint(_in("role", ROLES), name="role_known"),
    )


class Invitation(Base):
    """An offer of a role in an organisation, to whoever holds a phone number.

    It grants nothing until the holder of the number accepts it; then a membership is made. It
    names a number, not a user, so inviting answers alike whether the number is registered or
    not, and a number registered later finds the invitation waiting (until ``expires_at``).
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(sa.String(24))
    phone: Mapped[str] = mapped_column(sa.String(20), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    invited_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    answered_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    organisation: Mapped[Organisation] = relationship(lazy="joined", innerjoin=True)

    __table_args__ = (
        sa.CheckConstraint(_in("role", ROLES), name="role_known"),
        sa.CheckConstraint(_in("status", INVITATION_STATUSES), name="status_known"),
        sa.CheckConstraint(
            "(status = 'pending') = (answered_at IS NULL)", name="answered_unless_pending"
        ),
    )
