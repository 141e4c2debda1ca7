"""Serials to the gram: where an allocation part sits on its retired range's gram line, and the
free grams of a range. Pure functions, no database.

One serial is one tonne. A retired range of serials ``s..e`` is a line of grams from ``0`` to
``(e - s + 1) * GRAMS_PER_SERIAL``; serial ``s + k`` covers ``[k * GRAMS_PER_SERIAL,
(k + 1) * GRAMS_PER_SERIAL)``. An allocation part is a half-open interval ``[start_g, end_g)`` of
that line, so the serials it names, and the grams it takes of the first and last of them, follow
from the two offsets alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from service.base.units import GRAMS_PER_TONNE

#: One serial is one tonne.
GRAMS_PER_SERIAL = GRAMS_PER_TONNE


@dataclass(frozen=True)
class SerialSpan:
    """The serials a part took: ``serial_start`` to ``serial_end``, with ``from_g`` the gram of
    ``serial_start`` where it begins (0 to 999,999) and ``to_g`` the gram of ``serial_end`` where
    it ends (1 to 1,000,000, exclusive)."""

    serial_start: int
    serial_end: int
    from_g: int
    to_g: int

    @property
    def quantity_g(self) -> int:
        return (self.serial_end - self.serial_start) * GRAMS_PER_SERIAL + self.to_g - self.from_g

    @property
    def first_serial_g(self) -> int:
        """Grams taken of ``serial_start``."""
        if self.serial_start == self.serial_end:
            return self.to_g - self.from_g
        return GRAMS_PER_SERIAL - self.from_g

    @property
    def last_serial_g(self) -> int:
        """Grams taken of ``serial_end`` (the same as ``first_serial_g`` inside one serial)."""
        if self.serial_start == self.serial_end:
            return self.to_g - self.from_g
        return self.to_g


def serial_span(range_serial_start: int, start_g: int, end_g: int) -> SerialSpan:
    """The serials of the part ``[start_g, end_g)`` of the range starting at serial
    ``range_serial_start``.

    >>> span = serial_span(1_000_001, 0, 6_250_000)
    >>> (span.serial_start, span.serial_end, span.first_serial_g, span.last_serial_g)
    (1000001, 1000007, 1000000, 250000)
    >>> serial_span(1_000_001, 6_250_000, 7_000_000).first_serial_g
    750000
    """
    if not 0 <= start_g < end_g:
        raise ValueError(f"not a part: [{start_g}, {end_g})")
    first, from_g = divmod(start_g, GRAMS_PER_SERIAL)
    last, before_end = divmod(end_g - 1, GRAMS_PER_SERIAL)
    return SerialSpan(range_serial_start + first, range_serial_start + last, from_g, before_end + 1)


def free_intervals(total_g: int, taken: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The free intervals of a gram line of ``total_g`` grams, lowest first, given the
    intervals ``taken`` (in any order; they never overlap when the ledger is sound).

    >>> free_intervals(10, [(2, 4), (0, 1)])
    [(1, 2), (4, 10)]
    """
    free: list[tuple[int, int]] = []
    cursor = 0
    for start_g, end_g in sorted(taken):
        if start_g > cursor:
            free.append((cursor, start_g))
        cursor = max(cursor, end_g)
    if cursor < total_g:
        free.append((cursor, total_g))
    return free


def intervals_take(free: Iterable[tuple[int, int]], quantity_g: int) -> list[tuple[int, int]]:
    """The lowest ``quantity_g`` grams of the ``free`` intervals (or all of them, if fewer).

    >>> intervals_take([(1, 2), (4, 10)], 3)
    [(1, 2), (4, 6)]
    """
    taken: list[tuple[int, int]] = []
    needed = quantity_g
    for start_g, end_g in free:
        if needed == 0:
            break
        take = min(end_g - start_g, needed)
        taken.append((start_g, start_g + take))
        needed -= take
    return taken
