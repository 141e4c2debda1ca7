"""Organisations: registration, approval, and who may see or change which one."""

import pytest
import sqlalchemy as sa

from service.base.parties.models import Membership, Organisation
from tests.conftest import count_rows, valid_uscc


@pytest.fixture()
def enterprise_staff(make_organisation, make_staff, sign_in):
    """Return (organisation, tokens) for a fresh enterprise and one of its staff."""

    def make():
        organisation = make_organisation("enterprise")
        user = make_staff(role="enterprise_staff", organisation=organisation)
        return organisation, sign_in(user.username)

    return make


@pytest.fixture()
def operator(make_staff, sign_in):
    return sign_in(make_staff(role="operator").username)


# -- registration ---------------------------------------------------------------------------------
def test_a_user_registers_an_enterprise_and_becomes_its_staff(
    client, consumer_tokens, bearer, session
):
    tokens = consumer_tokens()
    response = client.post(
        "/api/v1/organisations",
        headers=bearer(tokens),
        json={"kind": "enterprise", "name": "练塘大米", "uscc": "91310118ma1fl4xq09"},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert (body["kind"], body["status"], body["uscc"]) == (
        "enterprise",
        "pending",
        "91310118MA1FL4XQ09",
    )
    roles = client.get("/api/v1/me", headers=bearer(tokens)).get_json()["memberships"]
    assert {
        "role": "enterprise_staff",
        "organisation_id": body["id"],
        "organisation_kind": "enterprise",
        "organisation_name": "练塘大米",
    } in roles


def test_a_farm_needs_a_known_region_code(client, consumer_tokens, bearer, session):
    tokens = consumer_tokens()
    before = count_rows(session, "organisations")
    missing = client.post(
        "/api/v1/organisations", headers=bearer(tokens), json={"kind": "farm", "name": "沈氏农场"}
    )
    unknown = client.post(
        "/api/v1/organisations",
        headers=bearer(tokens),
        json={"kind": "farm", "name": "沈氏农场", "region_code": "999999"},
    )
    assert missing.status_code == unknown.status_code == 422
    assert missing.get_json()["fields"] == [
        {"field": "region_code", "message": "farm 类组织必须填写。"}
    ]
    assert unknown.get_json()["fields"][0]["message"] == "不是已知的 GB/T 2260 行政区划代码。"
    ok = client.post(
        "/api/v1/organisations",
        headers=bearer(tokens),
        json={"kind": "farm", "name": "沈氏农场", "region_code": "320509"},
    )
    assert ok.status_code == 201
    assert count_rows(session, "organisations") == before + 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "enterprise", "name": "No code"}, "uscc"),
        ({"kind": "enterprise", "name": "Bad code", "uscc": "91110000600037341A"}, "uscc"),
        ({"kind": "platform", "name": "Another platform"}, "kind"),
        ({"kind": "enterprise", "name": "", "uscc": "91110000600037341L"}, "name"),
        ({"kind": "enterprise", "name": "x" * 129, "uscc": "91110000600037341L"}, "name"),
    ],
)
def test_registration_rejects_bad_input_and_changes_nothing(
    client, consumer_tokens, bearer, session, body, field
):
    tokens = consumer_tokens()
    before = count_rows(session, "organisations")
    response = client.post("/api/v1/organisations", json=body, headers=bearer(tokens))
    assert response.status_code == 422
    assert [row["field"] for row in response.get_json()["fields"]] == [field]
    assert count_rows(session, "organisations") == before


def test_registration_needs_sign_in(client):
    response = client.post(
        "/api/v1/organisations", json={"kind": "farm", "name": "x", "region_code": "310118"}
    )
    assert response.status_code == 401


# -- approval --------------------------------------------------------------------------------------
def test_an_operator_approves_and_suspends(client, operator, bearer, make_organisation, session):
    organisation = make_organisation(status="pending")
    approved = client.post(
        f"/api/v1/organisations/{organisation.id}/approve", headers=bearer(operator)
    )
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "approved"
    assert approved.get_json()["approved_at"]
    suspended = client.post(
        f"/api/v1/organisations/{organisation.id}/suspend", headers=bearer(operator)
    )
    assert suspended.get_json()["status"] == "suspended"


@pytest.mark.parametrize("role", ["certifier", "auditor", "enterprise_staff"])
def test_only_operators_approve(client, make_staff, make_organisation, sign_in, bearer, role):
    organisation = make_organisation(status="pending")
    home = make_organisation("enterprise") if role == "enterprise_staff" else None
    tokens = sign_in(make_staff(role=role, organisation=home).username)
    response = client.post(
        f"/api/v1/organisations/{organisation.id}/approve", headers=bearer(tokens)
    )
    assert response.status_code == 403
    assert response.get_json()["code"] == "role_required"


# -- one enterprise's staff cannot reach another's ---------------------------------------------
def test_staff_read_and_change_their_own_enterprise(client, enterprise_staff, bearer):
    organisation, tokens = enterprise_staff()
    assert (
        client.get(f"/api/v1/organisations/{organisation.id}", headers=bearer(tokens)).status_code
        == 200
    )
    response = client.patch(
        f"/api/v1/organisations/{organisation.id}",
        headers=bearer(tokens),
        json={"contact_name": "王经理"},
    )
    assert response.status_code == 200
    assert response.get_json()["contact_name"] == "王经理"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"name": "Taken over"}),
        ("get", "/members", None),
        ("get", "/invitations", None),
        ("post", "/invitations", {"phone": "13800138000", "role": "enterprise_staff"}),
    ],
)
def test_staff_cannot_reach_another_enterprise(
    client, enterprise_staff, bearer, session, method, suffix, body
):
    theirs, _ = enterprise_staff()
    _, mine = enterprise_staff()
    name_before = theirs.name
    response = getattr(client, method)(
        f"/api/v1/organisations/{theirs.id}{suffix}", headers=bearer(mine), json=body
    )
    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
    session.expire_all()
    assert session.get(Organisation, theirs.id).name == name_before
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Membership)
            .where(Membership.organisation_id == theirs.id)
        )
        == 1
    )


def test_staff_list_only_their_own(client, enterprise_staff, bearer):
    mine, tokens = enterprise_staff()
    enterprise_staff()
    response = client.get("/api/v1/organisations", headers=bearer(tokens))
    assert [o["id"] for o in response.get_json()] == [mine.id]


def test_a_consumer_cannot_reach_staff_endpoints(client, consumer_tokens, enterprise_staff, bearer):
    organisation, _ = enterprise_staff()
    tokens = consumer_tokens()
    assert client.get("/api/v1/organisations", headers=bearer(tokens)).get_json() == []
    for method, path, body in [
        ("get", f"/api/v1/organisations/{organisation.id}", None),
        ("get", f"/api/v1/organisations/{organisation.id}/members", None),
        ("patch", f"/api/v1/organisations/{organisation.id}", {"name": "x"}),
    ]:
        assert getattr(client, method)(path, headers=bearer(tokens), json=body).status_code == 404
    for method, path, body in [
        (
            "post",
            f"/api/v1/organisations/{organisation.id}/invitations",
            {"phone": "13800138000", "role": "enterprise_staff"},
        ),
        ("post", f"/api/v1/organisations/{organisation.id}/approve", None),
        ("post", f"/api/v1/organisations/{organisation.id}/suspend", None),
    ]:
        response = getattr(client, method)(path, headers=bearer(tokens), json=body)
        assert response.status_code == 403, path
        assert response.get_json()["code"] == "role_required"


def test_platform_staff_see_every_organisation(
    client, make_staff, sign_in, bearer, enterprise_staff
):
    first, _ = enterprise_staff()
    second, _ = enterprise_staff()
    auditor = sign_in(make_staff(role="auditor").username)
    response = client.get("/api/v1/organisations?kind=enterprise", headers=bearer(auditor))
    assert {o["id"] for o in response.get_json()} >= {first.id, second.id}
    # ...but only operators change them.
    patch = client.patch(
        f"/api/v1/organisations/{first.id}", json={"name": "x"}, headers=bearer(auditor)
    )
    assert patch.status_code == 403


def test_lists_are_paginated(client, operator, bearer, make_organisation):
    for _ in range(3):
        make_organisation()
    response = client.get("/api/v1/organisations?page=1&page_size=2", headers=bearer(operator))
    assert len(response.get_json()) == 2
    assert '"total": 3' in response.headers["X-Pagination"]
    too_big = client.get("/api/v1/organisations?page_size=101", headers=bearer(operator))
    assert too_big.status_code == 422
    assert too_big.get_json()["fields"][0]["field"] == "page_size"


# -- staff ----------------------------------------------------------------------------------------
def test_identifiers_are_fixed_once_approved(client, enterprise_staff, bearer):
    organisation, tokens = enterprise_staff()
    response = client.patch(
        f"/api/v1/organisations/{organisation.id}",
        headers=bearer(tokens),
        json={"uscc": valid_uscc(9999)},
    )
    assert response.status_code == 422
    assert response.get_json()["fields"][0]["field"] == "uscc"


# -- the database enforces the rules too ----------------------------------------------------------
@pytest.mark.parametrize(
    "values",
    [
        {"kind": "enterprise", "name": "no uscc", "status": "approved"},
        {"kind": "farm", "name": "no region", "status": "approved"},
        {"kind": "shop", "name": "bad kind", "status": "approved", "region_code": "310118"},
        {"kind": "farm", "name": "bad status", "status": "gone", "region_code": "310118"},
    ],
)
def test_check_constraints(session, values):
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        session.execute(sa.insert(Organisation).values(**values))


def test_there_is_one_platform(session):
    from service.base.parties.services import platform_organisation

    first = platform_organisation(session)
    assert platform_organisation(session).id == first.id
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        session.execute(
            sa.insert(Organisation).values(kind="platform", name="second", status="approved")
        )
