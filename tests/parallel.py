"""Clients racing each other for real: one thread each, all let go at the same moment (shared by
the concurrency tests on PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

JOIN_TIMEOUT_S = 300


def run_at_once(client: Callable[[Any], None], arguments: Iterable[Any]) -> list[BaseException]:
    """Run ``client(argument)`` for every argument, each in its own thread, released together
    by a barrier once all are started; return what any of them raised, for the test to show."""
    arguments = list(arguments)
    barrier = threading.Barrier(len(arguments))
    failures: list[BaseException] = []

    def run(argument: Any) -> None:
        try:
            barrier.wait()
            client(argument)
        except BaseException as error:  # noqa: BLE001 - returned to the test
            failures.append(error)

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=JOIN_TIMEOUT_S)
    return failures
