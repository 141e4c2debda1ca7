"""Password hashing with argon2id (argon2-cffi), and the lockout rule as a pure function."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: ``default`` is argon2-cffi's RFC 9106 low-memory profile; ``cheapest`` exists only so the test
#: suite can hash hundreds of passwords quickly. Verification reads the parameters from the hash.
HASHERS = {
    "default": PasswordHasher.from_parameters(profiles.RFC_9106_LOW_MEMORY),
    "cheapest": PasswordHasher.from_parameters(profiles.CHEAPEST),
}
_VERIFIER = HASHERS["default"]


@cache
def _dummy_hash() -> str:
    """Verified when the username is unknown, so a miss costs as much as a wrong password."""
    return HASHERS["default"].hash("tanhui-dummy-password-for-equal-timing")


def password_hash(password: str, profile: str = "default") -> str:
    return HASHERS[profile].hash(password)


def password_verify(stored_hash: str | None, password: str) -> bool:
    try:
        return _VERIFIER.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def lockout_after_failure(
    failed_count: int, *, now: datetime, max_failures: int, lockout_s: int
) -> tuple[int, datetime | None]:
    """Return the new failure count and lock expiry after one more failed sign-in.

    The count restarts once the account locks, so after the lock lapses the user again has
    ``max_failures`` tries.

    >>> from datetime import UTC
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> lockout_after_failure(3, now=t, max_failures=5, lockout_s=900)
    (4, None)
    >>> lockout_after_failure(4, now=t, max_failures=5, lockout_s=900)[1].isoformat()
    '2026-01-01T00:15:00+00:00'
    """
    failed_count += 1
    if failed_count >= max_failures:
        return 0, now + timedelta(seconds=lockout_s)
    return failed_count, None
