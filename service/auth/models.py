"""Sign-in sessions and their rotating refresh tokens.

A session is one refresh-token family: every refresh uses up the presented token and issues its
successor in the same session. Presenting a used token again means it leaked, so the whole session
is revoked. Access tokens carry the session id, so revoking a session (signing out, reuse, an
operator) ends its access tokens at once rather than at their expiry.

How a session began and why it ended are closed sets of words, checked when written
(``SignInMethod``, ``RevokeReason``) and by the database (CHECK constraints built from the same
tuples).
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, validates

from service.base.orm import Base, utcnow


class SignInMethod(enum.StrEnum):
    """How a sign-in session began."""

    WECHAT = "wechat"  # the mini-program, or WeChat's browser
    PASSWORD = "password"  # noqa: S105 - a method: staff, for tokens
    CONSOLE = "console"  # staff, in the web console (a cookie)


class RevokeReason(enum.StrEnum):
    """Why a sign-in session ended before its expiry."""

    SIGNED_OUT = "signed_out"  # the user signed out (the API's and the console's logout)
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105 - a reason, not a secret
    OPERATOR = "operator"
    ACCOUNT_DISABLED = "account_disabled"


SIGN_IN_METHODS = tuple(SignInMethod)
REVOKE_REASONS = tuple(RevokeReason)


def one_of(column: str, words: tuple[str, ...]) -> str:
    """A CHECK constraint's condition: ``column`` holds one of ``words`` (or is NULL)."""
    return f"{column} IN ({', '.join(repr(str(word)) for word in words)})"


class SignInSession(Base):
    __tablename__ = "sign_in_sessions"

    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    method: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(32))

    __table_args__ = (
        sa.CheckConstraint(one_of("method", SIGN_IN_METHODS), name="method_known"),
        sa.CheckConstraint(one_of("revoked_reason", REVOKE_REASONS), name="revoked_reason_known"),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoked_reason IS NULL)", name="revocation_has_reason"
        ),
    )

    @validates("method")
    def _method_known(self, _key: str, method: str) -> SignInMethod:
        return SignInMethod(method)

    @validates("revoked_reason")
    def _revoked_reason_known(self, _key: str, reason: str | None) -> RevokeReason | None:
        return None if reason is None else RevokeReason(reason)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(
        sa.ForeignKey("sign_in_sessions.id", ondelete="CASCADE"), index=True
    )
    token_sha256: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class SignInFailure(Base):
    """Failed password sign-ins from one client address at one account name.

    Kept alike for names that exist and names that do not (so the counts reveal nothing), under a
    keyed digest of the name (so what people mistype as a username is not stored). One address's
    failures slow that address only; their sum over addresses decides when a name needs a solved
    challenge. Nothing here locks an account.
    """

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    name_digest: Mapped[str] = mapped_column(sa.String(64))
    address: Mapped[str] = mapped_column(sa.String(64))
    failure_count: Mapped[int]
    last_failed_at: Mapped[datetime] = mapped_column(index=True)

    __table_args__ = (
        sa.UniqueConstraint("name_digest", "address"),
        sa.CheckConstraint("failure_count > 0", name="failure_count_positive"),
    )
