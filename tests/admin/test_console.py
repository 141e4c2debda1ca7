"""The console at /admin: a signed-in member of staff, CSRF on every form, roles, and forms
that call the same services as the API."""

import sqlalchemy as sa

from labels.models import Label
from service.auth.models import SignInSession
from service.base.parties.models import Organisation, User
from tests.admin.conftest import form_token


def test_a_visitor_is_sent_to_sign_in_and_back(client):
    response = client.get("/admin/organisations?status=pending")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")
    assert response.headers["Location"] == "/admin/login?next=/admin/organisations?status%3Dpending"


def test_signing_in_opens_a_console_session_and_signing_out_closes_it(
    client, console_sign_in, csrf, session
):
    user = console_sign_in("operator")
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "概览" in page.get_data(as_text=True)
    opened = session.scalars(sa.select(SignInSession).where(SignInSession.user_id == user.id)).one()
    assert opened.method == "console"
    with client.session_transaction() as cookie:
        stolen = dict(cookie)
    assert client.post("/admin/logout", data={"csrf_token": csrf()}).status_code == 303
    session.expire_all()
    assert session.get(SignInSession, opened.id).revoked_at is not None
    # A copy of the old cookie opens nothing: the sign-in session is closed.
    with client.session_transaction() as cookie:
        cookie.update(stolen)
    assert client.get("/admin/").status_code == 302


def test_a_wrong_password_says_so_and_counts_the_failure(client, make_staff, session):
    user = make_staff(role="operator")
    page = client.get("/admin/login?lang=en").get_data(as_text=True)
    token = form_token(page)
    response = client.post(
        "/admin/login", data={"username": user.username, "password": "nope", "csrf_token": token},
        follow_redirects=True,
    )  # fmt: skip
    assert "The username or password is wrong." in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(User, user.id).failed_sign_in_count == 1


def test_a_form_without_the_csrf_token_changes_nothing(
    client, console_sign_in, make_organisation, session
):
    console_sign_in("operator")
    farm = make_organisation("farm", status="pending")
    response = client.post(
        f"/admin/organisations/{farm.id}/status", data={"status": "approved"},
        headers={"Accept-Language": "en"},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    # In the language the browser asks for, as every page is.
    assert "This form expired or did not come from this site" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Organisation, farm.id).status == "pending"


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


def test_the_next_page_never_leaves_the_site(client, make_staff):
    user = make_staff(role="operator")
    page = client.get("/admin/login?next=//evil.example/x").get_data(as_text=True)
    assert 'name="next" value="/admin/"' in page
    token = form_token(page)
    response = client.post(
        "/admin/login",
        data={"username": user.username, "password": "correct horse battery staple",
              "csrf_token": token, "next": "https://evil.example/"},
    )  # fmt: skip
    assert response.headers["Location"] == "/admin/"


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


def test_an_auditor_verifies_the_ledger_and_searches_entries(client, console_sign_in, csrf):
    console_sign_in("auditor")
    page = client.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "Verify now" in page
    verified = client.post("/admin/audit", data={"csrf_token": csrf()}).get_data(as_text=True)
    assert "Everything checks out." in verified
    assert client.get("/admin/audit?q=100%25&kind=nothing&account=x").status_code == 200
    forged = client.post("/admin/audit", data={"csrf_token": "forged"})
    assert forged.status_code == 400


def test_suspicious_claims_are_closed_by_an_operator(
    client, console_sign_in, csrf, session, consumer_tokens
):
    from datetime import timedelta

    from points.models import PointFlag
    from service.db import utcnow

    user_id = consumer_tokens()["user"]["id"]
    flag = PointFlag(kind="claims_burst", user_id=user_id, details={"claims": 12},
                     window_start=utcnow() - timedelta(hours=1))  # fmt: skip
    session.add(flag)
    session.commit()
    console_sign_in("operator")
    page = client.get("/admin/anomalies?view=claims&status=open").get_data(as_text=True)
    assert "短时间大量领取" in page
    assert client.get("/admin/anomalies").status_code == 200  # the codes view, empty
    client.post(
        f"/admin/anomalies/flags/{flag.id}",
        data={"status": "dismissed", "note": "家庭共用手机", "csrf_token": csrf()},
    )
    session.expire_all()
    closed = session.get(PointFlag, flag.id)
    assert (closed.status, closed.resolution_note) == ("dismissed", "家庭共用手机")


def test_an_operator_imports_a_file_and_sees_every_bad_row(client, console_sign_in, csrf, session):
    """The Wujiang file imports; a copy with a broken quantity and share is refused whole, and
    the row report names the line and the field."""
    import io
    from pathlib import Path

    from ledger.credit_models import CreditBatch

    console_sign_in("operator")
    good = Path(__file__).resolve().parents[2] / "examples" / "credits" / "wujiang.csv"
    content = good.read_bytes()
    lines = content.decode().splitlines()
    broken = "\n".join([lines[0], lines[1].replace(",1420,", ",-3,"), *lines[2:]]).encode()
    refused = client.post(
        "/admin/credits?lang=en",
        data={"csrf_token": csrf(), "file": (io.BytesIO(broken), "wujiang.csv")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    report = refused.get_data(as_text=True)
    assert "The file was refused and nothing was imported." in report
    assert "Row report" in report and "quantity_t" in report
    assert session.scalar(sa.select(sa.func.count()).select_from(CreditBatch)) == 0
    imported = client.post(
        "/admin/credits?lang=en",
        data={"csrf_token": csrf(), "file": (io.BytesIO(content), "wujiang.csv")},
        content_type="multipart/form-data",
    )
    assert imported.status_code == 200
    assert "new batches" in imported.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(CreditBatch)) >= 1
    wrong_kind = client.post(
        "/admin/credits?lang=en",
        data={"csrf_token": csrf(), "file": (io.BytesIO(b"x"), "credits.xlsx")},
        content_type="multipart/form-data",
    )
    assert wrong_kind.status_code == 422
    assert "A .json or .csv file" in wrong_kind.get_data(as_text=True)


def test_an_operator_records_a_retirement(client, console_sign_in, csrf, session):
    import io
    from pathlib import Path

    from ledger.credit_models import CreditBatch, CreditRetirement

    console_sign_in("operator")
    content = (Path(__file__).resolve().parents[2] / "examples/credits/wujiang.csv").read_bytes()
    client.post(
        "/admin/credits",
        data={"csrf_token": csrf(), "file": (io.BytesIO(content), "wujiang.csv")},
        content_type="multipart/form-data",
    )
    batch = session.scalars(sa.select(CreditBatch).order_by(CreditBatch.id)).first()
    form = {"csrf_token": csrf(), "registry_code": "YRD-CI", "registry_reference": "R-TEST-1",
            "beneficiary": "吴江同里米业", "purpose": "碳中和标签", "retired_on": "2026-11-01",
            "batch_0": str(batch.id), "quantity_t_0": "5"}  # fmt: skip
    bad = client.post(
        "/admin/credits/retirements?lang=en", data={**form, "quantity_t_0": "2.5"},
        follow_redirects=True,
    )  # fmt: skip
    assert "A batch and whole tonnes." in bad.get_data(as_text=True)
    done = client.post("/admin/credits/retirements", data=form)
    assert done.headers["Location"] == "/credits"
    retirement = session.scalars(sa.select(CreditRetirement)).one()
    assert (retirement.quantity_t, retirement.registry_reference) == (5, "R-TEST-1")
    assert "R-TEST-1" in client.get("/credits").get_data(as_text=True)


def test_codes_scanned_too_often_or_far_apart_are_listed(
    client, console_sign_in, session, certified, app
):
    """Unit 3 scanned 25 times, unit 4 from two provinces, unit 5 twice from one: the first two
    are suspicious."""
    from datetime import timedelta

    from labels.models import LabelLot, UnitScan
    from service.db import utcnow

    label = certified()
    now = utcnow()
    lot = LabelLot(label_id=label["id"], product_id=label["product_id"], lot_number="SUSP1",
                   units=10, grams_per_unit=0, grams_required=0, price_per_tonne_fen=0,
                   service_fee_fen=0, amount_fen=0, status="issued", key_id="A",
                   created_at=now)  # fmt: skip
    session.add(lot)
    session.flush()
    for index, count, provinces in ((3, 25, ["31"]), (4, 2, ["31", "44"]), (5, 2, ["31"])):
        session.add(UnitScan(lot_id=lot.id, unit_index=index, scan_count=count,
                             first_scan_at=now - timedelta(days=1), last_scan_at=now,
                             provinces=provinces))  # fmt: skip
    session.commit()
    console_sign_in("auditor")
    page = client.get("/admin/anomalies?view=codes").get_data(as_text=True)
    rows = page.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("<tr>") == 2
    assert "31, 44" in rows and ">25<" in rows


def test_the_console_cookie_is_http_only_and_secure_behind_https(make_app):
    assert make_app().config["SESSION_COOKIE_HTTPONLY"] is True
    assert make_app().config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert make_app(PUBLIC_BASE_URL="https://tanhui.example").config["SESSION_COOKIE_SECURE"]
    assert not make_app(PUBLIC_BASE_URL="http://127.0.0.1:8000").config["SESSION_COOKIE_SECURE"]
