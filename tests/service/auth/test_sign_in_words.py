"""How a sign-in session began and why it ended are closed sets of words, checked by the code and
by the database; signing out is written ``signed_out``, from the API as from the console."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from service.auth.models import (
    REVOKE_REASONS,
    SIGN_IN_METHODS,
    RevokeReason,
    SignInMethod,
    SignInSession,
)
from service.auth.services import session_revoke
from service.base.orm import utcnow

INSERT = sa.text(
    "INSERT INTO sign_in_sessions (id, user_id, method, created_at, expires_at, revoked_at,"
    " revoked_reason) VALUES (:id, :user_id, :method, :now, :expires_at, :revoked_at, :reason)"
)


def insert(session, user, *, method="password", reason=None):
    now = utcnow()
    session.execute(
        INSERT,
        {
            "id": uuid.uuid4().hex,
            "user_id": user.id,
            "method": method,
            "now": now,
            "expires_at": now + timedelta(days=1),
            "revoked_at": now if reason else None,
            "reason": reason,
        },
    )


def test_the_words():
    assert SIGN_IN_METHODS == ("wechat", "password", "console")
    assert REVOKE_REASONS == ("signed_out", "refresh_token_reused", "operator", "account_disabled")


@pytest.mark.parametrize("reason", [None, *REVOKE_REASONS])
def test_the_database_takes_every_known_reason(session, make_staff, reason):
    user = make_staff()
    with session.begin_nested():
        insert(session, user, reason=reason)


@pytest.mark.parametrize(
    "changes", [{"reason": "logout"}, {"reason": "Signed_Out"}, {"method": "sms"}]
)
def test_the_database_refuses_an_unknown_word(session, make_staff, changes):
    user = make_staff()
    with pytest.raises(IntegrityError), session.begin_nested():
        insert(session, user, **changes)


def test_the_code_refuses_an_unknown_word_before_the_database(session, make_staff):
    user = make_staff()
    with pytest.raises(ValueError, match="sms"):
        SignInSession(id=uuid.uuid4().hex, user_id=user.id, method="sms")
    with pytest.raises(ValueError, match="logout"):
        session_revoke(session, session_id="any", reason="logout", now=utcnow())


def test_signing_out_through_the_api_is_written_signed_out(client, session, make_staff, sign_in):
    make_staff("signer")
    tokens = sign_in("signer")
    response = client.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 204
    stored = session.scalars(sa.select(SignInSession)).one()
    assert (stored.method, stored.revoked_reason) == (
        SignInMethod.PASSWORD,
        RevokeReason.SIGNED_OUT,
    )
