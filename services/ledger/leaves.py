"""The bytes an entry is hashed as: its line, and the leaf input the tree commits to
(docs/ledger-format.md, "Entries and leaves: formats 1 and 2").

- **Format 1** (entries appended before migration 0016): the line is the leaf input.
- **Format 2**: the line carries a random per-entry salt, and the leaf input is the
  32-byte SHA-256 of the line: a commitment, which reveals nothing of the content.
- **Erased**: the content and the salt are gone; the leaf hash stays, and with it
  every proof. Its line says so and gives the leaf hash.

The format of a line is read from the line itself, so a verifier needs nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime

from shared import merkle
from shared.times import rfc3339_of_naive_utc

SALT_BYTES = 32
_SEQ = b',"seq":'
# A format-2 line ends ',"salt":"<64 hex digits>","seq":N}'; nothing else can put
# ',"salt":"' exactly there, since a format-1 line has its received_at there.
_SALT_KEY = b',"salt":"'
_SALT_SPAN = len(_SALT_KEY) + 2 * SALT_BYTES + 1
_ERASED = b'{"erased":true,"leaf_hash":"'


def new_salt() -> bytes:
    return secrets.token_bytes(SALT_BYTES)


def time_text(value: datetime | str) -> str:
    """``rfc3339_of_naive_utc`` of a value read raw: a datetime, or SQLite's stored text.

    SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff', always with
    microseconds; reading that text raw skips parsing it, which exports feel (on
    PostgreSQL the export has the server write the same text, services.ledger.exports).
    """
    if isinstance(value, datetime):
        return rfc3339_of_naive_utc(value)
    return value.replace(" ", "T", 1) + "Z"


def line(seq: int, received_at: datetime | str, event: str, salt: bytes | None) -> bytes:
    """An entry's line, the canonical JSON of {event, received_at[, salt], seq}: sorted
    keys, no spaces, the event as stored. It is one line of the NDJSON export."""
    salted = "" if salt is None else f',"salt":"{salt.hex()}"'
    return (f'{{"event":{event},"received_at":"{time_text(received_at)}"{salted},'
            f'"seq":{seq}}}').encode()


def erased_line(seq: int, leaf_hash: bytes) -> bytes:
    return _ERASED + base64.b64encode(leaf_hash) + b'","seq":' + str(seq).encode() + b"}"


def leaf_input(line: bytes) -> bytes:
    """What the tree hashes as the leaf (RFC 9162 2.1): the line itself in format 1, its
    SHA-256 in format 2. Not defined for an erased line, whose leaf input is gone."""
    return hashlib.sha256(line).digest() if salted(line) else line


def salted(line: bytes) -> bool:
    at = line.rfind(_SEQ)
    return at >= _SALT_SPAN and line[at - _SALT_SPAN:at - _SALT_SPAN + len(_SALT_KEY)] \
        == _SALT_KEY


def seq_of(line: bytes) -> int:
    """The line's ``seq``, the last key of every format; -1 when there is none."""
    at = line.rfind(_SEQ)
    try:
        return int(line[at + len(_SEQ):-1]) if at > 0 and line.endswith(b"}") else -1
    except ValueError:
        return -1


def erased_hash(line: bytes) -> bytes | None:
    """The leaf hash an erased entry's line gives; None when the line is not erased."""
    if not line.startswith(_ERASED):
        return None
    end = line.find(b'"', len(_ERASED))
    try:
        value = base64.b64decode(line[len(_ERASED):end], validate=True)
    except ValueError:
        value = b""
    if len(value) != 32 or line[end:end + len(_SEQ) + 1] != b'"' + _SEQ:
        raise ValueError(f"an erased entry's line must give its 32-byte leaf hash: "
                         f"{line[:100]!r}")
    return value


def leaf_hash(line: bytes) -> bytes:
    """The RFC 9162 leaf hash of any line: computed from the content, or, for an erased
    entry, the one its line gives."""
    kept = erased_hash(line)
    return kept if kept is not None else merkle.leaf_hash(leaf_input(line))
