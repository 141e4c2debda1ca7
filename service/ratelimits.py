"""Rate limits: every limit on a request checked, and counted, in one step.

A view marked with ``rate_limited`` (``service.extensions``) is limited by each setting its marks
name, per client address, signed-in user or device; a view marked ``rate_limit_exempt`` by none;
every other view by ``RATELIMIT_DEFAULT`` per client address. A setting holds one or more limits,
such as ``"20 per minute;200 per day"``.

The windows move: a limit counts the hits of the last minute (hour, day) wherever that falls, so
there is no burst at a window's edge. A request is refused when any of its windows is full and
then counts in none; otherwise it counts in all. With Redis, one script does this for all of a
request's windows, so workers share the counts and a limited request costs one round trip; the
embedded profile keeps them in the process. Should Redis fail, each process counts in windows of
its own until Redis answers again (the outage and the recovery are logged once each, by
``service.store.Outage``): limits stay in force, per process rather than shared, so with W
workers a client gets at most W times its limit, never an unlimited run at sign-in or claims.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

import redis
from flask import Flask, current_app, request

from service.base.exceptions import TooManyRequests
from service.store import Outage

#: The units a limit may be given in, in seconds.
UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3_600, "day": 86_400}
#: The most windows one request may count in (a bound on the script's keys).
WINDOWS_PER_REQUEST_MAX = 16
_LIMIT = re.compile(r"^\s*(\d+)\s*(?:per|/)\s*(\d+)?\s*(second|minute|hour|day)s?\s*$")


@dataclass(frozen=True)
class Limit:
    """At most ``amount`` hits in any ``window_s`` seconds."""

    amount: int
    window_s: int


@lru_cache(maxsize=256)
def limits_parse(setting: str) -> tuple[Limit, ...]:
    """``"20 per minute;200 per day"`` → two limits; ``ValueError`` names what is wrong.

    >>> limits_parse("10 per minute;100 per 2 hours")
    (Limit(amount=10, window_s=60), Limit(amount=100, window_s=7200))
    """
    limits = []
    for part in setting.split(";"):
        match = _LIMIT.match(part)
        if match is None:
            raise ValueError(f"not a rate limit: {part.strip()!r} (e.g. '20 per minute')")
        amount, count, unit = int(match[1]), int(match[2] or 1), match[3]
        if amount < 1 or count < 1:
            raise ValueError(f"not a rate limit: {part.strip()!r} (amounts start at 1)")
        limits.append(Limit(amount, count * UNIT_SECONDS[unit]))
    return tuple(limits)


@dataclass(frozen=True)
class Window:
    """One limit of one client: its counter's key."""

    key: str
    limit: Limit


class WindowStore(Protocol):
    def hit(self, windows: Sequence[Window], now_s: float) -> float | None:
        """Count a hit in every window unless one is full; ``None`` when counted, else the
        seconds until every full window has room again."""


# KEYS: one list of hit times per window, newest first; ARGV: now, then each window's amount
# and length in seconds. Answers nil when counted, else the seconds to wait (as text).
_HIT_SCRIPT = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
    local amount = tonumber(ARGV[2 * i])
    local window = tonumber(ARGV[2 * i + 1])
    local oldest = redis.call('LINDEX', key, amount - 1)
    if oldest and tonumber(oldest) > now - window then
        wait = math.max(wait, tonumber(oldest) + window - now)
    end
end
if wait > 0 then
    return tostring(wait)
end
for i, key in ipairs(KEYS) do
    local amount = tonumber(ARGV[2 * i])
    redis.call('LPUSH', key, ARGV[1])
    redis.call('LTRIM', key, 0, amount - 1)
    redis.call('EXPIRE', key, tonumber(ARGV[2 * i + 1]))
end
return false
"""


class RedisWindows:
    """Windows as Redis lists of hit times, shared by every worker."""

    def __init__(self, client: redis.Redis) -> None:
        self.script = client.register_script(_HIT_SCRIPT)

    def hit(self, windows: Sequence[Window], now_s: float) -> float | None:
        arguments: list[str | int] = [repr(now_s)]
        for window in windows:
            arguments += [window.limit.amount, window.limit.window_s]
        wait = self.script(keys=[window.key for window in windows], args=arguments)
        return None if wait is None else float(wait)


class MemoryWindows:
    """Windows in this process (the embedded profile: one process)."""

    def __init__(self) -> None:
        self.hits: dict[str, deque[float]] = {}
        self.guard = threading.Lock()

    def hit(self, windows: Sequence[Window], now_s: float) -> float | None:
        with self.guard:
            wait = 0.0
            for window in windows:
                times = self.hits.get(window.key)
                amount, length_s = window.limit.amount, window.limit.window_s
                if times is not None and len(times) >= amount:
                    oldest = times[amount - 1]
                    if oldest > now_s - length_s:
                        wait = max(wait, oldest + length_s - now_s)
            if wait > 0:
                return wait
            for window in windows:
                times = self.hits.setdefault(window.key, deque())
                times.appendleft(now_s)
                while len(times) > window.limit.amount:
                    times.pop()
            return None


#: A view's marks: (setting, per) pairs; ``EXEMPT`` for none.
Marks = tuple[tuple[str, str], ...]
EXEMPT: Marks = ()
DEFAULT: Marks = (("RATELIMIT_DEFAULT", "address"),)


@dataclass
class RateLimits:
    """An app's limits: each endpoint's marks, the key functions, and where windows live."""

    store: WindowStore
    prefix: str
    keys: dict[str, Callable[[], str]]
    marks: dict[str | None, Marks]
    #: Where windows live while ``store`` (Redis) is down, and whether it is.
    fallback: WindowStore = field(default_factory=lambda: MemoryWindows())
    outage: Outage = field(default_factory=lambda: Outage("redis"))

    def windows(self, endpoint: str | None) -> list[Window]:
        marks = self.marks.get(endpoint, DEFAULT)
        config = current_app.config
        windows = []
        for setting, per in marks:
            identity = self.keys[per]()
            scope = f"{self.prefix}:limit:{endpoint}:{per}:{identity}"
            windows += [
                Window(f"{scope}:{limit.amount}/{limit.window_s}", limit)
                for limit in limits_parse(config[setting])
            ]
        if len(windows) > WINDOWS_PER_REQUEST_MAX:
            raise ValueError(f"{endpoint} has more than {WINDOWS_PER_REQUEST_MAX} limits")
        return windows

    def check(self) -> None:
        """Count the request against its limits; ``TooManyRequests`` when one is full."""
        windows = self.windows(request.endpoint)
        if not windows:
            return
        wait_s = self._hit(windows, time.time())
        if wait_s is not None:
            raise TooManyRequests(math.ceil(wait_s))

    def _hit(self, windows: Sequence[Window], now_s: float) -> float | None:
        """Count in the shared windows, or in this process's while they are unavailable."""
        if not self.outage.skip():
            try:
                wait_s = self.store.hit(windows, now_s)
            except redis.RedisError as error:
                self.outage.failed(error)
            else:
                self.outage.recovered()
                return wait_s
        return self.fallback.hit(windows, now_s)


def init_app(
    app: Flask,
    *,
    client: redis.Redis | None,
    keys: dict[str, Callable[[], str]],
    marks: dict[str | None, Marks],
    outage: Outage | None = None,
) -> RateLimits:
    """Check every setting the marks name (a bad one fails here, not on a request), and check
    each request's limits before its view runs."""
    for setting, _ in {mark for view_marks in marks.values() for mark in view_marks} | set(DEFAULT):
        limits_parse(app.config[setting])
    store: WindowStore = RedisWindows(client) if client is not None else MemoryWindows()
    limits = RateLimits(store, app.config["RATELIMIT_KEY_PREFIX"], keys, marks)
    if outage is not None:
        limits.outage = outage
    app.extensions["tanhui.ratelimits"] = limits
    app.before_request(limits.check)
    return limits
