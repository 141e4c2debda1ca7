"""Signing in to the console and what every console form carries: a session, CSRF, a cookie
that stays on this site."""

import sqlalchemy as sa

from service.auth.challenges import challenge_solve
from service.auth.models import SignInFailure, SignInSession
from service.base.config import PASSWORD_CHALLENGE_AFTER_FAILURES
from service.base.parties.models import Organisation
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
    assert session.scalar(sa.select(SignInFailure.failure_count)) == 1


def test_the_sign_in_page_solves_the_challenge_in_its_own_script(client):
    """No inline script (a CSP forbids them): the page names ``sign_in.js``, which asks the
    challenge endpoint the form names and fills the two hidden fields."""
    page = client.get("/admin/login").get_data(as_text=True)
    assert '<script src="/static/sign_in.js" defer></script>' in page
    assert 'data-challenge-url="/api/v1/auth/password/challenge"' in page
    assert 'name="challenge"' in page and 'name="challenge_answer"' in page
    assert "<script>" not in page
    script = client.get("/static/sign_in.js")
    assert script.status_code == 200
    script.close()


def test_after_many_failures_the_form_signs_in_with_a_solved_challenge(client, make_staff, session):
    user = make_staff(role="operator")
    for i in range(PASSWORD_CHALLENGE_AFTER_FAILURES):
        client.post("/api/v1/auth/password", json={"username": user.username, "password": "x"},
                    environ_base={"REMOTE_ADDR": f"203.0.113.{i + 1}"})  # fmt: skip
    form = {"username": user.username, "password": "correct horse battery staple"}
    token = form_token(client.get("/admin/login").get_data(as_text=True))
    asked = client.post(
        "/admin/login?lang=en", data={**form, "csrf_token": token},
        headers={"Accept-Language": "en"}, follow_redirects=True,
    )  # fmt: skip
    assert "solve the sign-in challenge" in asked.get_data(as_text=True)
    challenge = client.post(
        "/api/v1/auth/password/challenge", json={"username": user.username}
    ).get_json()["challenge"]
    token = form_token(client.get("/admin/login").get_data(as_text=True))
    signed_in = client.post("/admin/login", data={
        **form, "csrf_token": token, "challenge": challenge,
        "challenge_answer": challenge_solve(challenge),
    })  # fmt: skip
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


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


def test_the_console_cookie_is_http_only_and_secure_behind_https(make_app):
    assert make_app().config["SESSION_COOKIE_HTTPONLY"] is True
    assert make_app().config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert make_app(PUBLIC_BASE_URL="https://tanhui.example").config["SESSION_COOKIE_SECURE"]
    assert not make_app(PUBLIC_BASE_URL="http://127.0.0.1:8000").config["SESSION_COOKIE_SECURE"]
