"""Use cases for parties. Each takes the session first, flushes when it needs ids, never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.base.exceptions import (
    AlreadyExists,
    Conflict,
    FieldMessage,
    NotFound,
    OrganisationSuspended,
    ValidationFailed,
)
from service.base.parties.identifiers import normalise_region_code, normalise_uscc
from service.base.parties.models import (
    PLATFORM_ROLES,
    ROLE_ORGANISATION_KINDS,
    STAFF_ROLE_BY_KIND,
    Membership,
    Organisation,
    User,
)

PLATFORM_NAME = "碳汇平台 Tanhui platform"
SELF_REGISTERED_KINDS = ("enterprise", "farm", "cooperative")


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user and the roles they hold, by organisation, and which of those
    organisations are suspended (their staff read but do not write)."""

    user_id: int
    session_id: str | None
    roles: frozenset[tuple[str, int]]
    suspended: frozenset[int] = frozenset()

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(role for role, _ in self.roles)

    def has_any_role(self, roles: tuple[str, ...] | list[str]) -> bool:
        return bool(self.role_names.intersection(roles))

    def organisation_ids(self, *roles: str) -> frozenset[int]:
        return frozenset(org for role, org in self.roles if not roles or role in roles)

    @property
    def is_platform_staff(self) -> bool:
        return self.has_any_role(PLATFORM_ROLES)

    def writing(self) -> Principal:
        """The principal as a writer: without the roles held in suspended organisations."""
        if not self.suspended:
            return self
        roles = frozenset((role, org) for role, org in self.roles if org not in self.suspended)
        return Principal(self.user_id, self.session_id, roles)

    def write_check(self, roles: tuple[str, ...] | list[str]) -> None:
        """Refuse a write that only roles in a suspended organisation would allow."""
        if roles and not self.writing().has_any_role(roles) and self.has_any_role(roles):
            raise OrganisationSuspended()

    def organisation_write_check(self, organisation_id: int) -> None:
        """Refuse a write to a suspended organisation's things by its own staff."""
        if organisation_id in self.suspended:
            raise OrganisationSuspended()


def principal_for(user: User, session_id: str | None = None) -> Principal:
    return Principal(
        user_id=user.id,
        session_id=session_id,
        roles=frozenset((m.role, m.organisation_id) for m in user.memberships),
        suspended=frozenset(
            m.organisation_id for m in user.memberships if m.organisation.status == "suspended"
        ),
    )


# -- the platform ---------------------------------------------------------------------------------
def platform_organisation(session: Session) -> Organisation:
    """Return the one platform organisation, creating it on first use (safe under races)."""
    statement = sa.select(Organisation).where(Organisation.kind == "platform")
    platform = session.scalars(statement).one_or_none()
    if platform is not None:
        return platform
    try:
        with session.begin_nested():
            platform = Organisation(kind="platform", name=PLATFORM_NAME, status="approved")
            session.add(platform)
    except IntegrityError:
        platform = session.scalars(statement).one()
    return platform


# -- organisations --------------------------------------------------------------------------------
def organisation_check_identifiers(
    kind: str, uscc: str | None, region_code: str | None
) -> tuple[str | None, str | None]:
    """Validate what each kind needs; return the normalised identifiers."""
    errors: dict[str, list[str]] = {}
    if kind == "enterprise" and not uscc:
        errors["uscc"] = [FieldMessage("Required for {kind} organisations.", kind=kind)]
    if kind in ("farm", "cooperative") and not region_code:
        errors["region_code"] = [FieldMessage("Required for {kind} organisations.", kind=kind)]
    if uscc:
        try:
            uscc = normalise_uscc(uscc)
        except ValueError as error:
            errors["uscc"] = [str(error)]
    if region_code:
        try:
            region_code = normalise_region_code(region_code)
        except ValueError as error:
            errors["region_code"] = [str(error)]
    if errors:
        raise ValidationFailed(fields=errors)
    return uscc or None, region_code or None


def organisation_register(
    session: Session,
    *,
    user_id: int,
    kind: str,
    name: str,
    uscc: str | None = None,
    region_code: str | None = None,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    address: str | None = None,
) -> Organisation:
    """Register an enterprise, farm or cooperative pending approval; the registrant is its staff."""
    if kind not in SELF_REGISTERED_KINDS:
        raise ValidationFailed.field(
            "kind",
            FieldMessage("Must be one of: {choices}.", choices=", ".join(SELF_REGISTERED_KINDS)),
        )
    uscc, region_code = organisation_check_identifiers(kind, uscc, region_code)
    if uscc and session.scalar(sa.select(Organisation.id).where(Organisation.uscc == uscc)):
        raise AlreadyExists("Organisation with this unified social credit code", field="uscc")
    organisation = Organisation(
        kind=kind,
        name=name,
        uscc=uscc,
        region_code=region_code,
        status="pending",
        contact_name=contact_name,
        contact_phone=contact_phone,
        address=address,
    )
    session.add(organisation)
    session.flush()
    session.add(
        Membership(
            user_id=user_id,
            organisation_id=organisation.id,
            role=STAFF_ROLE_BY_KIND[kind],
            created_by_user_id=user_id,
        )
    )
    session.flush()
    return organisation


UPDATABLE_FIELDS = ("name", "contact_name", "contact_phone", "address")
UPDATABLE_WHILE_PENDING = ("uscc", "region_code")


def organisation_update(
    session: Session, *, organisation: Organisation, changes: dict[str, str | None]
) -> Organisation:
    """Change an organisation's details; identifiers only while it awaits approval."""
    locked = [name for name in UPDATABLE_WHILE_PENDING if name in changes]
    if locked and organisation.status != "pending":
        raise ValidationFailed(
            fields={
                name: [FieldMessage("Not allowed for approved organisations.")] for name in locked
            }
        )
    if locked:
        uscc, region_code = organisation_check_identifiers(
            organisation.kind,
            changes.get("uscc", organisation.uscc),
            changes.get("region_code", organisation.region_code),
        )
        if uscc != organisation.uscc and session.scalar(
            sa.select(Organisation.id).where(Organisation.uscc == uscc)
        ):
            raise AlreadyExists("Organisation with this unified social credit code", field="uscc")
        organisation.uscc, organisation.region_code = uscc, region_code
    for name in UPDATABLE_FIELDS:
        if name in changes:
            setattr(organisation, name, changes[name])
    session.flush()
    return organisation


def organisation_set_status(
    session: Session, *, organisation: Organisation, status: str, operator_id: int, now: datetime
) -> Organisation:
    """Approve or suspend an organisation (the platform itself is always approved)."""
    if organisation.kind == "platform":
        raise Conflict()
    if status == organisation.status:
        return organisation
    organisation.status = status
    if status == "approved":
        organisation.approved_at = now
        organisation.approved_by_user_id = operator_id
    session.flush()
    return organisation


def organisation_active_check(session: Session, organisation_id: int) -> None:
    """Refuse what acts for a suspended organisation whoever asks (printing its units' codes)."""
    status = session.scalar(
        sa.select(Organisation.status).where(Organisation.id == organisation_id)
    )
    if status == "suspended":
        raise OrganisationSuspended()


def organisation_get(session: Session, organisation_id: int) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound()
    return organisation


# -- memberships ---------------------------------------------------------------------------------
def membership_check(organisation: Organisation, role: str) -> None:
    if organisation.kind not in ROLE_ORGANISATION_KINDS.get(role, ()):
        raise ValidationFailed.field("role", "Invalid value.")


def membership_grant(
    session: Session,
    *,
    user_id: int,
    organisation: Organisation,
    role: str,
    granted_by_user_id: int | None,
) -> Membership:
    """Give a user a role in an organisation; granting a role they hold is a no-op.

    No request a user makes calls this for someone else: staff invite, and the invitee accepts
    (``invitations.invitation_answer`` calls this). Direct grants are administrative acts:
    registering one's own organisation, ``tanhui staff create``, and the demo's seed.
    """
    membership_check(organisation, role)
    existing = session.scalars(
        sa.select(Membership).where(
            Membership.user_id == user_id,
            Membership.organisation_id == organisation.id,
            Membership.role == role,
        )
    ).one_or_none()
    if existing is not None:
        return existing
    membership = Membership(
        user_id=user_id,
        organisation_id=organisation.id,
        role=role,
        created_by_user_id=granted_by_user_id,
    )
    session.add(membership)
    session.flush()
    return membership


# -- users ---------------------------------------------------------------------------------------
def user_get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound()
    return user


def consumer_create(session: Session, *, display_name: str = "") -> User:
    """A new consumer: a user holding the consumer role in the platform."""
    user = User(display_name=display_name)
    session.add(user)
    session.flush()
    membership_grant(
        session,
        user_id=user.id,
        organisation=platform_organisation(session),
        role="consumer",
        granted_by_user_id=None,
    )
    return user


def staff_create(
    session: Session,
    *,
    username: str,
    password_hash: str,
    role: str,
    organisation: Organisation | None = None,
    display_name: str = "",
    phone: str | None = None,
) -> User:
    """A staff user with a password, holding ``role`` in ``organisation`` (default: platform)."""
    if session.scalar(sa.select(User.id).where(User.username == username)):
        raise AlreadyExists("User with this username", field="username")
    organisation = organisation or platform_organisation(session)
    membership_check(organisation, role)
    user = User(
        username=username, password_hash=password_hash, display_name=display_name, phone=phone
    )
    session.add(user)
    session.flush()
    membership_grant(
        session, user_id=user.id, organisation=organisation, role=role, granted_by_user_id=None
    )
    session.refresh(user, ["memberships"])
    return user


# -- who may see and change what ------------------------------------------------------------------
def can_read_organisation(principal: Principal, organisation: Organisation) -> bool:
    if organisation.kind == "platform":
        return principal.is_platform_staff
    return principal.is_platform_staff or organisation.id in principal.organisation_ids(
        "enterprise_staff", "farm_staff"
    )


def can_manage_organisation(principal: Principal, organisation: Organisation) -> bool:
    if organisation.kind == "platform":
        return principal.has_any_role(("operator",))
    return principal.has_any_role(("operator",)) or organisation.id in principal.organisation_ids(
        "enterprise_staff", "farm_staff"
    )


def organisation_for_reader(
    session: Session, principal: Principal, organisation_id: int
) -> Organisation:
    """The organisation, or ``NotFound`` when the principal may not see it (so ids do not leak)."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or not can_read_organisation(principal, organisation):
        raise NotFound()
    return organisation
