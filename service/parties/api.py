"""Organisations and their staff.

Staff see and change only their own organisations; platform operators, certifiers and auditors
see all, and only operators approve or suspend. An organisation a principal may not see answers
404, so ids reveal nothing. Staff join by invitation (``service.base.parties.invitations``):
nobody is made a member without accepting, and inviting reveals nothing about a phone number.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint

from service.auth.authz import authenticated, requires
from service.base.config import PAGE_SIZE_MAX
from service.base.exceptions import Forbidden, ValidationFailed
from service.base.parties import invitations, services
from service.base.parties.identifiers import normalise_mobile
from service.base.parties.models import Invitation, Membership, Organisation
from service.db import get_session, utcnow
from service.pagination import paginate
from service.parties.schemas import (
    InvitationCreateSchema,
    InvitationSchema,
    MemberSchema,
    OrganisationCreateSchema,
    OrganisationQuerySchema,
    OrganisationSchema,
    OrganisationUpdateSchema,
)

blp = Blueprint(
    "organisations",
    __name__,
    url_prefix="/api/v1/organisations",
    description="Enterprises, farms and cooperatives, and their staff.",
)
PAGE_SIZE_DEFAULT = 20


@blp.route("")
class Organisations(MethodView):
    @blp.arguments(OrganisationQuerySchema, location="query")
    @blp.response(200, OrganisationSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires()
    def get(self, query: dict, pagination_parameters):
        """Organisations the caller may see: their own, or all for platform staff."""
        principal = authenticated()
        statement = sa.select(Organisation).where(Organisation.kind != "platform")
        if not principal.is_platform_staff:
            statement = statement.where(
                Organisation.id.in_(principal.organisation_ids("enterprise_staff", "farm_staff"))
            )
        for name in ("kind", "status"):
            if name in query:
                statement = statement.where(getattr(Organisation, name) == query[name])
        return paginate(get_session(), statement.order_by(Organisation.id), pagination_parameters)

    @blp.arguments(OrganisationCreateSchema)
    @blp.response(201, OrganisationSchema)
    @requires()
    def post(self, body: dict):
        """Register an enterprise, farm or cooperative; it waits for an operator's approval."""
        return services.organisation_register(
            get_session(), user_id=authenticated().user_id, **body
        )


@blp.route("/<id:organisation_id>")
class OrganisationItem(MethodView):
    @blp.response(200, OrganisationSchema)
    @requires()
    def get(self, organisation_id: int):
        """One organisation, if the caller may see it."""
        return services.organisation_for_reader(get_session(), authenticated(), organisation_id)

    @blp.arguments(OrganisationUpdateSchema)
    @blp.response(200, OrganisationSchema)
    @requires()
    def patch(self, changes: dict, organisation_id: int):
        """Change details; identifiers only while the organisation awaits approval."""
        session = get_session()
        principal = authenticated()
        organisation = services.organisation_for_reader(session, principal, organisation_id)
        if not services.can_manage_organisation(principal, organisation):
            raise Forbidden()
        principal.organisation_write_check(organisation.id)
        return services.organisation_update(session, organisation=organisation, changes=changes)


def _set_status(organisation_id: int, status: str) -> Organisation:
    session = get_session()
    organisation = services.organisation_get(session, organisation_id)
    return services.organisation_set_status(
        session,
        organisation=organisation,
        status=status,
        operator_id=authenticated().user_id,
        now=utcnow(),
    )


@blp.route("/<id:organisation_id>/approve")
class OrganisationApprove(MethodView):
    @blp.response(200, OrganisationSchema)
    @requires("operator")
    def post(self, organisation_id: int):
        """Approve a registered organisation (operators)."""
        return _set_status(organisation_id, "approved")


@blp.route("/<id:organisation_id>/suspend")
class OrganisationSuspend(MethodView):
    @blp.response(200, OrganisationSchema)
    @requires("operator")
    def post(self, organisation_id: int):
        """Suspend an organisation (operators)."""
        return _set_status(organisation_id, "suspended")


@blp.route("/<id:organisation_id>/members")
class OrganisationMembers(MethodView):
    @blp.response(200, MemberSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires()
    def get(self, organisation_id: int, pagination_parameters):
        """The organisation's staff."""
        session = get_session()
        organisation = services.organisation_for_reader(session, authenticated(), organisation_id)
        statement = (
            sa.select(Membership)
            .where(Membership.organisation_id == organisation.id)
            .order_by(Membership.id)
        )
        return paginate(session, statement, pagination_parameters)


@blp.route("/<id:organisation_id>/invitations")
class OrganisationInvitations(MethodView):
    @blp.response(200, InvitationSchema(many=True))
    @blp.paginate(page_size=PAGE_SIZE_DEFAULT, max_page_size=PAGE_SIZE_MAX)
    @requires("enterprise_staff", "farm_staff", "operator")
    def get(self, organisation_id: int, pagination_parameters):
        """The organisation's invitations still waiting for an answer."""
        session = get_session()
        organisation = _managed(session, organisation_id)
        statement = invitations.organisation_invitations(organisation, now=utcnow())
        return paginate(session, statement, pagination_parameters)

    @blp.arguments(InvitationCreateSchema)
    @blp.response(201, InvitationSchema)
    @requires("enterprise_staff", "farm_staff", "operator")
    def post(self, body: dict, organisation_id: int):
        """Invite a colleague by phone number; they join when they accept.

        The answer is the same whether or not anyone has registered the number: the invitation
        waits for whoever binds it (until it expires). Only an approved organisation invites.
        """
        session = get_session()
        organisation = _managed(session, organisation_id)
        authenticated().organisation_write_check(organisation.id)
        try:
            phone = normalise_mobile(body["phone"])
        except ValueError as error:
            raise ValidationFailed.field("phone", str(error)) from error
        invitations.invitation_check(organisation, body["role"])
        return invitations.invitation_create(
            session,
            organisation=organisation,
            phone=phone,
            role=body["role"],
            invited_by_user_id=authenticated().user_id,
            now=utcnow(),
            ttl_s=current_app.config["INVITATION_TTL_S"],
        )


def _managed(session, organisation_id: int) -> Organisation:
    principal = authenticated()
    organisation = services.organisation_for_reader(session, principal, organisation_id)
    if not services.can_manage_organisation(principal, organisation):
        raise Forbidden()
    return organisation


my_invitations_blp = Blueprint(
    "my_invitations",
    __name__,
    url_prefix="/api/v1/me/invitations",
    description="Invitations to join an organisation, for the signed-in user to answer.",
)


@my_invitations_blp.route("")
class MyInvitations(MethodView):
    @my_invitations_blp.response(200, InvitationSchema(many=True))
    @requires()
    def get(self):
        """The invitations waiting for the phone number bound to the signed-in user."""
        session = get_session()
        user = services.user_get(session, authenticated().user_id)
        return invitations.invitations_for(session, user=user, now=utcnow())


def _answer(invitation_id: int, *, accept: bool) -> Invitation:
    session = get_session()
    user = services.user_get(session, authenticated().user_id)
    return invitations.invitation_answer(
        session, invitation_id=invitation_id, user=user, accept=accept, now=utcnow()
    )


@my_invitations_blp.route("/<id:invitation_id>/accept")
class MyInvitationAccept(MethodView):
    @my_invitations_blp.response(200, InvitationSchema)
    @requires()
    def post(self, invitation_id: int):
        """Accept: the signed-in user joins the organisation in the invitation's role."""
        return _answer(invitation_id, accept=True)


@my_invitations_blp.route("/<id:invitation_id>/decline")
class MyInvitationDecline(MethodView):
    @my_invitations_blp.response(200, InvitationSchema)
    @requires()
    def post(self, invitation_id: int):
        """Decline: nothing is granted, and the invitation is spent."""
        return _answer(invitation_id, accept=False)
