"""An independent verifier of the C2SP transparency-log formats, for checking what a log serves.

It is written from the specification texts alone and shares no code with the server:

* c2sp.org/signed-note v1.0.0: notes, signature lines, verifier keys (vkeys);
* c2sp.org/tlog-checkpoint v1.0.0: the checkpoint note body;
* c2sp.org/tlog-cosignature v1.0.1: timestamped Ed25519 cosignatures (type 0x04). The
  ML-DSA-44 cosignatures (type 0x06) of v1.1.0-rc.1 are not supported;
* c2sp.org/tlog-tiles v0.1.0: tile and entry-bundle paths, their contents, and proofs
  computed from them;
* c2sp.org/tlog-witness v1.0.0: the add-checkpoint request body and response lines;
* c2sp.org/tlog-proof (format ``c2sp.org/tlog-proof@v1``): offline inclusion proofs;
* RFC 6962 section 2.1 (the same tree as RFC 9162 section 2.1): Merkle Tree Hashes,
  audit paths and consistency proofs, with SHA-256 as tlog-tiles requires.

Every check raises :class:`VerificationError` with a message saying what failed. Parsing is
strict: what a specification says MUST hold is enforced; what it only recommends (a log's
key name equal to its origin, schema-less URL names) is exposed, not enforced.

The functions that sign (``note_signature_line``, ``cosignature_line``) exist to build test
fixtures with freshly generated keys; nothing here holds or loads a real key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_SIGNATURES",
    "TILE_WIDTH",
    "TYPE_COSIGNATURE_V1",
    "TYPE_ED25519",
    "Checkpoint",
    "Fetch",
    "Signature",
    "TlogProof",
    "VerificationError",
    "Verifier",
    "add_checkpoint_body",
    "consistency_proof_from_tiles",
    "cosignature_line",
    "cosignature_message",
    "count_cosignatures",
    "entries_from_tiles",
    "entries_path",
    "format_tlog_proof",
    "format_vkey",
    "inclusion_proof_from_tiles",
    "key_id",
    "leaf_hash",
    "node_hash",
    "note_signature_line",
    "open_checkpoint",
    "parse_add_checkpoint_body",
    "parse_checkpoint",
    "parse_cosignature",
    "parse_entry_bundle",
    "parse_hash_tile",
    "parse_signature_lines",
    "parse_tlog_proof",
    "parse_vkey",
    "root_from_tiles",
    "signature_line",
    "split_note",
    "tile_index_path",
    "tile_path",
    "tiles_for_size",
    "verify_consistency",
    "verify_cosignature",
    "verify_inclusion",
    "verify_note",
    "verify_tlog_proof",
]


class VerificationError(ValueError):
    """A C2SP object is malformed, or a signature or proof over it does not verify."""


# --------------------------------------------------------------------------------------
# Shared encodings
# --------------------------------------------------------------------------------------

HASH_SIZE = 32
"""tlog-tiles fixes the hash to SHA-256, so every tree hash is 32 bytes."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""RFC 6962 2.1: the hash of an empty list is the hash of the empty string."""

_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def _b64decode(text: str, what: str) -> bytes:
    """Decode standard, padded base64 (RFC 4648 section 4), refusing any other spelling.

    Every C2SP format here uses that encoding. Besides the alphabet and the padding, the
    encoding must be the canonical one (unused trailing bits zero), so that one value has
    one spelling.
    """
    if not _BASE64.fullmatch(text) or len(text) % 4:
        raise VerificationError(f"{what}: not standard padded base64: {text!r}")
    try:
        data = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise VerificationError(f"{what}: not standard padded base64: {text!r}") from exc
    if _b64encode(data) != text:
        raise VerificationError(f"{what}: non-canonical base64: {text!r}")
    return data


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _decimal(text: str, what: str) -> int:
    """An ASCII decimal with no leading zeroes (``0`` itself for zero)."""
    if not _DECIMAL.fullmatch(text):
        raise VerificationError(f"{what}: not a decimal without leading zeroes: {text!r}")
    return int(text)


def _hash_line(text: str, what: str) -> bytes:
    """One base64 line holding one 32-byte SHA-256 hash."""
    value = _b64decode(text, what)
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what}: {len(value)} bytes, not a {HASH_SIZE}-byte hash")
    return value


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what}: {len(value)} bytes, not a {HASH_SIZE}-byte hash")


def _as_text(data: str | bytes, what: str) -> str:
    """The text as a str, checked to be valid UTF-8 (signed-note: notes MUST be UTF-8)."""
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise VerificationError(f"{what}: not valid UTF-8 ({exc})") from exc
    try:
        data.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise VerificationError(f"{what}: not valid UTF-8 ({exc})") from exc
    return data


def _check_controls(text: str, what: str) -> None:
    """signed-note: no ASCII control characters (below U+0020) other than newline."""
    for position, char in enumerate(text):
        if char < " " and char != "\n":
            raise VerificationError(
                f"{what}: control character U+{ord(char):04X} at offset {position}")


# --------------------------------------------------------------------------------------
# Keys (signed-note "Verifier keys"; tlog-cosignature "Format")
# --------------------------------------------------------------------------------------

TYPE_ED25519 = 0x01
"""signed-note: signature type 0x01, Ed25519 signatures over the note text."""

TYPE_COSIGNATURE_V1 = 0x04
"""signed-note and tlog-cosignature: type 0x04, timestamped Ed25519 cosignatures."""

_KEY_TYPES = {TYPE_ED25519: "Ed25519", TYPE_COSIGNATURE_V1: "Ed25519 cosignature/v1"}
_ED25519_KEY_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64


def key_id(name: str, type_byte: int, public_key: bytes) -> bytes:
    """The 4-byte key ID: the first four bytes of SHA-256(name || 0x0A || type || key).

    signed-note recommends this ID for every type and specifies it for Ed25519 (type
    0x01, the 32-byte RFC 8032 key); tlog-cosignature requires it for its Ed25519 type
    0x04. The bytes are the uint32 ID in big-endian order.
    """
    if not 0 <= type_byte <= 0xFF:
        raise ValueError(f"signature type {type_byte} is not a byte")
    material = name.encode("utf-8") + b"\n" + bytes([type_byte]) + public_key
    return hashlib.sha256(material).digest()[:4]


def _check_key_name(name: str, what: str) -> None:
    """signed-note: key names are non-empty, without Unicode spaces or plus (U+002B)."""
    if not name:
        raise VerificationError(f"{what}: empty key name")
    for char in name:
        if char == "+":
            raise VerificationError(f"{what}: key name {name!r} contains '+'")
        if char.isspace() or unicodedata.category(char) == "Zs":
            raise VerificationError(f"{what}: key name {name!r} contains a space")
        if char < " ":
            raise VerificationError(f"{what}: key name {name!r} contains a control character")


@dataclass(frozen=True)
class Verifier:
    """A parsed vkey: who signs (name and 4-byte key ID), with which algorithm and key."""

    name: str
    key_id: bytes
    type: int
    public_key: bytes

    @property
    def vkey(self) -> str:
        """The key spelt as a vkey again."""
        return format_vkey(self.name, self.type, self.public_key)

    def matches(self, signature: Signature) -> bool:
        """signed-note: a signature line belongs to a key when both name and ID match."""
        return signature.name == self.name and signature.key_id == self.key_id


def format_vkey(name: str, type_byte: int, public_key: bytes) -> str:
    """``<name>+<hex key ID>+<base64(type || public key)>``, the ID in lowercase hex."""
    _check_key_name(name, "vkey")
    identifier = key_id(name, type_byte, public_key).hex()
    return f"{name}+{identifier}+{_b64encode(bytes([type_byte]) + public_key)}"


def parse_vkey(vkey: str) -> Verifier:
    """Parse ``<name>+<8 hex digits>+<base64(type || public key)>``.

    signed-note: three parts separated by '+'; the ID is the fixed-length lowercase hex of
    the uint32 key ID; the name and ID must match those the signatures use. Only the two
    Ed25519 types this module can verify are accepted (0x01 note signatures, 0x04
    cosignatures), each with a 32-byte key, and the ID must recompute from name, type and
    key (the rule signed-note gives for 0x01 and tlog-cosignature requires for 0x04).
    """
    parts = vkey.split("+", 2)  # the name and ID hold no '+'; the base64 may
    if len(parts) != 3:
        raise VerificationError(f"vkey {vkey!r}: not three '+'-separated parts")
    name, hex_id, material_b64 = parts
    _check_key_name(name, f"vkey {vkey!r}")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise VerificationError(f"vkey {vkey!r}: key ID {hex_id!r} is not 8 lowercase hex digits")
    material = _b64decode(material_b64, f"vkey {vkey!r} key material")
    if not material:
        raise VerificationError(f"vkey {vkey!r}: no signature type byte")
    type_byte, public_key = material[0], material[1:]
    if type_byte not in _KEY_TYPES:
        raise VerificationError(f"vkey {vkey!r}: signature type 0x{type_byte:02x} not supported")
    if len(public_key) != _ED25519_KEY_SIZE:
        raise VerificationError(
            f"vkey {vkey!r}: Ed25519 public key of {len(public_key)} bytes, not 32")
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise VerificationError(f"vkey {vkey!r}: not an Ed25519 public key") from exc
    identifier = bytes.fromhex(hex_id)
    if key_id(name, type_byte, public_key) != identifier:
        raise VerificationError(f"vkey {vkey!r}: key ID does not match name, type and key")
    return Verifier(name=name, key_id=identifier, type=type_byte, public_key=public_key)


def _ed25519_verifies(public_key: bytes, signature: bytes, message: bytes) -> bool:
    if len(signature) != _ED25519_SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _require_type(verifier: Verifier, type_byte: int, use: str) -> None:
    if verifier.type != type_byte:
        raise VerificationError(
            f"{use} needs type 0x{type_byte:02x} keys; {verifier.name} is type "
            f"0x{verifier.type:02x}")


def _public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


# --------------------------------------------------------------------------------------
# Signed notes (c2sp.org/signed-note)
# --------------------------------------------------------------------------------------

SIGNATURE_PREFIX = "\u2014 "
"""signed-note: a signature line starts with an em dash (U+2014) and a space."""

MAX_SIGNATURES = 100
"""signed-note: verifiers SHOULD cap the signatures of a note and MUST accept 16."""


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, 4-byte key ID, and the signature bytes after the ID."""

    name: str
    key_id: bytes
    signature: bytes


def signature_line(name: str, key_id: bytes, signature: bytes) -> str:
    """``— <name> <base64(key ID || signature)>`` and a newline."""
    _check_key_name(name, "signature line")
    return f"{SIGNATURE_PREFIX}{name} {_b64encode(key_id + signature)}\n"


def _parse_signature_line(line: str) -> Signature:
    """signed-note: em dash, space, key name, space, base64 of (uint32 key ID || sig)."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise VerificationError(
            f"signature line {line!r} does not start with an em dash (U+2014) and a space")
    name, space, encoded = line[len(SIGNATURE_PREFIX):].partition(" ")
    if not space:
        raise VerificationError(f"signature line {line!r}: no space after the key name")
    _check_key_name(name, f"signature line {line!r}")
    raw = _b64decode(encoded, f"signature line of {name}")
    if len(raw) < 4:
        raise VerificationError(f"signature line of {name}: shorter than its 4-byte key ID")
    return Signature(name=name, key_id=raw[:4], signature=raw[4:])


def parse_signature_lines(text: str | bytes) -> list[Signature]:
    """Parse one or more complete signature lines, e.g. a witness's add-checkpoint reply.

    tlog-witness: the reply body is one or more note signature lines, each starting with
    U+2014 and ending with a newline.
    """
    block = _as_text(text, "signature lines")
    _check_controls(block, "signature lines")
    if not block or not block.endswith("\n"):
        raise VerificationError("signature lines: empty or not ending with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise VerificationError(f"more than {MAX_SIGNATURES} signature lines")
    return [_parse_signature_line(line) for line in lines]


def split_note(text: str | bytes) -> tuple[str, list[Signature]]:
    """Split a signed note into its text and its signature lines, strictly.

    signed-note: valid UTF-8 without control characters but newline; the text ends with a
    newline, then one blank line, then one or more signature lines, each ending with a
    newline. The text may hold blank lines itself: the *last* blank line is the separator.
    The text returned includes its final newline but not the blank line.
    """
    note = _as_text(text, "note")
    _check_controls(note, "note")
    if not note.endswith("\n"):
        raise VerificationError("note does not end with a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise VerificationError("note has no blank line before its signatures")
    body, block = note[: cut + 1], note[cut + 2 :]
    if not block:
        raise VerificationError("note has no signature lines after its last blank line")
    return body, parse_signature_lines(block)


def verify_note(text: str | bytes, verifiers: Sequence[Verifier]) -> tuple[str, list[str]]:
    """Verify a note's Ed25519 (type 0x01) signatures; return its text and who signed it.

    signed-note: signatures whose (name, key ID) matches no known key are ignored; one that
    matches a known key must verify, and a failure rejects the whole note (a SHOULD, taken
    here); a note with no verified signature from a known key is rejected (a MUST). The
    signature is Ed25519 (RFC 8032) over the note text, final newline included.
    """
    for verifier in verifiers:
        _require_type(verifier, TYPE_ED25519, "verify_note")
    body, signatures = split_note(text)
    message = body.encode("utf-8")
    signers: list[str] = []
    for signature in signatures:
        known = {verifier for verifier in verifiers if verifier.matches(signature)}
        if not known:
            continue
        if len(known) > 1:
            raise VerificationError(
                f"ambiguous key {signature.name}+{signature.key_id.hex()}: several verifiers")
        (verifier,) = known
        if not _ed25519_verifies(verifier.public_key, signature.signature, message):
            raise VerificationError(
                f"signature by known key {verifier.name}+{verifier.key_id.hex()} fails")
        if verifier.name not in signers:
            signers.append(verifier.name)
    if not signers:
        raise VerificationError("note has no verified signature from a known key")
    return body, signers


def note_signature_line(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """A type 0x01 signature line over ``text`` (for fixtures made with fresh keys)."""
    identifier = key_id(name, TYPE_ED25519, _public_bytes(private_key))
    return signature_line(name, identifier, private_key.sign(text.encode("utf-8")))


# --------------------------------------------------------------------------------------
# Checkpoints (c2sp.org/tlog-checkpoint)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint's note text, parsed; ``body`` is the text exactly as signed."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]
    body: str


def parse_checkpoint(body: str) -> Checkpoint:
    """Parse a checkpoint's note text (without signatures), strictly.

    tlog-checkpoint: at least three non-empty lines, each ending with a newline: the
    origin (non-empty), the tree size (ASCII decimal, no leading zeroes, ``0`` for an
    empty tree), the base64 root hash of the RFC 6962 tree at that size; any further lines
    are opaque extension lines, which MUST be non-empty. The root is 32 bytes (SHA-256)
    and, for size 0, the empty tree's hash, which is what RFC 6962 defines it to be.
    """
    text = _as_text(body, "checkpoint")
    _check_controls(text, "checkpoint")
    if not text.endswith("\n"):
        raise VerificationError("checkpoint text does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise VerificationError(f"checkpoint has {len(lines)} lines, fewer than 3")
    if not all(lines):
        raise VerificationError("checkpoint has an empty line")
    origin, size_line, root_line, *extensions = lines
    size = _decimal(size_line, "checkpoint tree size")
    root = _hash_line(root_line, "checkpoint root hash")
    if size == 0 and root != EMPTY_ROOT:
        raise VerificationError("checkpoint of size 0 without the empty tree's root hash")
    return Checkpoint(origin=origin, size=size, root=root, extensions=tuple(extensions),
                      body=text)


def open_checkpoint(text: str | bytes, log: Verifier) -> Checkpoint:
    """Verify the log's Ed25519 signature on a signed checkpoint, then parse it.

    tlog-checkpoint only says the log's key name SHOULD match the origin line, so this is
    not enforced: compare ``Checkpoint.origin`` with the expected origin where it matters.
    tlog-tiles requires at least one Ed25519 signature by a public log, which a type 0x01
    ``log`` key checks.
    """
    body, _ = verify_note(text, [log])
    return parse_checkpoint(body)


# --------------------------------------------------------------------------------------
# Cosignatures (c2sp.org/tlog-cosignature, Ed25519 type 0x04)
# --------------------------------------------------------------------------------------

_COSIGNATURE_SIZE = 8 + _ED25519_SIGNATURE_SIZE
_MAX_TIMESTAMP = 2**63 - 1


def cosignature_message(body: str, timestamp: int) -> bytes:
    """tlog-cosignature v1: the signed message for an Ed25519 cosignature.

    Two newline-terminated lines, ``cosignature/v1`` and ``time <timestamp>`` (ASCII
    decimal, no leading zeroes), then the whole checkpoint note text, extension lines and
    final newline included, signature lines excluded.
    """
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise VerificationError(f"cosignature timestamp {timestamp} out of range")
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def parse_cosignature(signature: Signature) -> tuple[int, bytes]:
    """Split an Ed25519 cosignature into (timestamp, 64-byte Ed25519 signature).

    tlog-cosignature: after the 4-byte key ID comes a ``timestamped_signature``: a u64
    big-endian POSIX timestamp, which MUST NOT exceed 2^63 - 1, then the Ed25519
    signature; 4 + 8 + 64 = 76 bytes in all.
    """
    raw = signature.signature
    if len(raw) != _COSIGNATURE_SIZE:
        raise VerificationError(
            f"cosignature by {signature.name}: {4 + len(raw)} bytes, not 4 + 8 + 64 = 76")
    (timestamp,) = struct.unpack(">Q", raw[:8])
    if timestamp > _MAX_TIMESTAMP:
        raise VerificationError(f"cosignature by {signature.name}: timestamp above 2^63 - 1")
    return timestamp, raw[8:]


def verify_cosignature(text: str | bytes, witness: Verifier) -> int:
    """Verify the witness's Ed25519 cosignature on a signed checkpoint; return its timestamp.

    The witness's line is the one with its name and key ID (type 0x04 ID). Every such line
    must verify. Timestamp 0 is returned as is: tlog-witness forbids it in add-checkpoint
    replies, which is for the caller to check.
    """
    _require_type(witness, TYPE_COSIGNATURE_V1, "verify_cosignature")
    body, signatures = split_note(text)
    parse_checkpoint(body)
    mine = [signature for signature in signatures if witness.matches(signature)]
    if not mine:
        raise VerificationError(f"no cosignature by {witness.name}+{witness.key_id.hex()}")
    timestamps = []
    for signature in mine:
        timestamp, ed25519 = parse_cosignature(signature)
        message = cosignature_message(body, timestamp)
        if not _ed25519_verifies(witness.public_key, ed25519, message):
            raise VerificationError(
                f"cosignature by {witness.name}+{witness.key_id.hex()} at {timestamp} fails")
        timestamps.append(timestamp)
    return timestamps[0]


def count_cosignatures(text: str | bytes, witnesses: Sequence[Verifier]) -> list[str]:
    """The names of the witnesses whose cosignature on the checkpoint verifies.

    A witness with no line is left out; a line of a known witness that fails to verify
    raises, as signed-note says a known key's failing signature should reject the note.
    """
    _, signatures = split_note(text)
    names = []
    for witness in dict.fromkeys(witnesses):
        _require_type(witness, TYPE_COSIGNATURE_V1, "count_cosignatures")
        if any(witness.matches(signature) for signature in signatures):
            verify_cosignature(text, witness)
            names.append(witness.name)
    return names


def cosignature_line(body: str, name: str, private_key: Ed25519PrivateKey,
                     timestamp: int) -> str:
    """A type 0x04 cosignature line over a checkpoint text (for fixtures made with fresh keys)."""
    identifier = key_id(name, TYPE_COSIGNATURE_V1, _public_bytes(private_key))
    signed = private_key.sign(cosignature_message(body, timestamp))
    return signature_line(name, identifier, struct.pack(">Q", timestamp) + signed)


# --------------------------------------------------------------------------------------
# Merkle trees (RFC 6962 2.1 = RFC 9162 2.1, SHA-256)
# --------------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 2.1: a leaf's hash is SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 2.1: an interior node's hash is SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split_point(n: int) -> int:
    """RFC 6962 2.1: k, the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes],
                     root: bytes) -> None:
    """Check an audit path, following RFC 9162 2.1.3.2 step by step.

    Fail if the index is not below the size. Walk up with fn = index and sn = size - 1:
    each path hash is hashed in on the left when fn is odd or fn equals sn (and then, if
    fn was even, fn and sn shift right until fn is odd or zero), on the right otherwise;
    both shift right once per hash. The path must run out exactly when sn reaches 0, and
    the result must be the root.
    """
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} not in a tree of size {size}")
    _check_hash(leaf, "leaf hash")
    _check_hash(root, "root hash")
    fn, sn, result = index, size - 1, leaf
    for position, sibling in enumerate(path):
        _check_hash(sibling, f"inclusion path hash {position}")
        if sn == 0:
            raise VerificationError(f"inclusion path longer than {position} hashes")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError(f"inclusion path of {len(path)} hashes is too short")
    if result != root:
        raise VerificationError(f"inclusion proof of leaf {index} does not reach the root")


def verify_consistency(old: int, new: int, path: Sequence[bytes], old_root: bytes,
                       new_root: bytes) -> None:
    """Check a consistency proof, following RFC 9162 2.1.4.2 for 0 < old < new.

    Equal sizes need an empty proof and equal roots (RFC 6962 2.1.2 proves only m < n;
    tlog-witness: same size, same root). From size 0 the proof MUST be empty (tlog-witness:
    the empty tree is consistent with any tree), and the old root must be the empty hash.
    Otherwise: fail on an empty path; prepend the old root when old is a power of two;
    fn = old - 1, sn = new - 1, shifted right while fn is odd; fr = sr = first hash; each
    further hash c updates fr = H(c, fr) and sr = H(c, sr) when fn is odd or fn equals sn
    (then, if fn was even, shift while fn is even and non-zero), sr = H(sr, c) otherwise,
    failing if sn is already 0; shift once per hash; finally fr must be the old root, sr
    the new root, and sn zero.
    """
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    if not 0 <= old <= new:
        raise VerificationError(f"consistency from size {old} to size {new}")
    for position, value in enumerate(path):
        _check_hash(value, f"consistency path hash {position}")
    if old == new:
        if path:
            raise VerificationError("consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise VerificationError(f"two different roots for size {old}")
        return
    if old == 0:
        if path:
            raise VerificationError("consistency proof from size 0 must be empty")
        if old_root != EMPTY_ROOT:
            raise VerificationError("old root of size 0 is not the empty tree's hash")
        return
    if not path:
        raise VerificationError("empty consistency proof between different sizes")
    hashes = list(path)
    if old & (old - 1) == 0:
        hashes.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = hashes[0]
    for value in hashes[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn & 1 or fn == sn:
            first, second = node_hash(value, first), node_hash(value, second)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, value)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("consistency proof is too short")
    if first != old_root:
        raise VerificationError(f"consistency proof does not reach the root of size {old}")
    if second != new_root:
        raise VerificationError(f"consistency proof does not reach the root of size {new}")


# --------------------------------------------------------------------------------------
# Tiles (c2sp.org/tlog-tiles)
# --------------------------------------------------------------------------------------

TILE_WIDTH = 256
"""tlog-tiles: a full tile holds 256 hashes (8,192 bytes), a subtree of height 8."""

TILE_HEIGHT = 8
MAX_TILE_LEVEL = 63
"""tlog-tiles: the level is a decimal from 0 to 63."""

MAX_PROOF_LINES = 63
"""tlog-witness: a client MUST NOT send more than 63 consistency proof lines."""

Fetch = Callable[[str], bytes]
"""Given a path such as ``tile/0/000``, the resource's bytes; it raises when absent."""


def tile_index_path(n: int) -> str:
    """tlog-tiles: the index as zero-padded 3-digit path elements, all but the last
    starting with ``x``: 1234067 is ``x001/x234/067``."""
    if n < 0:
        raise ValueError(f"tile index {n} is negative")
    groups = []
    while True:
        n, group = divmod(n, 1000)
        groups.append(group)
        if n == 0:
            break
    groups.reverse()
    return "/".join([f"x{group:03d}" for group in groups[:-1]] + [f"{groups[-1]:03d}"])


def _width_suffix(width: int | None) -> str:
    """tlog-tiles: ``.p/<W>`` only for a partial tile, W from 1 to 255, no leading zeroes."""
    if width is None or width == TILE_WIDTH:
        return ""
    if not 1 <= width < TILE_WIDTH:
        raise ValueError(f"tile width {width} is not 1 to 256")
    return f".p/{width}"


def tile_path(level: int, index: int, width: int | None = None) -> str:
    """``tile/<L>/<N>[.p/<W>]``; a width of None or 256 names the full tile."""
    if not 0 <= level <= MAX_TILE_LEVEL:
        raise ValueError(f"tile level {level} is not 0 to {MAX_TILE_LEVEL}")
    return f"tile/{level}/{tile_index_path(index)}{_width_suffix(width)}"


def entries_path(index: int, width: int | None = None) -> str:
    """``tile/entries/<N>[.p/<W>]``, the entry bundle matching level-0 tile N."""
    return f"tile/entries/{tile_index_path(index)}{_width_suffix(width)}"


def _tile_width(level: int, index: int, size: int) -> int | None:
    """The width tile (level, index) has in a tree of ``size``, None if it has none.

    tlog-tiles: there are floor(s / 256**l) hashes at level l, so full tiles up to that
    count and a partial tile of floor(s / 256**l) mod 256 hashes after them.
    """
    count = size >> (TILE_HEIGHT * level)
    if (index + 1) * TILE_WIDTH <= count:
        return TILE_WIDTH
    if index * TILE_WIDTH < count:
        return count - index * TILE_WIDTH
    return None


def tiles_for_size(size: int) -> list[tuple[int, int, int]]:
    """Every (level, index, width) tile of a tree of ``size``, width 256 for full tiles.

    tlog-tiles: size 70,000 has 273 full level-0 tiles and one of width 112, one full
    level-1 tile and one of width 17, and a level-2 tile of width 1; size 256 has one full
    level-0 tile and a level-1 tile of width 1. Empty tiles do not exist.
    """
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    tiles = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        full, partial = divmod(size >> (TILE_HEIGHT * level), TILE_WIDTH)
        tiles += [(level, index, TILE_WIDTH) for index in range(full)]
        if partial:
            tiles.append((level, full, partial))
        level += 1
    return tiles


def parse_hash_tile(data: bytes, width: int) -> list[bytes]:
    """A tile's hashes: exactly ``width`` consecutive 32-byte hashes, nothing else."""
    if not 1 <= width <= TILE_WIDTH:
        raise VerificationError(f"tile width {width} is not 1 to 256")
    if len(data) != HASH_SIZE * width:
        raise VerificationError(
            f"tile of width {width} has {len(data)} bytes, not {HASH_SIZE * width}")
    return [data[offset : offset + HASH_SIZE] for offset in range(0, len(data), HASH_SIZE)]


def parse_entry_bundle(data: bytes, count: int | None = None) -> list[bytes]:
    """An entry bundle's entries, each after a big-endian uint16 length.

    Strict: no truncated length or entry, between 1 and 256 entries (empty tiles are never
    served), and exactly ``count`` entries when it is given.
    """
    entries: list[bytes] = []
    position = 0
    while position < len(data):
        if position + 2 > len(data):
            raise VerificationError(f"entry bundle: truncated length at byte {position}")
        (length,) = struct.unpack_from(">H", data, position)
        position += 2
        if position + length > len(data):
            raise VerificationError(
                f"entry bundle: entry {len(entries)} of {length} bytes is truncated")
        entries.append(data[position : position + length])
        position += length
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise VerificationError(f"entry bundle of {len(entries)} entries, not 1 to 256")
    if count is not None and len(entries) != count:
        raise VerificationError(f"entry bundle of {len(entries)} entries, not {count}")
    return entries


def _fetch(fetch: Fetch, path: str) -> bytes:
    try:
        return fetch(path)
    except Exception as exc:  # a fetch signals a missing resource by raising
        raise VerificationError(f"could not fetch {path}: {exc!r}") from exc


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash over a power-of-two run of subtree hashes."""
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


class _TileReader:
    """The tiles of one tree size, fetched once each and only when a hash needs them.

    tlog-tiles: hash j at level l is the Merkle Tree Hash of entries [j * 256**l,
    (j + 1) * 256**l); a level-l hash (l > 0) is the hash of a *full* tile below; the
    levels in between are rebuilt by hashing. Clients fetch only tiles a verified
    checkpoint's size requires, which here is always the size given.
    """

    def __init__(self, size: int, fetch: Fetch, partial_fallback: bool) -> None:
        self.size = size
        self.fetch = fetch
        self.partial_fallback = partial_fallback
        self.tiles: dict[tuple[int, int], tuple[int, list[bytes]]] = {}

    def get(self, path: str, full_path: str | None = None) -> tuple[bytes, bool]:
        """The resource at ``path``, or else the full one at ``full_path``, which tlog-tiles
        lets a client fetch when a partial tile is gone; True when that fallback served."""
        try:
            return _fetch(self.fetch, path), False
        except VerificationError as exc:
            if full_path is None or not self.partial_fallback:
                raise
            missing = exc
        try:
            return _fetch(self.fetch, full_path), True
        except VerificationError as exc:
            raise VerificationError(f"{missing}, nor its full tile: {exc}") from exc

    def _load(self, level: int, index: int, width: int) -> list[bytes]:
        full_path = tile_path(level, index) if width < TILE_WIDTH else None
        data, fell_back = self.get(tile_path(level, index, width), full_path)
        if fell_back:
            return parse_hash_tile(data, TILE_WIDTH)[:width]
        return parse_hash_tile(data, width)

    def hashes(self, level: int, index: int) -> list[bytes]:
        key = (level, index)
        if key not in self.tiles:
            width = _tile_width(level, index, self.size)
            if width is None:
                raise VerificationError(f"no tile {level}/{index} in a tree of size {self.size}")
            self.tiles[key] = (width, self._load(level, index, width))
        return self.tiles[key][1]

    def perfect(self, start: int, height: int) -> bytes:
        """The hash of the complete subtree of 2**height entries starting at ``start``."""
        level, rest = divmod(height, TILE_HEIGHT)
        first = start >> (TILE_HEIGHT * level)
        tile = self.hashes(level, first // TILE_WIDTH)
        offset = first % TILE_WIDTH
        return _fold(tile[offset : offset + (1 << rest)])

    def subtree(self, low: int, high: int) -> bytes:
        """MTH(D[low:high]) for a range the RFC 6962 recursion produces.

        Such a range splits, from the left, into complete subtrees of decreasing powers of
        two, each aligned to its own size; MTH hashes them together from the right.
        """
        parts = []
        while low < high:
            height = (high - low).bit_length() - 1
            if low % (1 << height):
                raise AssertionError(f"range [{low}, {high}) is not a subtree range")
            parts.append(self.perfect(low, height))
            low += 1 << height
        result = parts[-1]
        for part in reversed(parts[:-1]):
            result = node_hash(part, result)
        return result

    def audit_path(self, index: int, low: int, high: int) -> list[bytes]:
        """RFC 6962 2.1.1 PATH(m, D[low:high]) for the absolute leaf ``index``."""
        if high - low == 1:
            return []
        k = _split_point(high - low)
        if index < low + k:
            return self.audit_path(index, low, low + k) + [self.subtree(low + k, high)]
        return self.audit_path(index, low + k, high) + [self.subtree(low, low + k)]

    def subproof(self, old: int, low: int, high: int, whole: bool) -> list[bytes]:
        """RFC 6962 2.1.2 SUBPROOF(m, D[low:high], b) with m = old - low."""
        if old == high:
            return [] if whole else [self.subtree(low, high)]
        k = _split_point(high - low)
        if old <= low + k:
            return self.subproof(old, low, low + k, whole) + [self.subtree(low + k, high)]
        return self.subproof(old, low + k, high, False) + [self.subtree(low, low + k)]

    def cross_check(self) -> None:
        """Each fetched level-l hash (l > 0) whose full level-(l-1) tile was fetched too
        must be that tile's Merkle Tree Hash."""
        for (level, index), (_, hashes) in self.tiles.items():
            if level == 0:
                continue
            for offset, value in enumerate(hashes):
                below = self.tiles.get((level - 1, index * TILE_WIDTH + offset))
                if below and below[0] == TILE_WIDTH and _fold(below[1]) != value:
                    raise VerificationError(
                        f"hash {offset} of tile {level}/{index} is not the hash of tile "
                        f"{level - 1}/{index * TILE_WIDTH + offset}")


def root_from_tiles(size: int, fetch: Fetch, *, partial_fallback: bool = True) -> bytes:
    """The root hash of the tree of ``size``, from the fewest tiles that give it.

    The root is MTH(D[0:size]); a complete subtree of height h comes from 2**(h mod 8)
    hashes of a level-(h div 8) tile, hashed together. ``partial_fallback`` lets a missing
    partial tile be read from its full tile, as tlog-tiles allows clients to.
    """
    if size < 0:
        raise VerificationError(f"tree size {size} is negative")
    if size == 0:
        return EMPTY_ROOT
    reader = _TileReader(size, fetch, partial_fallback)
    root = reader.subtree(0, size)
    reader.cross_check()
    return root


def inclusion_proof_from_tiles(index: int, size: int, fetch: Fetch, *,
                               partial_fallback: bool = True) -> list[bytes]:
    """The RFC 6962 audit path of leaf ``index`` in the tree of ``size``, from its tiles."""
    if not 0 <= index < size:
        raise VerificationError(f"leaf index {index} not in a tree of size {size}")
    reader = _TileReader(size, fetch, partial_fallback)
    path = reader.audit_path(index, 0, size)
    reader.cross_check()
    return path


def consistency_proof_from_tiles(old: int, new: int, fetch: Fetch, *,
                                 partial_fallback: bool = True) -> list[bytes]:
    """The RFC 6962 consistency proof from size ``old`` to ``new``, from the new size's tiles.

    Empty when old is 0 or equals new. Every hash in it is of a subtree inside the new
    tree, so only tiles of the new size are fetched.
    """
    if not 0 <= old <= new:
        raise VerificationError(f"consistency from size {old} to size {new}")
    if old in (0, new):
        return []
    reader = _TileReader(new, fetch, partial_fallback)
    proof = reader.subproof(old, 0, new, True)
    reader.cross_check()
    return proof


def entries_from_tiles(index: int, size: int, fetch: Fetch, *,
                       partial_fallback: bool = True) -> list[bytes]:
    """Entry bundle ``index`` of the tree of ``size``, checked against its level-0 tile.

    tlog-tiles: each entry of a bundle hashes (RFC 6962 leaf hash) to the matching hash of
    the level-0 tile with the same index and width.
    """
    width = _tile_width(0, index, size)
    if width is None:
        raise VerificationError(f"no entry bundle {index} in a tree of size {size}")
    reader = _TileReader(size, fetch, partial_fallback)
    full_path = entries_path(index) if width < TILE_WIDTH else None
    data, fell_back = reader.get(entries_path(index, width), full_path)
    if fell_back:
        entries = parse_entry_bundle(data, TILE_WIDTH)[:width]
    else:
        entries = parse_entry_bundle(data, width)
    for offset, (entry, expected) in enumerate(zip(entries, reader.hashes(0, index),
                                                   strict=True)):
        if leaf_hash(entry) != expected:
            raise VerificationError(
                f"entry {index * TILE_WIDTH + offset} does not hash to its level-0 tile hash")
    return entries


# --------------------------------------------------------------------------------------
# Witness requests (c2sp.org/tlog-witness add-checkpoint)
# --------------------------------------------------------------------------------------


def add_checkpoint_body(old: int, proof: Sequence[bytes], checkpoint_text: str) -> bytes:
    """tlog-witness: ``old <size>``, 0 to 63 base64 proof lines, an empty line, the
    signed checkpoint; every line ends with a newline."""
    if old < 0:
        raise VerificationError(f"old size {old} is negative")
    if len(proof) > MAX_PROOF_LINES:
        raise VerificationError(f"{len(proof)} consistency proof lines, more than 63")
    for position, value in enumerate(proof):
        _check_hash(value, f"consistency proof line {position}")
    body, _ = split_note(checkpoint_text)
    parse_checkpoint(body)
    lines = [f"old {old}\n", *(_b64encode(value) + "\n" for value in proof), "\n"]
    return ("".join(lines) + checkpoint_text).encode("utf-8")


def _split_header(text: str, what: str) -> tuple[list[str], str]:
    """Header lines up to the first empty line, and the checkpoint after it."""
    head, blank, checkpoint = text.partition("\n\n")
    if not blank:
        raise VerificationError(f"{what}: no empty line before the checkpoint")
    return head.split("\n"), checkpoint


def _check_signed_checkpoint(checkpoint: str, what: str) -> None:
    try:
        body, _ = split_note(checkpoint)
        parse_checkpoint(body)
    except VerificationError as exc:
        raise VerificationError(f"{what}: {exc}") from exc


def parse_add_checkpoint_body(data: bytes) -> tuple[int, list[bytes], str]:
    """Parse an add-checkpoint request body into (old size, proof, signed checkpoint).

    Syntax only: tlog-witness's checks of the old size against the checkpoint's size and
    the witness's state (400, 409, 422) are for the caller.
    """
    text = _as_text(data, "add-checkpoint body")
    _check_controls(text, "add-checkpoint body")
    lines, checkpoint = _split_header(text, "add-checkpoint body")
    if not lines[0].startswith("old "):
        raise VerificationError(f"add-checkpoint body: first line {lines[0]!r} is not 'old N'")
    old = _decimal(lines[0][len("old ") :], "add-checkpoint old size")
    proof = [_hash_line(line, "add-checkpoint proof line") for line in lines[1:]]
    if len(proof) > MAX_PROOF_LINES:
        raise VerificationError(f"add-checkpoint body: {len(proof)} proof lines, more than 63")
    _check_signed_checkpoint(checkpoint, "add-checkpoint checkpoint")
    return old, proof, checkpoint


# --------------------------------------------------------------------------------------
# Offline proofs (c2sp.org/tlog-proof)
# --------------------------------------------------------------------------------------

TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class TlogProof:
    """A parsed tlog-proof: unauthenticated extra data, leaf index, path, signed checkpoint."""

    extra: bytes | None
    index: int
    path: tuple[bytes, ...]
    checkpoint: str


def format_tlog_proof(index: int, path: Iterable[bytes], checkpoint: str,
                      extra: bytes | None = None) -> str:
    """The text of a tlog-proof (for fixtures); the checkpoint goes in verbatim."""
    lines = [TLOG_PROOF_HEADER]
    if extra is not None:
        lines.append(f"extra {_b64encode(extra)}")
    lines.append(f"index {index}")
    lines += [_b64encode(value) for value in path]
    return "\n".join(lines) + "\n\n" + checkpoint


def parse_tlog_proof(text: str | bytes) -> TlogProof:
    """Parse a tlog-proof strictly.

    tlog-proof: the line ``c2sp.org/tlog-proof@v1``; optionally ``extra <base64>``
    (opaque, unauthenticated); ``index <decimal, no leading zeroes>``; zero or more base64
    hashes of the RFC 6962 audit path, from the leaf's sibling up to the root's child; an
    empty line; the checkpoint verbatim with its signatures, checked here as a signed note
    with a checkpoint body.
    """
    proof_text = _as_text(text, "tlog-proof")
    _check_controls(proof_text, "tlog-proof")
    lines, checkpoint = _split_header(proof_text, "tlog-proof")
    if lines[0] != TLOG_PROOF_HEADER:
        raise VerificationError(f"tlog-proof: first line {lines[0]!r} is not the header")
    position, extra = 1, None
    if position < len(lines) and lines[position].startswith("extra "):
        extra = _b64decode(lines[position][len("extra ") :], "tlog-proof extra")
        position += 1
    if position >= len(lines) or not lines[position].startswith("index "):
        raise VerificationError("tlog-proof: no 'index N' line")
    index = _decimal(lines[position][len("index ") :], "tlog-proof index")
    path = tuple(_hash_line(line, "tlog-proof path line") for line in lines[position + 1 :])
    _check_signed_checkpoint(checkpoint, "tlog-proof checkpoint")
    return TlogProof(extra=extra, index=index, path=path, checkpoint=checkpoint)


def verify_tlog_proof(text: str | bytes, leaf: bytes, log: Verifier,
                      witnesses: Sequence[Verifier], quorum: int, *,
                      origin: str | None = None) -> Checkpoint:
    """Verify a tlog-proof for a leaf hash; return the checkpoint it is proved against.

    tlog-proof's steps, after the application computed the leaf hash: the checkpoint is
    signed by the log's key (and its origin is ``origin`` when given); at least ``quorum``
    of the known witnesses cosigned it (a k-of-n policy); the audit path takes the leaf
    hash at the index to the checkpoint's root.
    """
    proof = parse_tlog_proof(text)
    checkpoint = open_checkpoint(proof.checkpoint, log)
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(f"checkpoint origin {checkpoint.origin!r}, not {origin!r}")
    cosigners = count_cosignatures(proof.checkpoint, witnesses)
    if len(cosigners) < quorum:
        raise VerificationError(
            f"{len(cosigners)} verified cosignatures ({', '.join(cosigners) or 'none'}), "
            f"fewer than {quorum}")
    verify_inclusion(proof.index, checkpoint.size, leaf, proof.path, checkpoint.root)
    return checkpoint
