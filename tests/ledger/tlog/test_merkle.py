"""RFC 9162 hashing and proofs against independently published vectors (RFC 6962 test data of
the Certificate Transparency project) and against the RFC's recursive definitions."""

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.tlog import merkle

LEAF_DATA = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
CONSISTENCY = [
    (
        2,
        8,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
LEAVES = [merkle.leaf_hash(data) for data in LEAF_DATA]


def subtree_of(leaves):
    return lambda start, end: merkle.root_from_leaves(leaves[start:end])


def test_hashing_prefixes():
    assert merkle.leaf_hash(b"x") == hashlib.sha256(b"\x00x").digest()
    assert (
        merkle.node_hash(b"a" * 32, b"b" * 32)
        == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )


@pytest.mark.parametrize("size", range(9))
def test_roots_match_the_published_vectors(size):
    assert merkle.root_from_leaves(LEAVES[:size]).hex() == ROOTS[size]
    hashes = [
        merkle.root_from_leaves(LEAVES[(index << level) : ((index + 1) << level)])
        for level, index in merkle.complete_subtrees(0, size)
    ]
    assert merkle.root_from_subtrees(hashes).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION)
def test_inclusion_proofs_match_the_published_vectors(index, size, expected):
    path = merkle.inclusion_path(index, size, subtree_of(LEAVES))
    assert [p.hex() for p in path] == expected
    assert merkle.verify_inclusion(LEAVES[index], index, size, path, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY)
def test_consistency_proofs_match_the_published_vectors(old, new, expected):
    path = merkle.consistency_path(old, new, subtree_of(LEAVES))
    assert [p.hex() for p in path] == expected
    assert merkle.verify_consistency(
        old, new, bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new]), path
    )


BIG = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(70)]
BIG_ROOTS = [merkle.root_from_leaves(BIG[:n]) for n in range(71)]


def test_every_inclusion_proof_up_to_70_verifies_and_tampering_fails():
    for size in range(1, 71):
        for index in range(size):
            path = merkle.inclusion_path(index, size, subtree_of(BIG))
            root = BIG_ROOTS[size]
            assert merkle.verify_inclusion(BIG[index], index, size, path, root)
            assert not merkle.verify_inclusion(BIG[index], index, size, path, BIG_ROOTS[size - 1])
            if path:
                bent = [bytes([path[0][0] ^ 1]) + path[0][1:], *path[1:]]
                assert not merkle.verify_inclusion(BIG[index], index, size, bent, root)
                assert not merkle.verify_inclusion(BIG[index], index, size, path[:-1], root)
                wrong_index = (index + 1) % size
                assert not merkle.verify_inclusion(BIG[index], wrong_index, size, path, root)
            assert not merkle.verify_inclusion(BIG[index], index, size, [*path, b"\xab" * 32], root)


def test_every_consistency_proof_up_to_40_verifies_and_tampering_fails():
    for new in range(0, 41):
        for old in range(0, new + 1):
            path = merkle.consistency_path(old, new, subtree_of(BIG))
            assert merkle.verify_consistency(old, new, BIG_ROOTS[old], BIG_ROOTS[new], path)
            if path:
                bent = [*path[:-1], bytes([path[-1][0] ^ 1]) + path[-1][1:]]
                assert not merkle.verify_consistency(old, new, BIG_ROOTS[old], BIG_ROOTS[new], bent)
                assert not merkle.verify_consistency(
                    old, new, BIG_ROOTS[old], BIG_ROOTS[new], path[:-1]
                )
            if 0 < old < new:
                assert not merkle.verify_consistency(
                    old, new, BIG_ROOTS[old - 1], BIG_ROOTS[new], path
                )


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=10_000))
def test_complete_subtrees_cover_the_range_exactly(start_units, length):
    size = start_units + length
    pieces = merkle.complete_subtrees(0, size)
    covered = 0
    for level, index in pieces:
        assert index << level == covered
        covered += 1 << level
    assert covered == size
    assert len(pieces) == bin(size).count("1")


@pytest.mark.parametrize("bad", [b"", b"x" * 31, "not bytes"])
def test_malformed_hashes_do_not_verify(bad):
    assert not merkle.verify_inclusion(bad, 0, 1, [], LEAVES[0])
    assert not merkle.verify_consistency(1, 2, bad, BIG_ROOTS[2], [BIG[1]])
