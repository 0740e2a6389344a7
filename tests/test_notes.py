"""Signed notes and checkpoints, against the reference vector of golang.org/x/mod's
sumdb/note package (its documented example key, text and signature; BSD-3-Clause)."""

from __future__ import annotations

import base64

import pytest

from deconflict.merkle import leaf_hash, root
from deconflict.notes import Checkpoint, NoteError, SignerKey, VerifierKey, open_note, sign_note

VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
SIGNED = TEXT + (
    "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKv"
    "qfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_signing_reproduces_the_reference_note_byte_for_byte() -> None:
    key = SignerKey.from_text(SKEY)
    assert key.to_text() == SKEY
    assert key.verifier.to_text() == VKEY
    assert sign_note(TEXT, key) == SIGNED


def test_the_reference_note_opens_with_the_reference_key() -> None:
    assert open_note(SIGNED, VerifierKey.from_text(VKEY)) == TEXT


@pytest.mark.parametrize(
    "note",
    [
        SIGNED.replace("cryptography", "cryptographY"),
        SIGNED.replace("x08go", "x08gp"),
        TEXT,
        SIGNED.replace("\u2014", "-"),
        SIGNED.replace("PeterNeumann x08", "PeterNeuman x08"),
    ],
    ids=["altered_text", "altered_signature", "unsigned", "no_em_dash", "other_signer"],
)
def test_an_altered_or_unsigned_note_is_refused(note: str) -> None:
    with pytest.raises(NoteError):
        open_note(note, VerifierKey.from_text(VKEY))


@pytest.mark.parametrize(
    "key",
    [
        VKEY.replace("c74f20a3", "c74f20a4"),
        VKEY.replace("Peter", "Pete r"),
        VKEY[:-4],
        "PeterNeumann+c74f20a3",
        VKEY.replace("+ARpc", "+AhRpc"),
    ],
    ids=["wrong_key_id", "space_in_name", "truncated", "no_key", "not_base64_or_length"],
)
def test_a_mangled_verifier_key_is_refused(key: str) -> None:
    with pytest.raises(NoteError):
        VerifierKey.from_text(key)


def test_a_checkpoint_round_trips_and_a_forged_one_is_refused() -> None:
    key = SignerKey.generate("deconflict.test/log")
    tree = root([leaf_hash(b"declared"), leaf_hash(b"acknowledged")])
    note = Checkpoint("deconflict.test/log", 2, tree).sign(key)
    assert note.split("\n")[:4] == ["deconflict.test/log", "2", base64.b64encode(tree).decode(), ""]
    opened = Checkpoint.open(note, key.verifier)
    assert opened == Checkpoint("deconflict.test/log", 2, tree)
    with pytest.raises(NoteError):
        Checkpoint.open(note.replace("\n2\n", "\n3\n", 1), key.verifier)
    with pytest.raises(NoteError):
        Checkpoint.open(note, SignerKey.generate("deconflict.test/log").verifier)
