"""Key-value stores shared by all workers: Redis in production, process-local when embedded.

They carry what must be fetched once for everyone (the WeChat server-side access token) and, in
later packages, hot-path caches and counters.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis

#: How long a shared lock is held at most, and how long a waiter keeps trying [s].
SHARED_LOCK_TIMEOUT_S = 10.0
SHARED_LOCK_WAIT_S = 12.0


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
        value = self.client.get(self._key(key))
        return value.decode() if isinstance(value, bytes) else value

    def set(self, key: str, value: str, ttl_s: int) -> None:
        self.client.set(self._key(key), value, ex=max(1, int(ttl_s)))

    def delete(self, key: str) -> None:
        self.client.delete(self._key(key))

    def lock(self, name: str) -> AbstractLock:
        return self.client.lock(
            self._key(f"lock:{name}"),
            timeout=SHARED_LOCK_TIMEOUT_S,
            blocking_timeout=SHARED_LOCK_WAIT_S,
        )

    def ping(self) -> bool:
        return bool(self.client.ping())


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
