"""An entry's line, its format read from the line alone, and its leaf hash
(services.ledger.leaves, docs/ledger-format.md)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ledger import leaves

# Any canonical JSON the ledger could hold as an event, including text that looks like
# the keys a line is read by.
TRICKY = st.sampled_from(['","salt":"', ',"seq":', '{"erased":true,"leaf_hash":"', "}", "\\"])
TEXT = st.text(max_size=20) | TRICKY
EVENTS = st.dictionaries(TEXT, TEXT | st.integers(), max_size=4).map(
    lambda d: json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
WHEN = datetime(2026, 3, 1, 10, 0, 0, 123456)


def _hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


@given(EVENTS, st.integers(min_value=1, max_value=2**63 - 1), st.binary(min_size=32,
                                                                         max_size=32))
def test_each_format_is_read_from_its_line(event: str, seq: int, salt: bytes) -> None:
    one, two = leaves.line(seq, WHEN, event, None), leaves.line(seq, WHEN, event, salt)
    assert json.loads(one) == {"event": json.loads(event),
                               "received_at": "2026-03-01T10:00:00.123456Z", "seq": seq}
    assert json.loads(two) == {**json.loads(one), "salt": salt.hex()}
    assert (leaves.salted(one), leaves.salted(two)) == (False, True)
    assert leaves.seq_of(one) == leaves.seq_of(two) == seq
    assert leaves.leaf_hash(one) == _hash(one)
    assert leaves.leaf_hash(two) == _hash(hashlib.sha256(two).digest())
    erased = leaves.erased_line(seq, leaves.leaf_hash(two))
    assert json.loads(erased) == {"erased": True, "seq": seq, "leaf_hash": base64.b64encode(
        leaves.leaf_hash(two)).decode()}
    assert leaves.erased_hash(erased) == leaves.leaf_hash(erased) == leaves.leaf_hash(two)
    assert leaves.seq_of(erased) == seq and leaves.erased_hash(two) is None


@pytest.mark.parametrize("line", [
    b'{"erased":true,"leaf_hash":"","seq":3}',
    b'{"erased":true,"leaf_hash":"AAAA","seq":3}',
    b'{"erased":true,"leaf_hash":"' + base64.b64encode(bytes(33)) + b'","seq":3}',
    b'{"erased":true,"leaf_hash":"' + base64.b64encode(bytes(32))[:-1] + b'!","seq":3}',
    b'{"erased":true,"leaf_hash":"' + base64.b64encode(bytes(32)) + b'","x":1,"seq":3}',
    b'{"erased":true,"leaf_hash":"' + base64.b64encode(bytes(32)),
])
def test_an_erased_line_without_its_leaf_hash_is_refused(line: bytes) -> None:
    with pytest.raises(ValueError, match="32-byte leaf hash"):
        leaves.leaf_hash(line)


@pytest.mark.parametrize("line", [b"", b"{}", b'{"seq":}', b'{"seq":x}', b'"seq":4',
                                  b'{"event":1,"seq":4'])
def test_a_line_without_a_seq_has_none(line: bytes) -> None:
    assert leaves.seq_of(line) == -1


def test_a_salt_is_fresh_and_32_bytes() -> None:
    salts = {leaves.new_salt() for _ in range(100)}
    assert len(salts) == 100 and {len(s) for s in salts} == {32}
