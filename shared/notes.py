"""Signed notes, checkpoints and cosignatures, as C2SP defines them (c2sp.org/signed-note,
tlog-checkpoint, tlog-cosignature).

A note is UTF-8 text ending in a newline, then one empty line, then one or more signature
lines ``— <name> <base64(key ID ‖ signature)>``. The signature covers the text exactly,
with its final newline. An Ed25519 key's ID is the first four bytes of
SHA-256(name ‖ 0x0A ‖ 0x01 ‖ the 32-byte public key), and its verifier key is written
``<name>+<ID in hex>+<base64(0x01 ‖ public key)>``.

A checkpoint is a note whose text is the log's origin, the tree size in decimal and the
root hash in base64, one per line. docs/ledger-format.md shows the ledger's.

A witness cosigns a checkpoint with a signature line of its own, of type 0x04: its key ID
is computed with 0x04 where a note key has 0x01, and the signature is 8 bytes of a POSIX
time in seconds (big-endian) and the Ed25519 signature of ``cosignature/v1``, ``time <the
same time>`` and the checkpoint's text, each line ending in a newline.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ED25519 = 0x01
COSIGNATURE = 0x04  # a witness's timestamped Ed25519 cosignature (c2sp.org/tlog-cosignature)
SIGNATURE_PREFIX = "\u2014 "  # an em dash and one space


class NoteError(ValueError):
    """A name, text or checkpoint the signed-note rules do not allow."""


class Unsigned(NoteError):
    """The note carries no signature by the key asked about (which is not a bad one)."""


def check_name(name: str) -> str:
    """A key name (and a log's origin) is non-empty, and has no space, ``+`` or control
    character: the vkey and the signature line are split on them."""
    if not name or name != name.strip() or any(
            c.isspace() or c == "+" or ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise NoteError(f"{name!r} cannot name a key: it must be non-empty, with no space, "
                        f"no '+' and no control character")
    return name


def raw_public_key(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw)


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    """The four bytes that say which key made a signature."""
    return hashlib.sha256(check_name(name).encode() + b"\n" + bytes([key_type])
                          + public_key).digest()[:4]


def vkey(name: str, public_key: bytes, key_type: int = ED25519) -> str:
    """The verifier key as Go's sumdb/note and the C2SP witnesses write it."""
    return (f"{name}+{key_id(name, key_type, public_key).hex()}+"
            f"{base64.b64encode(bytes([key_type]) + public_key).decode()}")


def signature_line(name: str, key_type: int, public_key: bytes, signature: bytes) -> str:
    blob = key_id(name, key_type, public_key) + signature
    return f"{SIGNATURE_PREFIX}{name} {base64.b64encode(blob).decode()}\n"


def sign(text: str, name: str, key: Ed25519PrivateKey) -> str:
    """The note: the text, an empty line, and the Ed25519 signature of the text's bytes."""
    if not text.endswith("\n") or "\r" in text:
        raise NoteError("a note's text ends with a newline and has no carriage return")
    signature = key.sign(text.encode())
    return text + "\n" + signature_line(name, ED25519, raw_public_key(key), signature)


def cosignature_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def cosign(text: str, name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """A witness's signature line on a checkpoint's text, at ``timestamp`` (seconds)."""
    if not 0 < timestamp < 1 << 63:
        raise NoteError("a cosignature's time is after the epoch and fits 63 bits")
    signature = key.sign(cosignature_message(text, timestamp))
    return signature_line(name, COSIGNATURE, raw_public_key(key),
                          timestamp.to_bytes(8, "big") + signature)


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """A checkpoint's text: origin, size (decimal, no leading zeros), base64 root hash."""
    if size < 0 or len(root) != 32:
        raise NoteError("a checkpoint has a size of 0 or more and a 32-byte root hash")
    return f"{check_name(origin)}\n{size}\n{base64.b64encode(root).decode()}\n"


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verifier:
    """A verifier key: a name, and the Ed25519 public key its signatures check against;
    of a log's notes (type 0x01) or of a witness's cosignatures (type 0x04)."""

    name: str
    key_id: bytes
    public_key: bytes
    key_type: int = ED25519

    @classmethod
    def parse(cls, text: str, key_type: int = ED25519) -> Verifier:
        """``<name>+<key ID in hex>+<base64(type ‖ key)>``; the base64 may hold ``+`` too."""
        name, _, rest = text.strip().partition("+")
        hex_id, _, blob = rest.partition("+")
        try:
            raw = base64.b64decode(blob, validate=True)
            given = bytes.fromhex(hex_id) if len(hex_id) == 8 else b""
        except (binascii.Error, ValueError):
            raw = given = b""
        if len(raw) != 33 or raw[0] != key_type or len(given) != 4:
            raise NoteError(f"not an Ed25519 verifier key of type {key_type:#04x}: <name>+"
                            f"<8 hex digits>+<base64 of {key_type:#04x} and the 32-byte key>")
        if key_id(name, key_type, raw[1:]) != given:
            raise NoteError(f"the verifier key's ID {hex_id} is not its name's and key's")
        return cls(name, given, raw[1:], key_type)

    @property
    def text(self) -> str:
        return vkey(self.name, self.public_key, self.key_type)

    def verifies(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def open_note(note: str, verifier: Verifier) -> str:
    """The note's text, once the verifier's signature on it checks; NoteError otherwise.

    Signatures by other keys are skipped (a witness's cosignatures, for one). A control
    character other than the newline, or a line that is not a signature where signatures
    are, makes the note malformed.
    """
    if verifier.key_type != ED25519:
        raise NoteError(f"{verifier.name}'s key cosigns; it does not sign notes")
    text, blobs = _split(note, verifier)
    for blob in blobs:
        if len(blob) != 68 or not verifier.verifies(text.encode(), blob[4:]):
            raise NoteError(f"the signature of {verifier.name} does not verify: the note "
                            f"was changed, or signed by another key")
    return text


def cosigned_at(note: str, witness: Verifier) -> int:
    """When the witness cosigned the checkpoint this note holds (seconds); NoteError if it
    did not, or its cosignature does not verify."""
    if witness.key_type != COSIGNATURE:
        raise NoteError(f"{witness.name}'s key signs notes; it does not cosign")
    text, blobs = _split(note, witness)
    times = []
    for blob in blobs:
        timestamp = int.from_bytes(blob[4:12], "big")
        if len(blob) != 76 or not witness.verifies(cosignature_message(text, timestamp),
                                                   blob[12:]):
            raise NoteError(f"the cosignature of {witness.name} does not verify: the "
                            f"checkpoint was changed, or cosigned by another key")
        times.append(timestamp)
    return max(times)


def _split(note: str, verifier: Verifier) -> tuple[str, list[bytes]]:
    """The note's text, and the signatures (key ID first) with the verifier's name and ID."""
    if "\n\n" not in note or not note.endswith("\n"):
        raise NoteError("not a signed note: no empty line before the signatures, or no "
                        "final newline")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("a signed note holds no control character but the newline")
    text, _, signatures = note.rpartition("\n\n")
    mine = []
    for line in signatures.removesuffix("\n").split("\n"):
        name, blob = _signature(line)
        if name == verifier.name and blob[:4] == verifier.key_id:
            mine.append(blob)
    if not mine:
        raise Unsigned(f"the note carries no signature by {verifier.name} "
                        f"({verifier.key_id.hex()})")
    return text + "\n", mine


def _signature(line: str) -> tuple[str, bytes]:
    name, _, blob = line.removeprefix(SIGNATURE_PREFIX).partition(" ")
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not line.startswith(SIGNATURE_PREFIX) or not name or len(raw) < 5:
        raise NoteError(f"not a signature line: {line[:80]!r}")
    return name, raw


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str  # as signed, extension lines and all: what a cosignature covers


def add_checkpoint_body(old: int, proof: list[bytes], note: str) -> str:
    """A tlog-witness add-checkpoint request: ``old <size>``, the consistency proof from
    that size one base64 hash a line, an empty line, and the signed checkpoint.
    services/witness/domain.py ``parse`` reads it."""
    hashes = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return f"old {old}\n{hashes}\n{note}"


def is_decimal(text: str) -> bool:
    """A tree size or index as the C2SP formats write one: ASCII decimal digits with no
    leading zero (unless it is 0), at most 20 of them (a uint64)."""
    return text.isascii() and text.isdecimal() and len(text) <= 20 and (
        text == "0" or not text.startswith("0"))


def parse_checkpoint(text: str) -> Checkpoint:
    """A checkpoint's text: origin, size and root hash, then extension lines if any."""
    lines = text.removesuffix("\n").split("\n")
    size_ok = len(lines) >= 3 and is_decimal(lines[1])
    try:
        root = base64.b64decode(lines[2], validate=True) if size_ok else b""
    except (binascii.Error, ValueError):
        root = b""
    if not size_ok or len(root) != 32 or not lines[0]:
        raise NoteError("not a checkpoint: an origin, a decimal tree size and a base64 "
                        "SHA-256 root hash, one per line")
    return Checkpoint(lines[0], int(lines[1]), root, text)
