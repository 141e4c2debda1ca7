"""Failed password sign-ins, counted per (account name, client address), and what they cost.

Nothing here locks an account, so nobody can shut a colleague out by guessing at their name:

- one address's failures at one name slow that address only, with a growing wait
  (``passwords.throttle_delay_s``); the owner at their usual address is not slowed;
- past a number of failures at one name from all addresses together, each try at that name must
  carry a solved proof-of-work challenge (``service.auth.challenges``), which the sign-in page
  and a mini-program solve in a fraction of a second and a guessing script pays for each guess.

Names that exist and names that do not are counted, throttled and challenged alike: the counts
are kept under a keyed digest of whatever name was typed, before any user is looked up.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.auth.challenges import challenge_check, challenge_issue
from service.auth.errors import ErrorCode
from service.auth.models import SignInFailure
from service.auth.passwords import throttle_delay_s
from service.base.exceptions import AuthenticationFailed, TooManyRequests

#: IPv6 clients are counted by their /64: one subscriber holds a whole /64, so counting single
#: addresses would give one attacker 2 ** 64 fresh starts.
IPV6_PREFIX_BITS = 64
ADDRESS_MAX_LENGTH_CHARS = 64
#: The header a ``challenge_required`` answer carries its fresh challenge in.
CHALLENGE_HEADER = "Sign-In-Challenge"


@dataclass(frozen=True)
class PasswordPolicy:
    """The sign-in limits in force (see ``service.base.config``) and the key challenges and name
    digests are made with."""

    key: bytes
    pair_free_failures: int
    pair_delay_base_s: int
    pair_delay_max_s: int
    challenge_after_failures: int
    challenge_bits: int
    challenge_ttl_s: int
    failure_window_s: int

    @classmethod
    def from_config(cls, config: Any) -> PasswordPolicy:
        key = hashlib.sha256(b"tanhui sign-in attempts\0" + config["SECRET_KEY"].encode()).digest()
        return cls(
            key=key,
            pair_free_failures=config["PASSWORD_PAIR_FREE_FAILURES"],
            pair_delay_base_s=config["PASSWORD_PAIR_DELAY_BASE_S"],
            pair_delay_max_s=config["PASSWORD_PAIR_DELAY_MAX_S"],
            challenge_after_failures=config["PASSWORD_CHALLENGE_AFTER_FAILURES"],
            challenge_bits=config["PASSWORD_CHALLENGE_BITS"],
            challenge_ttl_s=config["PASSWORD_CHALLENGE_TTL_S"],
            failure_window_s=config["PASSWORD_FAILURE_WINDOW_S"],
        )


@dataclass(frozen=True)
class Attempt:
    """One try at one name from one address, and the failures already counted against both."""

    name_digest: str
    address: str
    pair_failures: int
    pair_last_failed_at: datetime | None
    name_failures: int

    @property
    def scope(self) -> str:
        """What a challenge is bound to: a failure from this address changes it."""
        return f"{self.name_digest}|{self.address}|{self.pair_failures}"


class SignInThrottled(TooManyRequests):
    """This address failed at this name too often of late: it waits (others do not)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(retry_after_s, code=ErrorCode.SIGN_IN_THROTTLED)


class ChallengeRequired(AuthenticationFailed):
    """This name has met many failures: the try must carry a solved challenge (a fresh one is in
    the ``Sign-In-Challenge`` header, and ``POST /api/v1/auth/password/challenge`` gives one)."""

    code = ErrorCode.CHALLENGE_REQUIRED

    def __init__(self, challenge: str) -> None:
        super().__init__(headers={CHALLENGE_HEADER: challenge})


def address_key(address: str) -> str:
    """The address failures are counted under: IPv4 as is, IPv6 by its /64.

    >>> address_key("2001:db8:1:2:3:4:5:6"), address_key("203.0.113.9")
    ('2001:db8:1:2::/64', '203.0.113.9')
    """
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:ADDRESS_MAX_LENGTH_CHARS]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX_BITS}", strict=False))
    return str(parsed)


def name_digest(policy: PasswordPolicy, username: str) -> str:
    return hmac.new(policy.key, username.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def attempt_load(
    session: Session, policy: PasswordPolicy, *, username: str, address: str, now: datetime
) -> Attempt:
    """The failures counted against this name and this address within the window.

    On PostgreSQL, tries from one address at one name take turns (a transaction-scoped advisory
    lock on the pair), so parallel guesses cannot all slip past the count; other addresses,
    the owner's among them, never wait on it.
    """
    digest, address = name_digest(policy, username), address_key(address)
    if session.get_bind().dialect.name == "postgresql":
        pair = hashlib.sha256(f"{digest}|{address}".encode()).digest()[:8]
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(int.from_bytes(pair, signed=True))))
    since = now - timedelta(seconds=policy.failure_window_s)
    rows = session.execute(
        sa.select(SignInFailure.address, SignInFailure.failure_count, SignInFailure.last_failed_at)
        .where(SignInFailure.name_digest == digest, SignInFailure.last_failed_at >= since)
    ).all()  # fmt: skip
    pair = next((row for row in rows if row.address == address), None)
    return Attempt(
        name_digest=digest,
        address=address,
        pair_failures=pair.failure_count if pair else 0,
        pair_last_failed_at=pair.last_failed_at if pair else None,
        name_failures=sum(row.failure_count for row in rows),
    )


def attempt_check(
    policy: PasswordPolicy,
    attempt: Attempt,
    *,
    challenge: str | None,
    answer: str | None,
    now: datetime,
) -> None:
    """Refuse the try before any password is checked: while this address waits
    (``SignInThrottled``), or when the name needs a solved challenge and this try has none
    (``ChallengeRequired``, with a fresh challenge)."""
    delay_s = throttle_delay_s(
        attempt.pair_failures,
        free=policy.pair_free_failures,
        base_s=policy.pair_delay_base_s,
        max_s=policy.pair_delay_max_s,
    )
    if delay_s and attempt.pair_last_failed_at is not None:
        wait_s = (attempt.pair_last_failed_at + timedelta(seconds=delay_s) - now).total_seconds()
        if wait_s > 0:
            raise SignInThrottled(math.ceil(wait_s))
    if attempt.name_failures < policy.challenge_after_failures:
        return
    solved = challenge_check(
        policy.key,
        challenge=challenge or "",
        answer=answer or "",
        scope=attempt.scope,
        bits=policy.challenge_bits,
        now=now,
    )
    if not solved:
        raise ChallengeRequired(attempt_challenge(policy, attempt, now=now))


def attempt_challenge(policy: PasswordPolicy, attempt: Attempt, *, now: datetime) -> str:
    return challenge_issue(
        policy.key,
        scope=attempt.scope,
        bits=policy.challenge_bits,
        now=now,
        ttl_s=policy.challenge_ttl_s,
    )


def failure_record(
    session: Session, policy: PasswordPolicy, attempt: Attempt, *, now: datetime
) -> None:
    """Count one more failure from this address at this name, and forget failures past the
    window (of every name, so the table holds one window's worth at most)."""
    since = now - timedelta(seconds=policy.failure_window_s)
    session.execute(sa.delete(SignInFailure).where(SignInFailure.last_failed_at < since))
    pair = (SignInFailure.name_digest == attempt.name_digest) & (
        SignInFailure.address == attempt.address
    )
    bump = sa.update(SignInFailure).where(pair).values(
        failure_count=SignInFailure.failure_count + 1, last_failed_at=now
    ).execution_options(synchronize_session=False)  # fmt: skip
    if session.execute(bump).rowcount:
        return
    try:
        with session.begin_nested():
            session.add(
                SignInFailure(
                    name_digest=attempt.name_digest,
                    address=attempt.address,
                    failure_count=1,
                    last_failed_at=now,
                )
            )
    except IntegrityError:  # a concurrent failure from the same pair inserted it first
        session.execute(bump)


def pair_forget(session: Session, attempt: Attempt) -> None:
    """A success from this address clears its own failures (not the name's other addresses')."""
    session.execute(
        sa.delete(SignInFailure).where(
            SignInFailure.name_digest == attempt.name_digest,
            SignInFailure.address == attempt.address,
        )
    )
