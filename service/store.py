"""Key-value stores shared by all workers: Redis in production, process-local when embedded.

They carry what must be fetched once for everyone (the WeChat server-side access token) and, in
later packages, hot-path caches and counters.

Redis can go away. What cannot do without it (the WeChat token, shared locks) answers 503
``service_unavailable``: ``RedisStore`` raises :class:`StoreUnavailable` for any Redis error.
What only goes faster with it (the resolver's cache, scan counts on display, rate-limit windows)
carries on without it: :class:`Outage` remembers that Redis failed, logs that once and its
recovery once, and has callers skip Redis for ``REDIS_RETRY_AFTER_S`` before they try it again,
so an outage does not cost every request a failed connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis

from service.base.exceptions import ErrorCode, ServiceError, Upstream

log = logging.getLogger("tanhui.store")

#: How long a shared lock is held at most, and how long a waiter keeps trying [s].
SHARED_LOCK_TIMEOUT_S = 10.0
SHARED_LOCK_WAIT_S = 12.0
#: After Redis fails, how long those who can do without it skip it before trying again [s].
REDIS_RETRY_AFTER_S = 5.0


class StoreUnavailable(ServiceError):
    """The shared store did not answer: 503, and the client may try again shortly."""

    code = ErrorCode.SERVICE_UNAVAILABLE
    upstream = Upstream.UNREACHABLE


class Outage:
    """Whether a dependency (Redis) is taken to be down, shared by everyone in the process who
    can do without it.

    ``failed`` marks it down (logged once per outage, not once per request) and ``skip`` then
    answers ``True`` for ``retry_after_s``; after that one caller tries again, and ``recovered``
    (logged once) ends the outage. Thread-safe: gunicorn threads share it.
    """

    def __init__(
        self,
        name: str,
        retry_after_s: float = REDIS_RETRY_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.retry_after_s = retry_after_s
        self.clock = clock
        self.down = False
        self._retry_at = 0.0
        self._guard = threading.Lock()

    def skip(self) -> bool:
        """``True`` while the dependency is down and not yet due for another try."""
        with self._guard:
            if not self.down or self.clock() < self._retry_at:
                return self.down
            # Let this caller try; the others skip until it has failed again or recovered.
            self._retry_at = self.clock() + self.retry_after_s
            return False

    def failed(self, error: BaseException) -> None:
        with self._guard:
            self._retry_at = self.clock() + self.retry_after_s
            if self.down:
                return
            self.down = True
        log.error(
            "%s unavailable, carrying on without it: %s", self.name, error or type(error).__name__
        )

    def recovered(self) -> None:
        if not self.down:
            return
        with self._guard:
            if not self.down:
                return
            self.down = False
        log.warning("%s available again", self.name)


class SharedStore(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl_s: int) -> None: ...

    def delete(self, key: str) -> None: ...

    def lock(self, name: str) -> AbstractLock: ...

    def ping(self) -> bool: ...


class AbstractLock(Protocol):
    def __enter__(self) -> object: ...

    def __exit__(self, *exc_info: object) -> None: ...


class RedisStore:
    """Keys under one prefix on a Redis server; locks are redis-py's token-checked locks."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def get(self, key: str) -> str | None:
        try:
            value = self.client.get(self._key(key))
        except redis.RedisError as error:
            raise StoreUnavailable() from error
        return value.decode() if isinstance(value, bytes) else value

    def set(self, key: str, value: str, ttl_s: int) -> None:
        try:
            self.client.set(self._key(key), value, ex=max(1, int(ttl_s)))
        except redis.RedisError as error:
            raise StoreUnavailable() from error

    def delete(self, key: str) -> None:
        try:
            self.client.delete(self._key(key))
        except redis.RedisError as error:
            raise StoreUnavailable() from error

    def lock(self, name: str) -> AbstractLock:
        return _RedisLock(
            self.client.lock(
                self._key(f"lock:{name}"),
                timeout=SHARED_LOCK_TIMEOUT_S,
                blocking_timeout=SHARED_LOCK_WAIT_S,
            )
        )

    def ping(self) -> bool:
        return bool(self.client.ping())


class _RedisLock:
    """redis-py's lock, with a Redis failure (or a lock never acquired) as ``StoreUnavailable``."""

    def __init__(self, lock: AbstractLock) -> None:
        self._lock = lock

    def __enter__(self) -> object:
        try:
            return self._lock.__enter__()
        except redis.RedisError as error:
            raise StoreUnavailable() from error

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._lock.__exit__(*exc_info)
        except redis.RedisError as error:
            # The lock expires by itself; the work it guarded is done.
            log.warning("shared lock not released: %s", error)


class SkippingCache:
    """A cache over a shared store that a store outage turns into misses: ``get`` answers
    ``None`` and ``set`` does nothing while the store is down (see :class:`Outage`)."""

    def __init__(self, store: SharedStore, outage: Outage) -> None:
        self.store = store
        self.outage = outage

    def get(self, key: str) -> str | None:
        if self.outage.skip():
            return None
        try:
            value = self.store.get(key)
        except StoreUnavailable as error:
            self.outage.failed(error.__cause__ or error)
            return None
        self.outage.recovered()
        return value

    def set(self, key: str, value: str, ttl_s: int) -> None:
        if self.outage.skip():
            return
        try:
            self.store.set(key, value, ttl_s)
        except StoreUnavailable as error:
            self.outage.failed(error.__cause__ or error)


class MemoryStore:
    """The embedded default: one process, a dict with expiry, and thread locks."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float]] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def get(self, key: str) -> str | None:
        with self._guard:
            item = self._values.get(key)
            if item is None:
                return None
            value, expires_at = item
            if expires_at <= time.monotonic():
                del self._values[key]
                return None
            return value

    def set(self, key: str, value: str, ttl_s: int) -> None:
        with self._guard:
            self._values[key] = (value, time.monotonic() + max(1, int(ttl_s)))

    def delete(self, key: str) -> None:
        with self._guard:
            self._values.pop(key, None)

    def lock(self, name: str) -> AbstractLock:
        with self._guard:
            return _ThreadLock(self._locks.setdefault(name, threading.Lock()))

    def ping(self) -> bool:
        return True


class _ThreadLock:
    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def __enter__(self) -> object:
        if not self._lock.acquire(timeout=SHARED_LOCK_WAIT_S):
            raise TimeoutError("shared lock not acquired")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()
