"""Joining an organisation is an invitation its invitee accepts.

Staff of an approved organisation invite a phone number to a role; the holder of that number,
signed in with it bound, sees the invitation and accepts or declines it. Until accepted it grants
nothing. Inviting never looks the number up, so it answers alike whether anyone holds the number
(no enumeration of registered numbers), and a number registered later finds the invitation
waiting until it expires.

Each function takes the session first, flushes, and never commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from service.base.exceptions import Conflict, ErrorCode, NotFound
from service.base.parties.models import Invitation, Organisation, User
from service.base.parties.services import membership_check, membership_grant

#: Invitations one organisation may have waiting at once: enough for a cooperative's season,
#: too few to use an organisation as a spam cannon.
PENDING_INVITATIONS_MAX = 50


def invitation_check(organisation: Organisation, role: str) -> None:
    """An organisation invites only once an operator has approved it (a pending one is anyone's
    to register), and only to a role its kind holds."""
    if organisation.status != "approved":
        raise Conflict(code=ErrorCode.ORGANISATION_NOT_APPROVED)
    membership_check(organisation, role)


def invitation_create(
    session: Session,
    *,
    organisation: Organisation,
    phone: str,
    role: str,
    invited_by_user_id: int,
    now: datetime,
    ttl_s: int,
) -> Invitation:
    """Invite whoever holds ``phone`` (normalised) to ``role``; inviting again while an
    invitation waits returns that one. At most ``PENDING_INVITATIONS_MAX`` wait at once. Call
    ``invitation_check`` first."""
    waiting = (
        Invitation.organisation_id == organisation.id,
        Invitation.status == "pending",
        Invitation.expires_at > now,
    )
    existing = session.scalars(
        sa.select(Invitation).where(*waiting, Invitation.phone == phone, Invitation.role == role)
    ).first()
    if existing is not None:
        return existing
    pending = session.scalar(sa.select(sa.func.count()).select_from(Invitation).where(*waiting))
    if pending >= PENDING_INVITATIONS_MAX:
        limit = {"limit": PENDING_INVITATIONS_MAX}
        raise Conflict(code=ErrorCode.INVITATIONS_TOO_MANY, params=limit)
    invitation = Invitation(
        organisation_id=organisation.id,
        role=role,
        phone=phone,
        status="pending",
        invited_by_user_id=invited_by_user_id,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    session.add(invitation)
    session.flush()
    return invitation


def invitations_for(session: Session, *, user: User, now: datetime) -> list[Invitation]:
    """The invitations waiting for the phone number bound to ``user`` (none without one)."""
    if not user.phone:
        return []
    return list(
        session.scalars(
            sa.select(Invitation)
            .where(
                Invitation.phone == user.phone,
                Invitation.status == "pending",
                Invitation.expires_at > now,
            )
            .order_by(Invitation.id)
        )
    )


def invitation_answer(
    session: Session, *, invitation_id: int, user: User, accept: bool, now: datetime
) -> Invitation:
    """Accept (a membership is made) or decline an invitation to the user's bound phone number.

    Another person's invitation is ``NotFound``; one already answered or expired is
    ``invitation_not_pending``; accepting into an organisation no longer approved is
    ``organisation_not_approved``. Locks the invitation row, so two answers cannot both count.
    """
    invitation = session.scalars(
        sa.select(Invitation).where(Invitation.id == invitation_id).with_for_update(of=Invitation)
    ).one_or_none()
    if invitation is None or not user.phone or invitation.phone != user.phone:
        raise NotFound()
    if invitation.status != "pending" or invitation.expires_at <= now:
        raise Conflict(code=ErrorCode.INVITATION_NOT_PENDING)
    if accept:
        if invitation.organisation.status != "approved":
            raise Conflict(code=ErrorCode.ORGANISATION_NOT_APPROVED)
        membership_grant(
            session,
            user_id=user.id,
            organisation=invitation.organisation,
            role=invitation.role,
            granted_by_user_id=invitation.invited_by_user_id,
        )
    invitation.status = "accepted" if accept else "declined"
    invitation.answered_at = now
    invitation.answered_by_user_id = user.id
    session.flush()
    session.expire(user, ["memberships"])
    return invitation


def organisation_invitations(organisation: Organisation, *, now: datetime) -> sa.Select:
    """The organisation's invitations still waiting, for its staff to list."""
    return (
        sa.select(Invitation)
        .where(
            Invitation.organisation_id == organisation.id,
            Invitation.status == "pending",
            Invitation.expires_at > now,
        )
        .order_by(Invitation.id)
    )
