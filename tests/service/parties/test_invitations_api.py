"""Joining an organisation is an invitation the invited person accepts.

Issue 19, point 6: any signed-in user could register a pending farm and add any registered phone
number as ``farm_staff`` with no say from its holder, and the answer (201 or 404) told which
numbers were registered. Now staff invite a number; nothing is granted until its holder accepts;
inviting answers alike for any number; and only an approved organisation invites.
"""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from service.base.exceptions import Conflict
from service.base.parties import invitations
from service.base.parties.models import Invitation, Membership, Organisation, User

REGISTERED, UNREGISTERED = "13600000009", "13600000007"


@pytest.fixture()
def enterprise_staff(make_organisation, make_staff, sign_in):
    """Return (organisation, tokens, user) for a fresh approved enterprise and one of its staff."""

    def make(status="approved"):
        organisation = make_organisation("enterprise", status=status)
        user = make_staff(role="enterprise_staff", organisation=organisation)
        return organisation, sign_in(user.username), user

    return make


@pytest.fixture()
def consumer_with_phone(client, consumer_tokens, bearer, fake_wechat):
    """A consumer who has bound ``phone`` through WeChat; returns their tokens."""

    def make(phone):
        tokens = consumer_tokens()
        code = fake_wechat.issue_phone_code(phone)
        bound = client.post(
            "/api/v1/auth/wechat/phone", headers=bearer(tokens), json={"code": code}
        )
        assert bound.status_code == 200
        return tokens

    return make


@pytest.fixture()
def invite(client, bearer):
    def post(organisation, tokens, phone, role="enterprise_staff"):
        return client.post(
            f"/api/v1/organisations/{organisation.id}/invitations",
            headers=bearer(tokens),
            json={"phone": phone, "role": role},
        )

    return post


def memberships(session, organisation):
    return session.scalar(
        sa.select(sa.func.count())
        .select_from(Membership)
        .where(Membership.organisation_id == organisation.id)
    )


def test_inviting_answers_alike_whether_or_not_the_number_is_registered(
    enterprise_staff, consumer_with_phone, invite, session
):
    organisation, tokens, _ = enterprise_staff()
    consumer_with_phone(REGISTERED)
    registered = invite(organisation, tokens, "136 0000 0009")
    unregistered = invite(organisation, tokens, UNREGISTERED)
    assert registered.status_code == unregistered.status_code == 201
    per_call = {"id", "phone", "created_at", "expires_at"}

    def shape(response):
        body = response.get_json()
        return {key: value for key, value in body.items() if key not in per_call}

    assert shape(registered) == shape(unregistered)
    assert set(registered.get_json()) == set(unregistered.get_json())
    assert registered.get_json()["status"] == "pending"
    assert registered.get_json()["phone"] == REGISTERED
    # Nobody was made a member by inviting.
    assert memberships(session, organisation) == 1


def test_an_invitation_grants_nothing_until_its_invitee_accepts(
    client, bearer, enterprise_staff, consumer_with_phone, invite, session
):
    organisation, tokens, inviter = enterprise_staff()
    colleague = consumer_with_phone(REGISTERED)
    invitation = invite(organisation, tokens, REGISTERED).get_json()
    reach = f"/api/v1/organisations/{organisation.id}"
    assert client.get(reach, headers=bearer(colleague)).status_code == 404

    waiting = client.get("/api/v1/me/invitations", headers=bearer(colleague)).get_json()
    assert [(i["id"], i["organisation_name"], i["role"]) for i in waiting] == [
        (invitation["id"], organisation.name, "enterprise_staff")
    ]
    accepted = client.post(
        f"/api/v1/me/invitations/{invitation['id']}/accept", headers=bearer(colleague)
    )
    assert accepted.status_code == 200
    assert accepted.get_json()["status"] == "accepted"
    assert client.get(reach, headers=bearer(colleague)).status_code == 200
    joined = session.scalars(
        sa.select(Membership).where(Membership.user_id == colleague["user"]["id"],
                                    Membership.organisation_id == organisation.id)
    ).one()  # fmt: skip
    assert (joined.role, joined.created_by_user_id) == ("enterprise_staff", inviter.id)
    # An answer is final, and the invitation no longer waits.
    again = client.post(
        f"/api/v1/me/invitations/{invitation['id']}/decline", headers=bearer(colleague)
    )
    assert (again.status_code, again.get_json()["code"]) == (409, "invitation_not_pending")
    assert client.get("/api/v1/me/invitations", headers=bearer(colleague)).get_json() == []


def test_a_declined_invitation_grants_nothing(
    client, bearer, enterprise_staff, consumer_with_phone, invite, session
):
    organisation, tokens, _ = enterprise_staff()
    colleague = consumer_with_phone(REGISTERED)
    invitation = invite(organisation, tokens, REGISTERED).get_json()
    declined = client.post(
        f"/api/v1/me/invitations/{invitation['id']}/decline", headers=bearer(colleague)
    )
    assert (declined.status_code, declined.get_json()["status"]) == (200, "declined")
    assert memberships(session, organisation) == 1
    listed = client.get(
        f"/api/v1/organisations/{organisation.id}/invitations", headers=bearer(tokens)
    )
    assert listed.get_json() == []


def test_a_number_registered_later_finds_its_invitation_waiting(
    client, bearer, enterprise_staff, consumer_with_phone, invite
):
    organisation, tokens, _ = enterprise_staff()
    invitation = invite(organisation, tokens, UNREGISTERED).get_json()
    listed = client.get(
        f"/api/v1/organisations/{organisation.id}/invitations", headers=bearer(tokens)
    )
    assert [i["id"] for i in listed.get_json()] == [invitation["id"]]
    newcomer = consumer_with_phone(UNREGISTERED)
    waiting = client.get("/api/v1/me/invitations", headers=bearer(newcomer)).get_json()
    assert [i["id"] for i in waiting] == [invitation["id"]]
    accepted = client.post(
        f"/api/v1/me/invitations/{invitation['id']}/accept", headers=bearer(newcomer)
    )
    assert accepted.status_code == 200


def test_someone_elses_invitation_is_not_found(
    client, bearer, enterprise_staff, consumer_with_phone, consumer_tokens, invite, session
):
    organisation, tokens, _ = enterprise_staff()
    invitation = invite(organisation, tokens, REGISTERED).get_json()
    consumer_with_phone(REGISTERED)
    stranger = consumer_with_phone("13600000001")
    no_phone = consumer_tokens()
    for someone in (stranger, no_phone, tokens):
        assert client.get("/api/v1/me/invitations", headers=bearer(someone)).get_json() == []
        taken = client.post(
            f"/api/v1/me/invitations/{invitation['id']}/accept", headers=bearer(someone)
        )
        assert (taken.status_code, taken.get_json()["code"]) == (404, "not_found")
    assert memberships(session, organisation) == 1


def test_a_pending_organisation_cannot_invite(
    client, bearer, consumer_tokens, consumer_with_phone, invite, session
):
    """The attack of issue 19: register a farm (pending), then enrol anyone's number."""
    consumer_with_phone(REGISTERED)
    tokens = consumer_tokens()
    registered = client.post(
        "/api/v1/organisations",
        headers=bearer(tokens),
        json={"kind": "farm", "name": "某农场", "region_code": "310118"},
    )
    farm = session.get(Organisation, registered.get_json()["id"])
    for phone in (REGISTERED, UNREGISTERED):
        refused = invite(farm, tokens, phone, role="farm_staff")
        assert (refused.status_code, refused.get_json()["code"]) == (
            409,
            "organisation_not_approved",
        )
    assert session.scalar(sa.select(sa.func.count()).select_from(Invitation)) == 0
    assert memberships(session, farm) == 1


def test_accepting_into_an_organisation_suspended_since_is_refused(
    client, bearer, enterprise_staff, consumer_with_phone, invite, session
):
    organisation, tokens, _ = enterprise_staff()
    colleague = consumer_with_phone(REGISTERED)
    invitation = invite(organisation, tokens, REGISTERED).get_json()
    session.get(Organisation, organisation.id).status = "suspended"
    session.commit()
    refused = client.post(
        f"/api/v1/me/invitations/{invitation['id']}/accept", headers=bearer(colleague)
    )
    assert (refused.status_code, refused.get_json()["code"]) == (409, "organisation_not_approved")
    assert memberships(session, organisation) == 1


def test_a_bad_number_or_role_names_its_field(enterprise_staff, invite):
    organisation, tokens, _ = enterprise_staff()
    bad_phone = invite(organisation, tokens, "12345")
    assert (bad_phone.status_code, bad_phone.get_json()["fields"][0]["field"]) == (422, "phone")
    bad_role = invite(organisation, tokens, REGISTERED, role="farm_staff")
    assert (bad_role.status_code, bad_role.get_json()["fields"][0]["field"]) == (422, "role")


def test_adding_a_member_directly_is_gone(client, bearer, enterprise_staff, consumer_with_phone):
    organisation, tokens, _ = enterprise_staff()
    consumer_with_phone(REGISTERED)
    response = client.post(
        f"/api/v1/organisations/{organisation.id}/members",
        headers=bearer(tokens),
        json={"phone": REGISTERED, "role": "enterprise_staff"},
    )
    assert response.status_code == 405


# -- limits, at the service ------------------------------------------------------------------------
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def test_an_invitation_expires_after_its_ttl(app, session, make_organisation, make_staff):
    organisation = make_organisation("enterprise")
    inviter = make_staff(role="enterprise_staff", organisation=organisation)
    ttl_s = app.config["INVITATION_TTL_S"]
    invitation = invitations.invitation_create(
        session, organisation=organisation, phone=REGISTERED, role="enterprise_staff",
        invited_by_user_id=inviter.id, now=NOW, ttl_s=ttl_s,
    )  # fmt: skip
    invitee = User(display_name="", phone=REGISTERED)
    session.add(invitee)
    session.flush()
    last_moment = NOW + timedelta(seconds=ttl_s) - timedelta(microseconds=1)
    assert invitations.invitations_for(session, user=invitee, now=last_moment) == [invitation]
    expired = NOW + timedelta(seconds=ttl_s)
    assert invitations.invitations_for(session, user=invitee, now=expired) == []
    with pytest.raises(Conflict) as refused:
        invitations.invitation_answer(
            session, invitation_id=invitation.id, user=invitee, accept=True, now=expired
        )
    assert refused.value.code == "invitation_not_pending"


def test_an_organisation_has_at_most_so_many_invitations_waiting(
    session, make_organisation, make_staff
):
    organisation = make_organisation("enterprise")
    inviter = make_staff(role="enterprise_staff", organisation=organisation)

    def create(index):
        return invitations.invitation_create(
            session, organisation=organisation, phone=f"1370000{index:04d}",
            role="enterprise_staff", invited_by_user_id=inviter.id, now=NOW, ttl_s=3600,
        )  # fmt: skip

    first = create(0)
    for index in range(1, invitations.PENDING_INVITATIONS_MAX):
        create(index)
    assert create(0).id == first.id  # inviting the same number again is the same invitation
    with pytest.raises(Conflict) as refused:
        create(invitations.PENDING_INVITATIONS_MAX)
    assert refused.value.code == "invitations_too_many"
    assert refused.value.params == {"limit": invitations.PENDING_INVITATIONS_MAX}
