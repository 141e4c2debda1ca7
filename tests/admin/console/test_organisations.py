"""Organisations in the console: operators approve, auditors only read."""

from service.base.parties.models import Organisation


def test_an_operator_approves_a_farm(client, console_sign_in, csrf, make_organisation, session):
    console_sign_in("operator")
    farm = make_organisation("farm", name="练塘镇示范农场", status="pending")
    listing = client.get("/admin/organisations?status=pending&kind=farm").get_data(as_text=True)
    assert "练塘镇示范农场" in listing
    response = client.post(
        f"/admin/organisations/{farm.id}/status",
        data={"status": "approved", "csrf_token": csrf(), "back": "/admin/organisations"},
        follow_redirects=True,
    )
    assert "已批准" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Organisation, farm.id).status == "approved"


def test_an_auditor_sees_organisations_but_may_not_approve(
    client, console_sign_in, csrf, make_organisation, session
):
    console_sign_in("auditor")
    farm = make_organisation("farm", status="pending")
    assert client.get("/admin/organisations").status_code == 200
    response = client.post(
        f"/admin/organisations/{farm.id}/status", data={"status": "approved", "csrf_token": csrf()}
    )
    assert response.status_code == 403
    session.expire_all()
    assert session.get(Organisation, farm.id).status == "pending"
