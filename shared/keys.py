"""Ed25519 private keys from settings: base64 of the 32-byte seed, or a PEM file.

The ledger signs its tree heads with one, and a witness its cosignatures. In development,
with neither given, a key is made on first start and kept in the file; production refuses
to start without one (shared.config).
"""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger(__name__)


def load_ed25519(seed: str, path: str, production: bool) -> Ed25519PrivateKey:
    if seed:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed, validate=True))
    file = Path(path)
    if not file.exists() and production:
        raise ValueError(f"no signing key at {file}; production never makes one up")
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        # Written whole under another name, then linked into place: a process that
        # starts at the same moment reads either no file or the complete one.
        draft = file.with_name(f".{file.name}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        try:
            os.link(draft, file)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            log.warning("generated a development signing key at %s", file)
        finally:
            draft.unlink()
    key = serialization.load_pem_private_key(file.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{file} is not an Ed25519 private key")
    return key
