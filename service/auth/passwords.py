"""Password hashing with argon2id (argon2-cffi), and the throttling rule as a pure function."""

from __future__ import annotations

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


def throttle_delay_s(failure_count: int, *, free: int, base_s: int, max_s: int) -> int:
    """How long one client address waits after ``failure_count`` failures at one account name.

    The first ``free`` failures cost nothing; then the wait starts at ``base_s`` and doubles with
    each failure, up to ``max_s``. Only that address waits: the owner at their own address is not
    slowed by anyone else's failures.

    >>> [throttle_delay_s(n, free=5, base_s=2, max_s=900) for n in (4, 5, 6, 7, 20)]
    [0, 2, 4, 8, 900]
    """
    if failure_count < free:
        return 0
    return min(max_s, base_s * 2 ** min(failure_count - free, 32))
