"""Signed notes and checkpoints (shared.notes) against the published test vectors.

The vectors are Go's golang.org/x/mod sumdb/note tests and the C2SP signed-note example,
quoted exactly.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared import notes

GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SIG = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
             "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n")
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
ENOCH_SIG = ("\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ov"
             "TG01oOTGwnWLox33WWd1RvMc+QQ=\n")
C2SP_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
C2SP_NOTE = ("This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1T"
             "nagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n")


def _peter() -> Ed25519PrivateKey:
    seed = base64.b64decode(PETER_SKEY.split("+", 4)[4])
    assert seed[0] == notes.ED25519
    return Ed25519PrivateKey.from_private_bytes(seed[1:])


def test_signing_reproduces_gos_signature_and_vkey() -> None:
    key = _peter()
    assert notes.sign(GO_TEXT, "PeterNeumann", key) == GO_TEXT + "\n" + PETER_SIG
    assert notes.vkey("PeterNeumann", notes.raw_public_key(key)) == PETER_VKEY


@pytest.mark.parametrize(("vkey", "note"), [
    (PETER_VKEY, GO_TEXT + "\n" + PETER_SIG),
    (ENOCH_VKEY, GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG),
    (PETER_VKEY, GO_TEXT + "\n" + ENOCH_SIG + PETER_SIG),
    (C2SP_VKEY, C2SP_NOTE),
])
def test_published_notes_open_under_their_vkeys(vkey: str, note: str) -> None:
    text = note.rpartition("\n\n")[0] + "\n"
    assert notes.open_note(note, notes.Verifier.parse(vkey)) == text


@pytest.mark.parametrize(("note", "words"), [
    (GO_TEXT.replace("answer", "Answer") + "\n" + PETER_SIG, "does not verify"),
    (GO_TEXT + "\n" + ENOCH_SIG, "no signature by PeterNeumann"),
    (GO_TEXT + "\n" + PETER_SIG.rstrip("\n"), "final newline"),
    (GO_TEXT.replace("\n", "\r\n", 1) + "\n" + PETER_SIG, "control character"),
    (GO_TEXT + PETER_SIG, "no empty line"),
    (GO_TEXT + "\n" + PETER_SIG.replace("\u2014", "-"), "not a signature line"),
    (GO_TEXT + "\n" + PETER_SIG.replace("x08go", "x08g!"), "not a signature line"),
    (GO_TEXT + "\n" + PETER_SIG.replace("AM=", "AA="), "does not verify"),
])
def test_a_changed_or_malformed_note_does_not_open(note: str, words: str) -> None:
    with pytest.raises(notes.NoteError, match=words):
        notes.open_note(note, notes.Verifier.parse(PETER_VKEY))


@pytest.mark.parametrize("vkey", [
    "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # the ID is wrong
    "PeterNeumann+c74f20a3+AhpcQcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # not Ed25519
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",  # 31 bytes
    "PeterNeumann+c74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann", "", "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
])
def test_a_vkey_that_does_not_add_up_is_refused(vkey: str) -> None:
    with pytest.raises(notes.NoteError):
        notes.Verifier.parse(vkey)


def test_a_vkey_whose_base64_holds_a_plus_sign_parses() -> None:
    for _ in range(50):
        key = Ed25519PrivateKey.generate()
        vkey = notes.vkey("example.org/log", notes.raw_public_key(key))
        verifier = notes.Verifier.parse(vkey)
        assert verifier.public_key == notes.raw_public_key(key)
        note = notes.sign("a\n", "example.org/log", key)
        assert notes.open_note(note, verifier) == "a\n"


def test_checkpoints_are_written_and_read_strictly() -> None:
    root = bytes(range(32))
    body = notes.checkpoint_body("example.org/log", 70000, root)
    assert body == f"example.org/log\n70000\n{base64.b64encode(root).decode()}\n"
    assert notes.parse_checkpoint(body) == notes.Checkpoint("example.org/log", 70000, root, body)
    assert notes.parse_checkpoint(body + "extension line\n").size == 70000
    b64 = base64.b64encode(root).decode()
    for bad in (f"o\n070000\n{b64}\n", f"o\n-1\n{b64}\n", f"o\n1\n{b64[:-4]}\n", "o\n1\n",
                f"\n1\n{b64}\n", f"o\n٣\n{b64}\n", f"o\n{'9' * 21}\n{b64}\n"):
        with pytest.raises(notes.NoteError):
            notes.parse_checkpoint(bad)
    for name in ("", "a b", "a+b", "a\nb", " a", "a\u2003b"):
        with pytest.raises(notes.NoteError):
            notes.checkpoint_body(name, 1, root)
