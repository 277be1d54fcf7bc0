"""What the ledger refuses it keeps, whole and storable, with the reason; and it tells the
relay it has settled it, so nothing is sent for ever."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.ledger import service
from services.ledger.models import Entry, Rejected
from services.ledger.signing import Signer
from shared.db import Database
from tests.support import appending
from tests.support.events import activity, involvement

SIGNER = Signer(Ed25519PrivateKey.generate())


def _rejected(db: Database) -> list[Rejected]:
    with db.reading() as session:
        return list(session.scalars(sa.select(Rejected).order_by(Rejected.id)))


def _poison(kind: str) -> Any:
    event = activity("inspection", "north-region", location="Rose House")
    if kind == "surrogate in data":
        event["data"]["location"] = "R\ud800"
    elif kind == "surrogate in id":
        event["id"] = "e-\udfff"
    elif kind == "NUL in org_unit":
        event["data"]["org_unit"] = "a\x00b"
    elif kind == "NUL in a key":
        event["data"]["x\x00"] = 1
    elif kind == "NaN":
        event["data"]["hours"] = float("nan")
    elif kind == "year 1":
        event["time"] = "0001-01-01T00:00:00Z"
    elif kind == "1969":
        event["time"] = "1969-12-31T23:59:59Z"
    elif kind == "not an object":
        return ["R\ud800", 1]
    return event


KINDS = ["surrogate in data", "surrogate in id", "NUL in org_unit", "NUL in a key", "NaN",
         "year 1", "1969", "not an object"]


@pytest.mark.parametrize("kind", KINDS)
def test_poison_is_kept_storable_and_the_rest_of_the_batch_appended(ledger_db: Database,
                                                                     kind: str) -> None:
    good = [activity("inspection", "north-region", location=f"L{n}") for n in range(3)]
    poison = _poison(kind)
    result = appending.append(ledger_db, [good[0], poison, *good[1:]], SIGNER)
    assert (result.appended, result.rejected) == (3, 1)
    with ledger_db.reading() as session:
        assert list(session.scalars(sa.select(Entry.event_id).order_by(Entry.seq))) == [
            e["id"] for e in good]
    [kept] = _rejected(ledger_db)
    assert kept.reason
    kept.payload.encode("ascii")  # storable anywhere, and it loads back exactly
    if kind == "NaN":  # not JSON at all: kept as its escaped repr
        assert "'hours': nan" in kept.payload
    else:
        assert json.loads(kept.payload) == poison
    [listed] = service.list_rejected(ledger_db, 0, 10)
    json.dumps(listed, default=str).encode("utf-8")


def test_the_relay_is_told_that_refused_events_are_settled(ledger_db: Database) -> None:
    refused = [_poison("surrogate in id"), _poison("surrogate in data"), _poison("year 1")]
    good = activity("inspection", "north-region", location="L")
    appending.append(ledger_db, [*refused, good], SIGNER)
    keys = [(e["source"], e["id"]) for e in [*refused, good]]
    unknown = ("/ladder/inspection", "never-sent")
    assert service.held(ledger_db, [*keys, unknown]) == set(keys)


@pytest.mark.parametrize("kind", KINDS)
def test_a_refused_event_sent_again_is_kept_once(ledger_db: Database, kind: str) -> None:
    """The relay publishes again what it has not yet seen settled, so the ledger refuses
    the same event more than once: `rejected` keeps it once, as the log keeps an entry
    once. Only an event with no (source, id) to know it by is kept each time."""
    poison = _poison(kind)
    first = appending.append(ledger_db, [poison, poison], SIGNER)
    again = appending.append(ledger_db, [poison], SIGNER)
    kept = service.reject_batch(ledger_db, [poison], "append failed: refused by the database")
    once = service.claimed_key(poison) is not None
    assert kept == (0 if once else 1)
    assert len(_rejected(ledger_db)) == (1 if once else 4)
    # What the worker logs and counts says the same: a refusal sent again is a duplicate.
    assert (first.rejected, first.duplicates) == ((1, 1) if once else (2, 0))
    assert (again.rejected, again.duplicates) == ((0, 1) if once else (1, 0))


def test_a_pair_that_differs_only_in_escaping_is_not_taken_for_a_refused_one(
    ledger_db: Database,
) -> None:
    refused = _poison("surrogate in id")
    appending.append(ledger_db, [refused], SIGNER)
    lookalike = (refused["source"], refused["id"].encode("utf-8", "backslashreplace").decode())
    assert service.held(ledger_db, [lookalike]) == set()


def test_an_involvement_with_a_lone_surrogate_in_its_pseudonym_is_refused(
    ledger_db: Database,
) -> None:
    event = involvement("recruitment", 5, pseudonym="p\ud800")
    result = appending.append(ledger_db, [event], SIGNER)
    assert result.rejected == 1
    assert "data.pseudonym" in _rejected(ledger_db)[0].reason


@pytest.mark.parametrize("hours", [1001, 1000.5, 1e308, 10 ** 400, -1])
def test_an_involvement_of_more_hours_than_an_area_accepts_is_refused(
        ledger_db: Database, hours: Any) -> None:
    # Two of 1e308 would add up to infinity in the figures, and a withdrawal then leaves
    # not-a-number there for good: the ledger bounds what the areas bound.
    first = activity("training", "ward-1")
    events = [first, *(involvement("training", activity_id=first["data"]["activity_id"],
                                   org_unit="ward-1", hours=hours) for _ in range(2))]
    result = appending.append(ledger_db, events, SIGNER)
    assert (result.appended, result.rejected) == (1, 2)
    assert all("hours" in kept.reason for kept in _rejected(ledger_db))
