"""Label applications in the console: a certifier decides with the footprint in view."""

from labels.models import Label


def test_a_certifier_decides_with_the_footprint_in_front_of_them(
    client, console_sign_in, csrf, certified, session
):
    """A label under review, certified from the console, then suspended with a reason."""
    label = certified(decide=False)
    console_sign_in("certifier")
    listing = client.get("/admin/labels?status=submitted").get_data(as_text=True)
    assert "练塘香粳米 5kg" in listing
    for status in ("under_review", "certified"):
        client.post(
            f"/admin/labels/{label['id']}/transitions",
            data={"to_status": status, "csrf_token": csrf()},
        )
    page = client.get(f"/admin/labels/{label['id']}").get_data(as_text=True)
    assert "6.2500" in page and "paddy" in page and "primary_data_percent" in page
    session.expire_all()
    assert session.get(Label, label["id"]).status == "certified"
    missing = client.post(
        f"/admin/labels/{label['id']}/transitions?lang=en",
        data={"to_status": "suspended", "csrf_token": csrf()}, follow_redirects=True,
    )  # fmt: skip
    assert "reason" in missing.get_data(as_text=True)
    session.expire_all()
    assert session.get(Label, label["id"]).status == "certified"
    client.post(
        f"/admin/labels/{label['id']}/transitions",
        data={"to_status": "suspended", "reason": "复核核算边界", "csrf_token": csrf()},
    )
    session.expire_all()
    assert session.get(Label, label["id"]).status == "suspended"


def test_the_application_shows_where_the_product_is_sold_in_both_languages(
    client, console_sign_in, certified
):
    label = certified(decide=False)
    console_sign_in("certifier")
    chinese = client.get(f"/admin/labels/{label['id']}?lang=zh-CN").get_data(as_text=True)
    assert "销售市场" in chinese and "中国大陆 <code>CN</code>" in chinese
    english = client.get(f"/admin/labels/{label['id']}?lang=en").get_data(as_text=True)
    assert "Sold in" in english and "mainland China <code>CN</code>" in english
