import re

import pytest

from tests.labels.conftest import (  # noqa: F401 - shared fixtures
    certified,
    certifier,
    operator,
    retired_tonne,
    staff,
)
from tests.points.conftest import farm, give, lot_codes  # noqa: F401 - shared fixtures
from tests.points.test_claims_api import rule  # noqa: F401 - shared fixture

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(html):
    """The CSRF token a page's form carries."""
    return CSRF.search(html).group(1)


@pytest.fixture()
def console_sign_in(client, make_staff):
    """Sign a member of staff in to the console through its form; returns the user."""

    def do(role="operator", organisation=None, password="correct horse battery staple"):
        user = make_staff(role=role, organisation=organisation, password=password)
        page = client.get("/admin/login")
        token = form_token(page.get_data(as_text=True))
        response = client.post(
            "/admin/login",
            data={"username": user.username, "password": password, "csrf_token": token},
        )
        assert response.status_code == 303, response.get_data(as_text=True)
        return user

    return do


@pytest.fixture()
def csrf(client):
    """The CSRF token of the client's console session."""

    def token():
        with client.session_transaction() as cookie:
            return cookie["csrf"]

    return token
