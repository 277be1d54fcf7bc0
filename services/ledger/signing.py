"""Signed tree heads: Ed25519 over (timestamp, tree size, root hash), in that order.

The signed bytes follow RFC 6962's TreeHeadSignature: version (1 byte, 0),
signature type (1 byte, 1 = tree hash), timestamp in milliseconds (8 bytes),
tree size (8 bytes), SHA-256 root hash (32 bytes); integers big-endian.

The same key signs each tree head as a C2SP checkpoint too (shared.notes), under the
log's origin.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from shared import notes
from shared.keys import load_ed25519
from shared.merkle import tree_head_bytes

log = logging.getLogger(__name__)


class TreeHeadSignatureInvalid(ValueError):
    """A tree head's signature does not verify under the public key."""


@dataclass(frozen=True)
class TreeHead:
    size: int
    timestamp: int
    root: bytes
    signature: bytes

    def as_json(self) -> dict[str, Any]:
        """The get-sth shape of RFC 6962 4.3."""
        return {"tree_size": self.size, "timestamp": self.timestamp,
                "sha256_root_hash": base64.b64encode(self.root).decode(),
                "tree_head_signature": base64.b64encode(self.signature).decode()}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> TreeHead:
        try:
            return cls(size=int(value["tree_size"]), timestamp=int(value["timestamp"]),
                       root=base64.b64decode(value["sha256_root_hash"], validate=True),
                       signature=base64.b64decode(value["tree_head_signature"], validate=True))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a signed tree head: {exc}") from exc

    def verify(self, public_key: Ed25519PublicKey) -> None:
        try:
            public_key.verify(self.signature,
                              tree_head_bytes(self.size, self.timestamp, self.root))
        except InvalidSignature as exc:
            raise TreeHeadSignatureInvalid(
                f"the signature on the tree head of size {self.size} does not verify") from exc


def default_origin(public_key: bytes) -> str:
    """A log's origin when none is configured: unique to its key, and under ``.invalid``
    (RFC 2606), so that it is never mistaken for a real address."""
    return f"ladder.invalid/{hashlib.sha256(public_key).hexdigest()[:16]}"


class Signer:
    def __init__(self, key: Ed25519PrivateKey, origin: str = "") -> None:
        self.key = key
        self.public_key = key.public_key()
        self.raw_public_key = notes.raw_public_key(key)
        self.origin = notes.check_name(origin or default_origin(self.raw_public_key))

    def sign(self, size: int, timestamp_ms: int, root: bytes) -> TreeHead:
        signature = self.key.sign(tree_head_bytes(size, timestamp_ms, root))
        return TreeHead(size, timestamp_ms, root, signature)

    def checkpoint(self, size: int, root: bytes) -> str:
        """The tree head as a C2SP checkpoint, signed under the origin as its key name.

        Ed25519 is deterministic and a checkpoint has no timestamp, so one tree head has
        exactly one checkpoint, whenever it is signed."""
        return notes.sign(notes.checkpoint_body(self.origin, size, root), self.origin,
                          self.key)

    def vkey(self) -> str:
        return notes.vkey(self.origin, self.raw_public_key)

    def public_json(self) -> dict[str, str]:
        raw = self.raw_public_key
        pem = self.public_key.public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
        return {"algorithm": "Ed25519", "public_key": base64.b64encode(raw).decode(),
                "public_key_pem": pem.decode(), "key_id": hashlib.sha256(raw).hexdigest(),
                "origin": self.origin, "vkey": self.vkey()}


def load_public_key(text: str) -> Ed25519PublicKey:
    """A PEM public key, the JSON of GET /v1/public-key, or base64 of the raw 32 bytes."""
    text = text.strip()
    if text.startswith("{"):
        import json

        text = json.loads(text)["public_key_pem"]
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_public_key(text.encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the public key is not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))


def load_signer(config: dict[str, Any]) -> Signer:
    """From LADDER_SIGNING_KEY (base64 of the 32-byte seed) or LADDER_SIGNING_KEY_FILE (PEM).

    In development, with neither set, a key is made on first start and kept under the
    var directory; production refuses to start without one (shared.config).
    """
    key = load_ed25519(config.get("SIGNING_KEY", ""), config["SIGNING_KEY_FILE"],
                       config.get("LADDER_ENV") == "production")
    return Signer(key, config.get("LOG_ORIGIN", ""))
