"""Signed notes and checkpoints, checked against the Go sumdb/note reference example."""

import pytest

from ledger.tlog import note

# The example key and note of golang.org/x/mod/sumdb/note's documentation. Ed25519 signatures are
# deterministic, so signing the same text with the same key must give the same bytes.
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_signing_reproduces_the_reference_note_byte_for_byte():
    signer = note.parse_signer_key(GO_SIGNER)
    assert signer.verifier_key == GO_VERIFIER
    assert note.sign_note(GO_TEXT, signer) == GO_NOTE


def test_the_reference_note_opens_with_the_reference_verifier():
    assert note.open_note(GO_NOTE, note.parse_verifier_key(GO_VERIFIER)) == GO_TEXT


@pytest.mark.parametrize(
    "tampered",
    [
        GO_NOTE.replace("cryptography", "cryptograph"),
        GO_NOTE.replace("x08go", "x08gp"),
        GO_NOTE.replace("PeterNeumann x08", "PeterNeuman x08"),
        GO_NOTE.replace("\n\n", "\n"),
        GO_NOTE[:-1],
    ],
)
def test_tampered_notes_do_not_open(tampered):
    with pytest.raises(note.NoteError):
        note.open_note(tampered, note.parse_verifier_key(GO_VERIFIER))


def test_another_key_of_the_same_name_does_not_open_it():
    impostor = note.parse_signer_key(note.generate_signer_key("PeterNeumann"))
    with pytest.raises(note.NoteError):
        note.open_note(GO_NOTE, impostor.verifier())


def test_checkpoints_round_trip():
    signer = note.parse_signer_key(note.generate_signer_key("tanhui.test/log"))
    text = note.checkpoint_text("tanhui.test/log", 8, bytes(range(32)))
    assert text == "tanhui.test/log\n8\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
    signed = note.sign_note(text, signer)
    checkpoint = note.open_checkpoint(signed, signer.verifier(), "tanhui.test/log")
    assert (checkpoint.size, checkpoint.root_hash) == (8, bytes(range(32)))
    with pytest.raises(note.NoteError):
        note.open_checkpoint(signed, signer.verifier(), "another.log")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "PRIVATE+KEY+x",
        "PRIVATE+KEY+a b+00000000+AAAA",
        GO_SIGNER.replace("c74f20a3", "c74f20a4"),
    ],
)
def test_malformed_signer_keys(key):
    with pytest.raises(note.NoteError):
        note.parse_signer_key(key)


@pytest.mark.parametrize(
    "text", ["origin\n01\nAAAA\n", "origin\n1\n", "\n1\n" + "A" * 44 + "\n", "origin\n1\nAAAA\n"]
)
def test_malformed_checkpoints(text):
    with pytest.raises(note.NoteError):
        note.parse_checkpoint(text)
