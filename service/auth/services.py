"""Sign-in use cases. Each takes the session first, flushes, and never commits."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.auth.attempts import (
    PasswordPolicy,
    attempt_check,
    attempt_load,
    failure_record,
    pair_forget,
)
from service.auth.errors import ErrorCode
from service.auth.models import RefreshToken, RevokeReason, SignInMethod, SignInSession
from service.auth.passwords import password_verify
from service.auth.tokens import (
    AccessClaims,
    TokenSettings,
    access_token_issue,
    bearer_challenge,
    refresh_token_digest,
    refresh_token_expires_at,
    refresh_token_new,
)
from service.auth.wechat import WeChatClient, WeChatSession
from service.base.exceptions import (
    AuthenticationFailed,
    Conflict,
    ServiceError,
    ValidationFailed,
)
from service.base.parties.identifiers import PHONE_MESSAGE, normalise_mobile
from service.base.parties.models import Membership, Organisation, User, WeChatIdentity
from service.base.parties.services import Principal, consumer_create, user_get


@dataclass(frozen=True)
class SignIn:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    user: User
    created: bool = False


class RefreshTokenReused(AuthenticationFailed):
    """A used refresh token came back: its session is revoked, and that revocation must stay."""

    code = ErrorCode.REFRESH_TOKEN_REUSED
    persist_changes = True


class InvalidCredentials(AuthenticationFailed):
    """A failed password sign-in: the failure count (and any lock) must stay."""

    code = ErrorCode.INVALID_CREDENTIALS
    persist_changes = True


def _session_open(
    session: Session,
    *,
    user: User,
    method: SignInMethod,
    settings: TokenSettings,
    now: datetime,
    created: bool,
) -> SignIn:
    sign_in_session = SignInSession(
        id=uuid.uuid4().hex,
        user_id=user.id,
        method=method,
        created_at=now,
        expires_at=refresh_token_expires_at(settings, now),
    )
    session.add(sign_in_session)
    session.flush()
    return _tokens_issue(
        session,
        sign_in_session=sign_in_session,
        user=user,
        settings=settings,
        now=now,
        created=created,
    )


def _tokens_issue(
    session: Session,
    *,
    sign_in_session: SignInSession,
    user: User,
    settings: TokenSettings,
    now: datetime,
    created: bool = False,
) -> SignIn:
    refresh_token = refresh_token_new()
    expires_at = min(refresh_token_expires_at(settings, now), sign_in_session.expires_at)
    session.add(
        RefreshToken(
            session_id=sign_in_session.id,
            token_sha256=refresh_token_digest(refresh_token),
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    access_token, expires_in = access_token_issue(
        settings, user_id=user.id, session_id=sign_in_session.id, now=now
    )
    return SignIn(
        access_token=access_token,
        expires_in=expires_in,
        refresh_token=refresh_token,
        refresh_expires_in=int((expires_at - now).total_seconds()),
        user=user,
        created=created,
    )


# -- WeChat ----------------------------------------------------------------------------------------
def sign_in_wechat(
    session: Session, *, client: WeChatClient, code: str, settings: TokenSettings, now: datetime
) -> SignIn:
    """Exchange a ``wx.login`` code for tokens, finding the user by openid, then unionid.

    A first sign-in creates a consumer. Two first sign-ins racing for the same openid end with one
    identity: the loser's insert fails on the (appid, openid) key and it reads the winner's.
    """
    wechat = client.code_to_session(code)
    user, created = wechat_user(session, appid=client.appid, wechat=wechat, now=now)
    return _session_open(
        session,
        user=user,
        method=SignInMethod.WECHAT,
        settings=settings,
        now=now,
        created=created,
    )


def wechat_user(
    session: Session, *, appid: str, wechat: WeChatSession, now: datetime
) -> tuple[User, bool]:
    """The user of a WeChat identity (by openid, then unionid), created as a consumer on first
    sign-in; returns (user, created).

    Two first sign-ins racing for the same openid end with one identity: the loser's insert fails
    on the (appid, openid) key and it reads the winner's.
    """
    identity = _identity_find(session, appid, wechat.openid)
    created = False
    if identity is None:
        user = None
        if wechat.unionid:
            user = session.scalars(
                sa.select(User)
                .join(WeChatIdentity, WeChatIdentity.user_id == User.id)
                .where(WeChatIdentity.unionid == wechat.unionid)
                .limit(1)
            ).one_or_none()
        try:
            with session.begin_nested():
                if user is None:
                    user = consumer_create(session)
                    created = True
                identity = WeChatIdentity(
                    user_id=user.id,
                    appid=appid,
                    openid=wechat.openid,
                    unionid=wechat.unionid,
                    created_at=now,
                    last_sign_in_at=now,
                )
                session.add(identity)
        except IntegrityError:
            created = False
            identity = _identity_find(session, appid, wechat.openid)
            if identity is None:
                raise
    if wechat.unionid and identity.unionid is None:
        identity.unionid = wechat.unionid
    identity.last_sign_in_at = now
    user = user_get(session, identity.user_id)
    _check_active(user)
    return user, created


def sign_in_wechat_web(
    session: Session, *, client: WeChatClient, code: str, now: datetime, ttl_s: int
) -> tuple[User, str]:
    """A reader of our pages in WeChat's browser, by the code of the official account's silent
    web authorisation: their user (a consumer on first sign-in) and a browser sign-in session."""
    wechat = client.web_code_to_openid(code)
    user, _ = wechat_user(session, appid=client.appid, wechat=wechat, now=now)
    return user, browser_session_open(
        session, user=user, now=now, ttl_s=ttl_s, method=SignInMethod.WECHAT
    )


def _identity_find(session: Session, appid: str, openid: str) -> WeChatIdentity | None:
    return session.scalars(
        sa.select(WeChatIdentity).where(
            WeChatIdentity.appid == appid, WeChatIdentity.openid == openid
        )
    ).one_or_none()


def phone_bind_wechat(session: Session, *, client: WeChatClient, user_id: int, code: str) -> User:
    """Bind the phone number WeChat vouches for (``getuserphonenumber``) to the user."""
    info = client.phone_number(code)
    if info.watermark_appid and info.watermark_appid != client.appid:
        raise ServiceError(code=ErrorCode.WECHAT_ERROR, params={"errcode": "watermark"})
    if info.country_code not in ("", "86"):
        raise ValidationFailed.field("code", PHONE_MESSAGE)
    try:
        phone = normalise_mobile(info.pure_phone_number)
    except ValueError as error:
        raise ValidationFailed.field("code", str(error)) from error
    user = user_get(session, user_id)
    holder = session.scalar(sa.select(User.id).where(User.phone == phone))
    if holder is not None and holder != user.id:
        raise Conflict(code=ErrorCode.PHONE_TAKEN)
    user.phone = phone
    user.phone_country_code = info.country_code or "86"
    session.flush()
    return user


# -- passwords ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PasswordTry:
    """What a password sign-in presents: the name and password, the client's address, and the
    solved challenge when the name needs one."""

    username: str
    password: str
    address: str
    challenge: str | None = None
    challenge_answer: str | None = None


def sign_in_password(
    session: Session,
    *,
    attempt: PasswordTry,
    policy: PasswordPolicy,
    settings: TokenSettings,
    now: datetime,
) -> SignIn:
    """Staff sign-in for tokens (see ``password_check``)."""
    user = password_check(session, attempt=attempt, policy=policy, now=now)
    return _session_open(
        session,
        user=user,
        method=SignInMethod.PASSWORD,
        settings=settings,
        now=now,
        created=False,
    )


def password_check(
    session: Session, *, attempt: PasswordTry, policy: PasswordPolicy, now: datetime
) -> User:
    """The staff user these credentials name.

    One path for every name, whether a user has it or not, so that neither the answer nor the
    work reveals which names exist: the failures counted against the name and the address
    (``service.auth.attempts``) may refuse the try first (this address waits, or the name needs
    a solved challenge); then one argon2 verification runs (against a dummy hash when there is
    no user or no password), and a failure is counted the same way. Nothing locks the account.
    """
    counted = attempt_load(
        session, policy, username=attempt.username, address=attempt.address, now=now
    )
    attempt_check(
        policy, counted, challenge=attempt.challenge, answer=attempt.challenge_answer, now=now
    )
    user = session.scalars(sa.select(User).where(User.username == attempt.username)).one_or_none()
    stored_hash = user.password_hash if user is not None else None
    if not password_verify(stored_hash, attempt.password) or user is None:
        failure_record(session, policy, counted, now=now)
        raise InvalidCredentials()
    _check_active(user)
    pair_forget(session, counted)
    return user


def browser_session_open(
    session: Session,
    *,
    user: User,
    now: datetime,
    ttl_s: int,
    method: SignInMethod = SignInMethod.CONSOLE,
) -> str:
    """A sign-in session for pages (a cookie names it; no tokens); returns its id."""
    sign_in_session = SignInSession(
        id=uuid.uuid4().hex,
        user_id=user.id,
        method=method,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    session.add(sign_in_session)
    session.flush()
    return sign_in_session.id


def _check_active(user: User) -> None:
    if not user.is_active:
        raise AuthenticationFailed(code=ErrorCode.ACCOUNT_DISABLED)


# -- refresh and logout ---------------------------------------------------------------------------
def tokens_refresh(
    session: Session, *, refresh_token: str, settings: TokenSettings, now: datetime
) -> SignIn:
    """Use up a refresh token and issue its successor in the same session.

    The token is marked used with a conditional UPDATE, so of two concurrent refreshes with one
    token exactly one succeeds; the other is treated as reuse and revokes the session.
    """
    stored = session.scalars(
        sa.select(RefreshToken).where(
            RefreshToken.token_sha256 == refresh_token_digest(refresh_token)
        )
    ).one_or_none()
    if stored is None:
        raise AuthenticationFailed(code=ErrorCode.REFRESH_TOKEN_INVALID)
    sign_in_session = session.get(SignInSession, stored.session_id)
    assert sign_in_session is not None
    if sign_in_session.revoked_at is not None or sign_in_session.expires_at <= now:
        raise AuthenticationFailed(code=ErrorCode.REFRESH_TOKEN_INVALID)
    if stored.expires_at <= now:
        raise AuthenticationFailed(code=ErrorCode.REFRESH_TOKEN_INVALID)
    used = session.execute(
        sa.update(RefreshToken)
        .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        session_revoke(
            session,
            session_id=sign_in_session.id,
            reason=RevokeReason.REFRESH_TOKEN_REUSED,
            now=now,
        )
        raise RefreshTokenReused()
    user = user_get(session, sign_in_session.user_id)
    _check_active(user)
    return _tokens_issue(
        session, sign_in_session=sign_in_session, user=user, settings=settings, now=now
    )


def session_revoke(
    session: Session, *, session_id: str, reason: RevokeReason | str, now: datetime
) -> None:
    """End a sign-in session for ``reason`` (one of ``RevokeReason``; another word is refused
    here, before the database's CHECK would refuse it at the commit)."""
    reason = RevokeReason(reason)
    session.execute(
        sa.update(SignInSession)
        .where(SignInSession.id == session_id, SignInSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


# -- every authenticated request -------------------------------------------------------------------
def principal_load(session: Session, *, claims: AccessClaims, now: datetime) -> Principal:
    """Turn verified claims into a principal (see ``session_principal``)."""
    return session_principal(session, session_id=claims.session_id, user_id=claims.user_id, now=now)


#: Built once: every authenticated request runs it, and through the connection rather than the
#: ORM (it reads columns, not objects), which spares both building and ORM execution per request.
_SESSION_PRINCIPAL = (
    sa.select(
        SignInSession.revoked_at,
        SignInSession.expires_at,
        SignInSession.user_id,
        User.is_active,
        Membership.role,
        Membership.organisation_id,
        Organisation.status.label("organisation_status"),
    )
    .join(User, User.id == SignInSession.user_id)
    .outerjoin(Membership, Membership.user_id == User.id)
    .outerjoin(Organisation, Organisation.id == Membership.organisation_id)
    .where(SignInSession.id == sa.bindparam("session_id"))
)


def session_principal(
    session: Session, *, session_id: str, user_id: int, now: datetime
) -> Principal:
    """The principal of a sign-in session, refusing revoked or expired sessions and disabled
    users: one query for the session, the user and their memberships (every authenticated
    request runs it)."""
    rows = session.connection().execute(_SESSION_PRINCIPAL, {"session_id": session_id}).all()
    if not rows or rows[0].user_id != user_id:
        raise AuthenticationFailed(code=ErrorCode.TOKEN_INVALID, headers=bearer_challenge())
    first = rows[0]
    if first.revoked_at is not None or first.expires_at <= now or not first.is_active:
        raise AuthenticationFailed(code=ErrorCode.SESSION_REVOKED, headers=bearer_challenge())
    return Principal(
        user_id=user_id,
        session_id=session_id,
        roles=frozenset((row.role, row.organisation_id) for row in rows if row.role is not None),
        suspended=frozenset(
            row.organisation_id for row in rows if row.organisation_status == "suspended"
        ),
    )
