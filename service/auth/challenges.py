"""Proof-of-work sign-in challenges: a hashcash-style puzzle the server issues and checks without
storing it.

Once an account name has met many failed sign-ins, each further try at it must carry a solved
challenge. Solving costs the client about ``2 ** bits`` SHA-256 hashes (a fraction of a second
in a page or a mini-program); checking costs the server one HMAC and one hash. Nothing locks, so
the real owner is never shut out, while each guess costs an attacker the work.

The format (version 1), all ASCII::

    challenge = "1." expires "." bits "." mac
    expires   = the Unix time in seconds after which the challenge is refused (decimal)
    bits      = how many leading zero bits the answer's hash needs (decimal)
    mac       = base64url, unpadded, of HMAC-SHA256(key, "1." expires "." bits "|" scope)
    answer    = 1 to ANSWER_MAX_LENGTH_CHARS decimal digits
    solved    : SHA-256(challenge ":" answer) begins with ``bits`` zero bits

``scope`` is the server's own: the account name, the client address, and how many failures that
address has at that name. A failure changes the count, so a solved challenge buys at most one
wrong guess, and it cannot be spent at another name or from another address. The client reads
only ``bits``; it tries answers 0, 1, 2, ... until one fits (``admin/static/sign_in.js`` does so
in the console's sign-in page; :func:`challenge_solve` is the same in Python).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime

VERSION = "1"
#: Answers are decimal counters; 2 ** 64 has 20 digits, far beyond any difficulty we set.
ANSWER_MAX_LENGTH_CHARS = 20
#: A challenge is at most this long (version, a Unix time, bits and a 43-character MAC).
CHALLENGE_MAX_LENGTH_CHARS = 96
#: Above this, a challenge would take a phone minutes; the setting is refused.
BITS_MAX = 28
_ANSWER = re.compile(rf"[0-9]{{1,{ANSWER_MAX_LENGTH_CHARS}}}")
_CHALLENGE = re.compile(r"1\.([0-9]{1,12})\.([0-9]{1,2})\.([A-Za-z0-9_-]{43})")


def _mac(key: bytes, head: str, scope: str) -> str:
    digest = hmac.new(key, f"{head}|{scope}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def challenge_issue(key: bytes, *, scope: str, bits: int, now: datetime, ttl_s: int) -> str:
    """A challenge of ``bits`` for ``scope``, good for ``ttl_s`` seconds from ``now``."""
    if not 0 < bits <= BITS_MAX:
        raise ValueError(f"bits must be 1 to {BITS_MAX}")
    head = f"{VERSION}.{int(now.timestamp()) + ttl_s}.{bits}"
    return f"{head}.{_mac(key, head, scope)}"


def leading_zero_bits(digest: bytes) -> int:
    """How many zero bits ``digest`` begins with.

    >>> leading_zero_bits(bytes([0, 0x1F, 0xFF]))
    11
    """
    count = 0
    for byte in digest:
        if byte:
            return count + 8 - byte.bit_length()
        count += 8
    return count


def answer_fits(challenge: str, answer: str, bits: int) -> bool:
    digest = hashlib.sha256(f"{challenge}:{answer}".encode()).digest()
    return leading_zero_bits(digest) >= bits


def challenge_check(
    key: bytes, *, challenge: str, answer: str, scope: str, bits: int, now: datetime
) -> bool:
    """Whether ``answer`` solves ``challenge``, which this server issued for ``scope`` with at
    least ``bits`` (the difficulty in force) and which has not expired."""
    match = _CHALLENGE.fullmatch(challenge or "")
    if match is None or not _ANSWER.fullmatch(answer or ""):
        return False
    expires, issued_bits = int(match.group(1)), int(match.group(2))
    head = challenge.rsplit(".", 1)[0]
    if not hmac.compare_digest(match.group(3), _mac(key, head, scope)):
        return False
    if issued_bits < bits or expires < now.timestamp():
        return False
    return answer_fits(challenge, answer, issued_bits)


def challenge_bits(challenge: str) -> int:
    """The difficulty a challenge names (what a client reads before solving it)."""
    return int(challenge.split(".")[2])


def challenge_solve(challenge: str) -> str:
    """The first answer that solves ``challenge``: what the sign-in page computes.

    >>> from datetime import UTC
    >>> now = datetime(2026, 11, 26, tzinfo=UTC)
    >>> issued = challenge_issue(b"k", scope="s", bits=8, now=now, ttl_s=300)
    >>> challenge_check(b"k", challenge=issued, answer=challenge_solve(issued), scope="s",
    ...                 bits=8, now=now)
    True
    """
    bits, answer = challenge_bits(challenge), 0
    while not answer_fits(challenge, str(answer), bits):
        answer += 1
    return str(answer)
