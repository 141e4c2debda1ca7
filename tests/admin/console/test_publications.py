"""Policies and announcements: operators publish and withdraw them."""

import sqlalchemy as sa


def test_an_operator_publishes_and_withdraws_a_notice(client, console_sign_in, csrf, session):
    from service.models import Publication

    console_sign_in("operator")
    form = {"kind": "announcement", "slug": "pilot-2027", "title_zh": "2027 年试点安排",
            "title_en": "The 2027 pilot", "body_zh": "第一段。\n\n第二段。", "body_en": "One.",
            "csrf_token": csrf()}  # fmt: skip
    client.post("/admin/publications", data=form)
    assert client.get("/notices/pilot-2027").status_code == 404  # a draft until published
    again = client.post("/admin/publications?lang=en", data=form, follow_redirects=True)
    assert "Already used by another page." in again.get_data(as_text=True)
    bad = client.post(
        "/admin/publications?lang=en", data={**form, "slug": "Not A Slug"}, follow_redirects=True
    )
    assert "Use a-z, 0-9 and -" in bad.get_data(as_text=True)
    publication = session.scalars(
        sa.select(Publication).where(Publication.slug == "pilot-2027")
    ).one()
    client.post(f"/admin/publications/{publication.id}/status",
                data={"status": "published", "csrf_token": csrf()})  # fmt: skip
    assert "第二段。" in client.get("/notices/pilot-2027?lang=zh-CN").get_data(as_text=True)
    client.post(f"/admin/publications/{publication.id}/status",
                data={"status": "withdrawn", "csrf_token": csrf()})  # fmt: skip
    assert client.get("/notices/pilot-2027").status_code == 404
    refused = client.post(
        f"/admin/publications/{publication.id}/status?lang=en",
        data={"status": "draft", "csrf_token": csrf()}, follow_redirects=True,
    )  # fmt: skip
    assert "cannot go from withdrawn to draft" in refused.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(Publication)) == 1


def test_a_certifier_may_not_publish(client, console_sign_in, csrf):
    console_sign_in("certifier")
    assert client.get("/admin/publications").status_code == 403
