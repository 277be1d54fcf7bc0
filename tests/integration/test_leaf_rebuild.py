"""Anyone can hash an entry read from ``GET /v1/entries`` back to its leaf: the answer's
event, ``received_at``, ``salt`` and ``seq`` give exactly the line the log committed to,
and its SHA-256 is the leaf input (format 2, docs/ledger-format.md)."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ledger.models import ApiToken
from shared.auth import create_token
from tests.integration.conftest import MakeApp
from tests.support import appending
from tests.support.events import activity

# What an event's data may hold beyond what the measures read: any JSON a service can
# store, with the awkward parts (non-characters, quotes, controls, big and tiny numbers).
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
               | st.sampled_from(["\ufffe", "\uffff", "\ufdd0", "\U0010ffff", "\u2028", '"',
                                  "\\", "\n", "\x7f", "é", "\U0001f600"]), max_size=12)
NUMBERS = (st.integers(min_value=-(2**63), max_value=2**63 - 1)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.sampled_from([5e-324, 1e-7, 0.1, -0.0, 1e16, 1.7976931348623157e308]))
VALUES = st.recursive(st.none() | st.booleans() | NUMBERS | TEXT,
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(TEXT, inner, max_size=3), max_leaves=12)


def _line(entry: dict[str, Any]) -> bytes:
    """docs/ledger-format.md, written afresh: canonical JSON of {event, received_at, salt,
    seq}."""
    return json.dumps({"event": entry["event"], "received_at": entry["received_at"],
                       "salt": entry["salt"], "seq": entry["seq"]}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _leaf_hash(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(b"\x00" + data).digest()).decode()


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(VALUES, min_size=1, max_size=25))
def test_every_leaf_is_rebuilt_from_its_entry(make_app: MakeApp, extras: list[Any]) -> None:
    app = make_app("ledger")
    db, client = app.extensions["db"], app.test_client()
    token = create_token(db, ApiToken, app.config["TOKEN_PEPPER"], "v", ["ledger:inspect"],
                         "rebuilding every leaf")
    auth = {"Authorization": f"Bearer {token}"}
    events = [activity("training", f"unit-{n % 3}", extra=value, note=f"n{n}")
              for n, value in enumerate(extras)]
    result = appending.append(db, events, app.extensions["signer"])
    assert (result.appended, result.rejected) == (len(events), 0)

    entries: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = client.get("/v1/entries", headers=auth,
                          query_string={"after": after, "limit": 10}).json
        entries += page["items"]
        after = page["next_after"]
    assert [e["event"]["id"] for e in entries] == [e["id"] for e in events]
    served = client.get("/ct/v1/get-entries", headers=auth,
                        query_string={"start": 0, "end": len(entries) - 1}).json["entries"]
    for entry, leaf in zip(entries, served, strict=True):
        assert len(bytes.fromhex(entry["salt"])) == 32
        line = _line(entry)
        assert line == base64.b64decode(leaf["extra_data"])
        commitment = hashlib.sha256(line).digest()
        assert commitment == base64.b64decode(leaf["leaf_input"])
        assert _leaf_hash(commitment) == entry["leaf_hash"]
        proof = client.get("/ct/v1/get-proof-by-hash", headers=auth, query_string={
            "hash": entry["leaf_hash"], "tree_size": len(entries)}).json
        assert proof["leaf_index"] == entry["seq"] - 1
    app.extensions["db"].dispose()
