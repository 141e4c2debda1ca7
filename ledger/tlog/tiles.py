"""The log as C2SP ``tlog-tiles``: hash tiles and entry bundles, read from the stored tree.

A tile at level ``L`` and index ``N`` is 256 consecutive Merkle tree hashes of height ``8·L``:
``MTH(D[(N·256 + i)·256^L : (N·256 + i + 1)·256^L])`` for ``i`` in 0..255. Those are exactly the
complete-subtree hashes the sequencer stores (``tlog_nodes`` at level ``8·L``, positions
``N·256 + i``), so a tile is one range read of one level, never a rebuilt tree. A partial tile
holds the first ``W`` (1..255) hashes of the same range; an entry bundle holds the leaf data
behind a level-0 tile, each entry prefixed by its length as a big-endian uint16.

Paths are the specification's: ``tile/<L>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``, with
``N`` in zero-padded groups of three digits, every group but the last prefixed ``x``
(1234067 → ``x001/x234/067``). Only the canonical spelling of a path names a tile.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ledger.models import LogLeaf, LogNode

#: Levels of the Merkle tree one tile spans, and so hashes per full tile (2^8).
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
#: The deepest tile level the specification allows.
TILE_LEVEL_MAX = 63
#: An entry's length is a uint16 in its bundle: no leaf may be longer.
ENTRY_BYTES_MAX = 0xFFFF
#: Groups of an index path: 2^63 has 19 digits, so at most seven groups of three.
INDEX_GROUPS_MAX = 7

_GROUP = re.compile(r"x?\d{3}")
_WIDTH = re.compile(r"[1-9]\d{0,2}")
_LEVEL = re.compile(r"0|[1-9]\d?")


class TileError(ValueError):
    """A path that names no tile, or a tile the tree does not hold."""


@dataclass(frozen=True)
class Tile:
    """A hash tile (``level`` 0..63) or, with ``level`` None, an entry bundle."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def hash_level(self) -> int:
        """The tree level of the tile's hashes (entry bundles stand on level 0)."""
        return TILE_HEIGHT * (self.level or 0)

    @property
    def first_position(self) -> int:
        """Position of the tile's first hash at ``hash_level``."""
        return self.index * TILE_WIDTH

    def leaves_needed(self) -> int:
        """The smallest tree size that holds every hash of the tile."""
        return (self.first_position + self.width) << self.hash_level

    def path(self) -> str:
        """The tile's path under the log's prefix.

        >>> Tile(0, 1234067).path()
        'tile/0/x001/x234/067'
        >>> Tile(None, 3, 112).path()
        'tile/entries/003.p/112'
        """
        level = "entries" if self.level is None else str(self.level)
        suffix = "" if self.full else f".p/{self.width}"
        return f"tile/{level}/{index_path(self.index)}{suffix}"


def index_path(index: int) -> str:
    """``N`` as the specification encodes it.

    >>> index_path(1234067), index_path(0), index_path(1000)
    ('x001/x234/067', '000', 'x001/000')
    """
    if index < 0:
        raise TileError("a tile index is not negative")
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[start : start + 3] for start in range(0, len(digits), 3)]
    return "/".join([f"x{group}" for group in groups[:-1]] + [groups[-1]])


def tile_parse(path: str) -> Tile:
    """The tile a path (after ``tile/``) names; ``TileError`` unless it is spelled canonically.

    >>> tile_parse("0/x001/x234/067")
    Tile(level=0, index=1234067, width=256)
    >>> tile_parse("entries/x001/000.p/7")
    Tile(level=None, index=1000, width=7)
    """
    parts = path.split("/")
    if len(parts) < 2:
        raise TileError("a tile path names a level and an index")
    level_text, groups = parts[0], parts[1:]
    width = TILE_WIDTH
    if len(groups) >= 2 and groups[-2].endswith(".p"):
        if not _WIDTH.fullmatch(groups[-1]) or int(groups[-1]) >= TILE_WIDTH:
            raise TileError("a partial tile's width is 1 to 255")
        width = int(groups[-1])
        groups = [*groups[:-2], groups[-2][: -len(".p")]]
    if level_text == "entries":
        level = None
    elif _LEVEL.fullmatch(level_text) and int(level_text) <= TILE_LEVEL_MAX:
        level = int(level_text)
    else:
        raise TileError("a tile level is 0 to 63, or entries")
    if not 0 < len(groups) <= INDEX_GROUPS_MAX or not all(_GROUP.fullmatch(g) for g in groups):
        raise TileError("a tile index is groups of three digits")
    index = int("".join(group.lstrip("x") for group in groups))
    if index_path(index) != "/".join(groups):
        raise TileError("a tile index is spelled one way only")
    return Tile(level, index, width)


def tiles_for(size: int) -> Iterator[Tile]:
    """Every hash tile a tree of ``size`` leaves is served as, level by level: its full tiles,
    then the partial tile of width ``floor(size / 256^L) mod 256`` where that is not zero.

    >>> [t.path() for t in tiles_for(256)]
    ['tile/0/000', 'tile/1/000.p/1']
    """
    level = 0
    while size >> (TILE_HEIGHT * level):
        hashes = size >> (TILE_HEIGHT * level)
        for index in range(hashes // TILE_WIDTH):
            yield Tile(level, index)
        if hashes % TILE_WIDTH:
            yield Tile(level, hashes // TILE_WIDTH, hashes % TILE_WIDTH)
        level += 1


def entry_bundle_encode(entries: list[bytes]) -> bytes:
    """Entries, each prefixed by its length as a big-endian uint16.

    >>> entry_bundle_encode([b"ab", b""]).hex()
    '000261620000'
    """
    out = bytearray()
    for entry in entries:
        if len(entry) > ENTRY_BYTES_MAX:
            raise TileError(f"an entry of {len(entry)} bytes does not fit a bundle")
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


# -- reading the stored tree ---------------------------------------------------------------------
def tile_read(session: Session, tile: Tile, *, size: int) -> bytes:
    """The tile's bytes within a tree of ``size`` leaves (the latest signed size), straight from
    the stored nodes or leaves. ``TileError`` when the tree does not reach that far yet."""
    if tile.leaves_needed() > size:
        raise TileError("the signed tree does not hold this tile yet")
    first, end = tile.first_position, tile.first_position + tile.width
    if tile.level is None:
        rows = session.execute(
            sa.select(LogLeaf.position, LogLeaf.data)
            .where(LogLeaf.position >= first, LogLeaf.position < end)
            .order_by(LogLeaf.position)
        ).all()
        _contiguous([row.position for row in rows], first, end)
        return entry_bundle_encode([row.data.encode() for row in rows])
    nodes = session.execute(
        sa.select(LogNode.position, LogNode.hash)
        .where(
            LogNode.level == tile.hash_level,
            LogNode.position >= first,
            LogNode.position < end,
        )
        .order_by(LogNode.position)
    ).all()
    _contiguous([row.position for row in nodes], first, end)
    return b"".join(bytes(row.hash) for row in nodes)


def _contiguous(positions: list[int], first: int, end: int) -> None:
    if positions != list(range(first, end)):
        raise TileError(f"the stored tree lacks rows between {first} and {end}")


__all__ = [
    "ENTRY_BYTES_MAX",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileError",
    "entry_bundle_encode",
    "index_path",
    "tile_parse",
    "tile_read",
    "tiles_for",
]
