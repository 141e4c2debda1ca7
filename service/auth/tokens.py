"""Access tokens (JWT) and refresh tokens (opaque), without Flask.

Access tokens are HS256 JWTs with the algorithm pinned on decode, ``typ: at+jwt`` (RFC 9068), and
issuer, audience, expiry, subject, session id and token id all required. Refresh tokens are random
strings; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from service.auth.errors import ErrorCode
from service.base.exceptions import AuthenticationFailed

ACCESS_TOKEN_ALGORITHM = "HS256"  # noqa: S105 - an algorithm name
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type
REQUIRED_CLAIMS = ("iss", "aud", "sub", "sid", "iat", "exp", "jti")
REFRESH_TOKEN_BYTES = 32
#: Clock skew tolerated between app hosts [s].
CLOCK_LEEWAY_S = 5


@dataclass(frozen=True)
class TokenSettings:
    secret: str
    issuer: str
    audience: str
    access_ttl_s: int
    refresh_ttl_s: int


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    session_id: str
    token_id: str
    expires_at: int


def access_token_issue(
    settings: TokenSettings, *, user_id: int, session_id: str, now: datetime
) -> tuple[str, int]:
    """Return a signed access token and its lifetime in seconds."""
    issued_at = int(now.timestamp())
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": str(user_id),
        "sid": session_id,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + settings.access_ttl_s,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(
        claims,
        settings.secret,
        algorithm=ACCESS_TOKEN_ALGORITHM,
        headers={"typ": ACCESS_TOKEN_TYPE},
    )
    return token, settings.access_ttl_s


#: Tokens this process has verified, with their claims (every request of a session presents the
#: same one); forgotten all at once when this many are held.
VERIFIED_TOKENS_MAX = 4_096
_verified: dict[tuple[str, str, str, str], AccessClaims] = {}


def access_token_decode(settings: TokenSettings, token: str) -> AccessClaims:
    """Verify a token and return its claims, or raise ``AuthenticationFailed``.

    Expired tokens get ``token_expired`` so clients know to refresh; every other defect
    (tampering, another algorithm, ``alg: none``, wrong issuer or audience, missing claims) is
    ``token_invalid``. A token verified before under the same secret, issuer and audience is not
    verified again, only its expiry checked (the same bytes verify the same way; whether its
    session is still open is the caller's to check on every request).
    """
    remembered = (settings.secret, settings.issuer, settings.audience, token)
    known = _verified.get(remembered)
    if known is not None:
        if known.expires_at + CLOCK_LEEWAY_S > datetime.now(UTC).timestamp():
            return known
        raise AuthenticationFailed(
            code=ErrorCode.TOKEN_EXPIRED, headers=_challenge("invalid_token")
        )
    claims = _access_token_verify(settings, token)
    if len(_verified) >= VERIFIED_TOKENS_MAX:
        _verified.clear()
    _verified[remembered] = claims
    return claims


def _access_token_verify(settings: TokenSettings, token: str) -> AccessClaims:
    try:
        decoded = jwt.api_jwt.decode_complete(
            token,
            settings.secret,
            algorithms=[ACCESS_TOKEN_ALGORITHM],
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=CLOCK_LEEWAY_S,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError as error:
        raise AuthenticationFailed(
            code=ErrorCode.TOKEN_EXPIRED, headers=_challenge("invalid_token")
        ) from error
    except jwt.PyJWTError as error:
        raise AuthenticationFailed(
            code=ErrorCode.TOKEN_INVALID, headers=_challenge("invalid_token")
        ) from error
    header, claims = decoded["header"], decoded["payload"]
    subject = claims["sub"]
    if (
        header.get("typ") != ACCESS_TOKEN_TYPE
        or not isinstance(subject, str)
        or not subject.isdigit()
        or not isinstance(claims["sid"], str)
    ):
        raise AuthenticationFailed(
            code=ErrorCode.TOKEN_INVALID, headers=_challenge("invalid_token")
        )
    return AccessClaims(
        user_id=int(subject),
        session_id=claims["sid"],
        token_id=str(claims["jti"]),
        expires_at=int(claims["exp"]),
    )


def refresh_token_new() -> str:
    return secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


def refresh_token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def refresh_token_expires_at(settings: TokenSettings, now: datetime) -> datetime:
    return now + timedelta(seconds=settings.refresh_ttl_s)


def _challenge(error: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer error="{error}"'}


def bearer_challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="tanhui"'}
