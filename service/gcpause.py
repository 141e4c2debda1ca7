"""Python's cycle collector, paused for a bulk operation.

A distribution to 100,000 farms makes millions of short-lived objects (awards, entries, encoded
batches, rows). Every 700 new objects start a collection, and the older generations' collections
walk every live object, the operation's own included: in ``bench.points`` the collector took about
a fifth of a distribution's time. Reference counting frees those objects as soon as they are
dropped, so the operation runs with the collector paused, and the collector resumes afterwards
(collecting whatever cycles there are as usual from then on).

Pauses nest and may overlap across threads: the collector resumes when the last one ends, and only
if it was running when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_guard = threading.Lock()
_pauses = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    global _pauses, _resume
    with _guard:
        if _pauses == 0:
            _resume = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _guard:
            _pauses -= 1
            if _pauses == 0 and _resume:
                gc.enable()
