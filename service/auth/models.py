"""Sign-in sessions and their rotating refresh tokens.

A session is one refresh-token family: every refresh uses up the presented token and issues its
successor in the same session. Presenting a used token again means it leaked, so the whole session
is revoked. Access tokens carry the session id, so revoking a session (logout, reuse, an operator)
ends its access tokens at once rather than at their expiry.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from service.base.orm import Base, utcnow

SIGN_IN_METHODS = ("wechat", "password")
REVOKE_REASONS = ("logout", "refresh_token_reused", "operator", "account_disabled")


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
        sa.CheckConstraint("method IN ('wechat', 'password', 'console')", name="method_known"),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoked_reason IS NULL)", name="revocation_has_reason"
        ),
    )


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
