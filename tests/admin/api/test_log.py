"""The transparency log over HTTP: the checkpoint byte for byte, tiles and entry bundles with
their caching, and proofs as JSON that verify against the signed roots."""

import base64
import gzip
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from ledger.tlog import log_append, log_sequence, merkle
from ledger.tlog.note import open_checkpoint, parse_signer_key
from tests.conftest import TEST_LOG_KEY, TEST_LOG_ORIGIN

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SIGNER = parse_signer_key(TEST_LOG_KEY)


@pytest.fixture()
def log_of(session):
    """Append ``count`` events and sequence them in one round; returns the checkpoint."""

    def grow(count, start=0):
        for number in range(start, start + count):
            log_append(
                session, kind="test.event", source_id=str(number), data={"n": number}, now=NOW
            )
        return log_sequence(session, signer=SIGNER, origin=TEST_LOG_ORIGIN, now=NOW)

    return grow


def leaves_hashes(session):
    rows = session.execute(sa.text("SELECT data FROM tlog_leaves ORDER BY position")).scalars()
    return [merkle.leaf_hash(data.encode()) for data in rows]


def b64(value):
    return base64.b64decode(value, validate=True)


def test_the_checkpoint_is_the_signed_note_exactly_as_plain_text_never_cached(client, log_of):
    signed = log_of(300)
    response = client.get("/log/checkpoint")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.data == signed.note.encode()
    assert response.data.endswith(b"\n")  # the newline the signature covers
    checkpoint = open_checkpoint(response.data.decode(), SIGNER.verifier(), TEST_LOG_ORIGIN)
    assert checkpoint.size == 300


def test_no_checkpoint_yet_is_not_found(client):
    assert client.get("/log/checkpoint").status_code == 404


def test_tiles_and_bundles_are_immutable_octets(client, session, log_of):
    log_of(300)
    hashes = leaves_hashes(session)
    full = client.get("/log/tile/0/000")
    assert full.status_code == 200
    assert full.headers["Content-Type"] == "application/octet-stream"
    assert full.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert full.data == b"".join(hashes[:256])
    partial = client.get("/log/tile/0/001.p/44")
    assert partial.data == b"".join(hashes[256:300])
    assert client.get("/log/tile/1/000.p/1").data == merkle.root_from_leaves(hashes[:256])
    bundle = client.get("/log/tile/entries/001.p/44", headers={"Accept-Encoding": "gzip"})
    assert bundle.headers["Content-Encoding"] == "gzip"
    assert bundle.headers["Vary"] == "Accept-Encoding"
    raw = gzip.decompress(bundle.data)
    first_length = int.from_bytes(raw[:2], "big")
    assert merkle.leaf_hash(raw[2 : 2 + first_length]) == hashes[256]
    plain = client.get("/log/tile/entries/001.p/44")
    assert "Content-Encoding" not in plain.headers and plain.data == raw


@pytest.mark.parametrize(
    "path",
    ["/log/tile/0/001", "/log/tile/0/001.p/45", "/log/tile/2/000.p/1", "/log/tile/0/0001",
     "/log/tile/0/001.p/044", "/log/tile/entries/002.p/1", "/log/tile/x/000"],
)  # fmt: skip
def test_tiles_the_signed_tree_does_not_hold_or_misspelled_paths_are_not_found(
    client, log_of, path
):
    log_of(300)
    response = client.get(path)
    assert response.status_code == 404
    assert response.json["code"] == "not_found"


def test_inclusion_by_index_verifies_against_the_signed_root(client, session, log_of):
    log_of(10)
    signed = log_of(27, start=10)
    answer = client.get("/api/v1/log/proofs/inclusion?leaf_index=13").json
    assert answer["tree_size"] == 37 and answer["checkpoint"] == signed.note
    root = open_checkpoint(answer["checkpoint"], SIGNER.verifier(), TEST_LOG_ORIGIN).root_hash
    path = [b64(node) for node in answer["inclusion_path"]]
    leaf = merkle.leaf_hash(answer["leaf_data"].encode())
    assert b64(answer["leaf_hash"]) == leaf
    assert merkle.verify_inclusion(leaf, 13, 37, path, root)
    older = client.get("/api/v1/log/proofs/inclusion?leaf_index=3&tree_size=10").json
    assert older["checkpoint"] is not None and older["tree_size"] == 10
    assert merkle.verify_inclusion(
        b64(older["leaf_hash"]), 3, 10, [b64(n) for n in older["inclusion_path"]],
        b64(older["root_hash"]),
    )  # fmt: skip
    unsigned = client.get("/api/v1/log/proofs/inclusion?leaf_index=3&tree_size=11").json
    assert unsigned["checkpoint"] is None  # a size no checkpoint names: the root, not a note


def test_inclusion_by_leaf_hash_finds_the_leaf(client, session, log_of):
    log_of(20)
    wanted = leaves_hashes(session)[17]
    answer = client.get(
        "/api/v1/log/proofs/inclusion", query_string={"leaf_hash": base64.b64encode(wanted)}
    ).json
    assert answer["leaf_index"] == 17 and b64(answer["leaf_hash"]) == wanted
    missing = client.get(
        "/api/v1/log/proofs/inclusion",
        query_string={"leaf_hash": base64.b64encode(b"\x00" * 32)},
        headers={"Accept-Language": "en"},
    )
    assert missing.status_code == 404
    assert missing.json["code"] == "log_leaf_not_found"
    assert missing.json["fields"][0]["field"] == "leaf_hash"


def test_consistency_between_two_signed_sizes_verifies(client, session, log_of):
    first = log_of(13)
    second = log_of(50, start=13)
    answer = client.get("/api/v1/log/proofs/consistency?first=13&second=63").json
    assert (answer["first_checkpoint"], answer["second_checkpoint"]) == (first.note, second.note)
    assert merkle.verify_consistency(
        13, 63, first.root_hash, second.root_hash,
        [b64(node) for node in answer["consistency_path"]],
    )  # fmt: skip
    assert client.get("/api/v1/log/proofs/consistency?first=63").json["consistency_path"] == []


@pytest.mark.parametrize(
    ("query", "field", "code", "status"),
    [
        ("consistency?first=5&second=99", "second", "log_tree_size_invalid", 422),
        ("consistency?first=9&second=5", "first", "log_tree_size_invalid", 422),
        ("consistency?first=-1", "first", "validation_failed", 422),
        ("consistency?second=5", "first", "validation_failed", 422),
        ("consistency?first=abc", "first", "validation_failed", 422),
        ("inclusion?leaf_index=20", "leaf_index", "log_leaf_not_found", 404),
        ("inclusion?leaf_index=1&tree_size=21", "tree_size", "log_tree_size_invalid", 422),
        ("inclusion?leaf_index=1&leaf_hash=AAAA", "leaf_index", "validation_failed", 422),
        ("inclusion?leaf_hash=AAAA", "leaf_hash", "validation_failed", 422),
        ("inclusion?leaf_hash=" + "A" * 65, "leaf_hash", "validation_failed", 422),
        ("inclusion", "leaf_index", "validation_failed", 422),
    ],
)
def test_bad_proof_requests_name_the_field_in_both_languages(
    client, log_of, query, field, code, status
):
    log_of(20)
    for language in ("en", "zh-CN"):
        response = client.get(f"/api/v1/log/proofs/{query}", headers={"Accept-Language": language})
        assert response.status_code == status, response.json
        assert response.json["code"] == code
        assert field in [item["field"] for item in response.json["fields"]]
    english = client.get(f"/api/v1/log/proofs/{query}", headers={"Accept-Language": "en"})
    chinese = client.get(f"/api/v1/log/proofs/{query}", headers={"Accept-Language": "zh-CN"})
    assert english.json["message"] != chinese.json["message"]


def test_the_json_checkpoint_names_the_key_and_the_witnesses(client, log_of):
    signed = log_of(3)
    answer = client.get("/api/v1/log/checkpoint").json
    assert answer["tree_size"] == 3 and answer["note"] == signed.note
    assert answer["verifier_key"] == SIGNER.verifier_key
    assert answer["witnesses"] == [] and answer["witnessed"] is False


def test_the_verifier_is_downloadable_from_the_portal(client):
    response = client.get("/log/tanhui-verify.py")
    assert response.status_code == 200
    assert b"cryptography" in response.data
    assert "attachment" in response.headers["Content-Disposition"]
