"""The log as C2SP tlog-tiles: paths and encodings against the specification's own examples, and
tiles read from the stored nodes equal to the tree's hashes computed from the leaves alone."""

import pytest
import sqlalchemy as sa

from ledger.models import LogLeaf
from ledger.tlog import log_append, log_sequence, merkle
from ledger.tlog.tiles import (
    TILE_WIDTH,
    Tile,
    TileError,
    entry_bundle_encode,
    index_path,
    tile_parse,
    tile_read,
    tiles_for,
)


# -- the specification's examples ---------------------------------------------------------------
def test_an_index_is_zero_padded_groups_of_three_all_but_the_last_prefixed_x():
    # "index 1234067 will be encoded as x001/x234/067"
    assert index_path(1234067) == "x001/x234/067"
    assert Tile(0, 1234067).path() == "tile/0/x001/x234/067"
    assert tile_parse("0/x001/x234/067") == Tile(0, 1234067)
    assert [index_path(n) for n in (0, 7, 999, 1000, 1_000_000)] == [
        "000", "007", "999", "x001/000", "x001/x000/000",
    ]  # fmt: skip


def test_a_tree_of_70000_is_the_tiles_the_specification_lists():
    # "273 full level 0 tiles, one partial level 0 tile of width 112, one full level 1 tile, one
    # partial level 1 tile of width 17, and one partial level 2 tile of width 1"
    tiles = list(tiles_for(70_000))
    by_level = {level: [t for t in tiles if t.level == level] for level in (0, 1, 2)}
    assert len(tiles) == sum(len(v) for v in by_level.values())
    assert [t for t in by_level[0] if t.full] == [Tile(0, n) for n in range(273)]
    assert [t for t in by_level[0] if not t.full] == [Tile(0, 273, 112)]
    assert by_level[1] == [Tile(1, 0), Tile(1, 1, 17)]
    assert by_level[2] == [Tile(2, 0, 1)]
    assert Tile(1, 1, 17).path() == "tile/1/001.p/17"


def test_a_tree_of_256_is_one_full_level_0_tile_and_a_partial_level_1_tile_of_width_1():
    assert list(tiles_for(256)) == [Tile(0, 0), Tile(1, 0, 1)]
    assert [t.path() for t in tiles_for(256)] == ["tile/0/000", "tile/1/000.p/1"]
    assert list(tiles_for(0)) == []


def test_entry_bundles_are_uint16_big_endian_length_prefixed():
    assert entry_bundle_encode([b"hello", b""]) == b"\x00\x05hello\x00\x00"
    with pytest.raises(TileError):
        entry_bundle_encode([b"x" * 65_536])


@pytest.mark.parametrize(
    "path",
    [
        "0/1234067",  # not in groups
        "0/x1234/067",
        "0/001/234",  # all but the last group begin with x
        "0/x000/001",  # a leading zero group: 1 is spelled 001
        "00/000",  # the level has no leading zeros
        "64/000",  # levels are 0 to 63
        "0/000.p/0",  # widths are 1 to 255
        "0/000.p/256",
        "0/000.p/012",
        "0/000.p",
        "entry/000",
        "0",
        "0/-01",
    ],
)
def test_only_the_canonical_spelling_names_a_tile(path):
    with pytest.raises(TileError):
        tile_parse(path)


def test_partial_tiles_and_entry_bundles_parse():
    assert tile_parse("entries/x001/x234/067.p/255") == Tile(None, 1234067, 255)
    assert tile_parse("63/000.p/1") == Tile(63, 0, 1)
    assert Tile(None, 5).path() == "tile/entries/005"


# -- tiles from the stored tree -------------------------------------------------------------------
SIZE = 3 * TILE_WIDTH + 5


@pytest.fixture()
def sequenced(session, signer, origin, now):
    """A log of 773 leaves, sequenced in uneven rounds: three full level-0 tiles, a partial one
    of width 5, and a partial level-1 tile of width 3."""
    for number in range(SIZE):
        log_append(session, kind="test.event", source_id=str(number), data={"n": number}, now=now)
    for limit in (1, 200, 300, 272):
        log_sequence(session, signer=signer, origin=origin, now=now, limit=limit)
    data = session.scalars(sa.select(LogLeaf.data).order_by(LogLeaf.position)).all()
    assert len(data) == SIZE
    return [item.encode() for item in data]


def test_tiles_from_stored_nodes_hold_the_tree_hashes_the_leaves_give(session, sequenced):
    hashes = [merkle.leaf_hash(item) for item in sequenced]
    tiles = list(tiles_for(SIZE))
    assert [t.path() for t in tiles] == [
        "tile/0/000", "tile/0/001", "tile/0/002", "tile/0/003.p/5", "tile/1/000.p/3",
    ]  # fmt: skip
    for tile in tiles:
        data = tile_read(session, tile, size=SIZE)
        assert len(data) == 32 * tile.width
        span = TILE_WIDTH**tile.level
        for i in range(tile.width):
            first = (tile.index * TILE_WIDTH + i) * span
            # MTH(D[(n·256 + i)·256^l : (n·256 + i + 1)·256^l]), from the leaves alone
            assert data[32 * i : 32 * (i + 1)] == merkle.root_from_leaves(
                hashes[first : first + span]
            )


def test_a_level_1_hash_is_the_merkle_tree_hash_of_the_full_tile_below(session, sequenced):
    level_one = tile_read(session, Tile(1, 0, 3), size=SIZE)
    for index in range(3):
        below = tile_read(session, Tile(0, index), size=SIZE)
        leaves = [below[i : i + 32] for i in range(0, len(below), 32)]
        assert level_one[32 * index : 32 * (index + 1)] == merkle.root_from_leaves(leaves)


def test_entry_bundles_hold_the_leaf_data_behind_each_level_0_tile(session, sequenced):
    bundle = tile_read(session, Tile(None, 1), size=SIZE)
    entries, offset = [], 0
    while offset < len(bundle):
        length = int.from_bytes(bundle[offset : offset + 2], "big")
        entries.append(bundle[offset + 2 : offset + 2 + length])
        offset += 2 + length
    assert entries == sequenced[256:512]
    tile = tile_read(session, Tile(0, 1), size=SIZE)
    assert [merkle.leaf_hash(e) for e in entries] == [
        tile[i : i + 32] for i in range(0, len(tile), 32)
    ]
    partial = tile_read(session, Tile(None, 3, 5), size=SIZE)
    assert partial == entry_bundle_encode(sequenced[768:773])


def test_a_partial_tile_is_the_prefix_of_its_full_tile(session, sequenced):
    full = tile_read(session, Tile(0, 2), size=SIZE)
    assert tile_read(session, Tile(0, 2, 17), size=SIZE) == full[: 17 * 32]


@pytest.mark.parametrize(
    "tile",
    [Tile(0, 3), Tile(0, 3, 6), Tile(1, 0), Tile(1, 0, 4), Tile(2, 0, 1), Tile(None, 4, 1)],
)
def test_tiles_beyond_the_signed_tree_are_not_served(session, sequenced, tile):
    with pytest.raises(TileError):
        tile_read(session, tile, size=SIZE)


def test_a_tile_within_the_tree_but_beyond_the_signed_size_is_not_served(session, sequenced):
    assert tile_read(session, Tile(0, 0), size=SIZE)
    with pytest.raises(TileError):
        tile_read(session, Tile(0, 0), size=255)
