"""The ledger worker's use case against a real database: sequence, dedupe, reject."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.ledger import service
from services.ledger.measures import PERIODS, period_of
from services.ledger.models import CitizenYear, Entry, Rejected
from services.ledger.projection import ALL_UNITS
from services.ledger.signing import Signer
from shared.db import Database
from tests.support import appending
from tests.support.events import activity, involvement, withdrawn

SIGNER = Signer(Ed25519PrivateKey.generate())


def _entries(db: Database) -> list[Entry]:
    with db.reading() as session:
        return list(session.scalars(sa.select(Entry).order_by(Entry.seq)))


def _rejected(db: Database) -> list[Rejected]:
    with db.reading() as session:
        return list(session.scalars(sa.select(Rejected).order_by(Rejected.id)))


def test_citizen_counters_match_the_involvements_over_many_units_and_batches(
    ledger_db: Database,
) -> None:
    # Each involvement moves two rows of a citizen's months (its unit and all units):
    # 1,200 of them move 1,650 rows, more than one lookup statement reads. Counted per
    # month, quarter and year, as the aggregates are, the rows must give what the
    # involvements do.
    units = [f"unit-{n}" for n in range(8)]
    activities = {u: activity("training", u, time="2026-01-02T09:00:00Z") for u in units}

    def involvements(step: int) -> list[dict[str, object]]:
        return [involvement("training", step, org_unit=units[n % 8], pseudonym=f"p{n % 450}",
                            activity_id=activities[units[n % 8]]["data"]["activity_id"],
                            time=f"2026-{n % 6 + 1:02d}-10T09:00:00Z")
                for n in range(1200)]

    first = involvements(4)
    appending.append(ledger_db, list(activities.values()) + first, SIGNER)
    # The second batch records the same citizens again, moving every counter the first
    # created; the third withdraws half of the first batch's involvements.
    again = involvements(5)
    appending.append(ledger_db, again, SIGNER)
    gone = first[::2]
    appending.append(ledger_db, [withdrawn("training", e["data"]["activity_id"],
                     e["data"]["involvement_id"]) for e in gone],
                     SIGNER)

    expected: Counter[tuple[str, ...]] = Counter()
    for e in first[1::2] + again:
        day = date.fromisoformat(e["time"][:10])
        for unit in (e["data"]["org_unit"], ALL_UNITS):
            for kind in PERIODS:
                expected["training", unit, kind, period_of(day, kind), e["data"]["pseudonym"]] += 1
    with ledger_db.reading() as session:
        rows = session.scalars(sa.select(CitizenYear)).all()
    stored: Counter[tuple[str, ...]] = Counter()
    for r in rows:
        months = [getattr(r, f"m{m}") for m in range(1, 13)]
        assert any(months)
        for m, n in enumerate(months, start=1):
            day = date(int(r.year), m, 1)
            for kind in PERIODS:
                stored[r.area, r.org_unit, kind, period_of(day, kind), r.pseudonym] += n
    assert len(rows) == 1650
    assert +stored == expected


def test_batches_get_gapless_sequence_numbers_in_order(ledger_db: Database) -> None:
    first = [activity() for _ in range(3)]
    second = [involvement() for _ in range(4)]
    assert appending.append(ledger_db, first, SIGNER).size == 3
    result = appending.append(ledger_db, second, SIGNER)
    assert (result.appended, result.size) == (4, 7)
    entries = _entries(ledger_db)
    assert [e.seq for e in entries] == list(range(1, 8))
    assert [e.event_id for e in entries] == [e["id"] for e in first + second]


def test_an_event_already_held_is_ignored(ledger_db: Database) -> None:
    batch = [activity(), involvement()]
    appending.append(ledger_db, batch, SIGNER)
    again = appending.append(ledger_db, batch + [involvement()], SIGNER)
    assert (again.appended, again.duplicates, again.size) == (1, 2, 3)
    assert len(_entries(ledger_db)) == 3


def test_a_repeat_within_one_batch_is_appended_once(ledger_db: Database) -> None:
    event = involvement()
    result = appending.append(ledger_db, [event, event, dict(event)], SIGNER)
    assert (result.appended, result.duplicates) == (1, 2)


def test_same_id_from_another_source_is_a_different_event(ledger_db: Database) -> None:
    one = involvement(area="recruitment")
    other = {**involvement(area="training"), "id": one["id"]}
    assert appending.append(ledger_db, [one, other], SIGNER).appended == 2


def test_invalid_events_are_kept_with_a_reason_and_the_rest_append(ledger_db: Database) -> None:
    good = involvement()
    no_source = {k: v for k, v in involvement().items() if k != "source"}
    wrong_version = {**involvement(), "specversion": "0.3"}
    unknown_type = {**involvement(), "type": "org.example.nothing"}
    bad_area = involvement(area="recruitment")
    bad_area["data"]["area"] = "gardening"
    result = appending.append(
        ledger_db, [no_source, good, wrong_version, "not an object", unknown_type, bad_area],
        SIGNER)
    assert (result.appended, result.rejected) == (1, 5)
    assert [e.event_id for e in _entries(ledger_db)] == [good["id"]]
    reasons = [r.reason for r in _rejected(ledger_db)]
    assert "source" in reasons[0]
    assert "specversion" in reasons[1]
    assert "JSON object" in reasons[2]
    assert "unknown event type" in reasons[3]
    assert "data.area" in reasons[4]
    assert json.loads(_rejected(ledger_db)[0].payload) == no_source


def test_a_payload_that_is_not_a_list_is_rejected_not_dropped(ledger_db: Database) -> None:
    result = appending.append(ledger_db, {"just": "a dict"}, SIGNER)
    assert result.rejected == 1
    assert len(_rejected(ledger_db)) == 1


def test_entries_filter_by_area_type_and_time_after_a_cursor(ledger_db: Database) -> None:
    events = [activity(area="recruitment"), involvement(area="training"),
              involvement(area="recruitment")]
    events[0]["time"] = "2026-01-10T09:00:00Z"
    events[1]["time"] = "2026-02-10T09:00:00+01:00"
    events[2]["time"] = "2026-03-10T09:00:00Z"
    appending.append(ledger_db, events, SIGNER)

    def seqs(**kw: object) -> list[int]:
        return [e["seq"] for e in service.list_entries(ledger_db, service.EntryQuery(**kw))]

    assert seqs() == [1, 2, 3]
    assert seqs(after=1) == [2, 3]
    assert seqs(limit=1) == [1]
    assert seqs(area="recruitment") == [1, 3]
    assert seqs(type=events[1]["type"]) == [2, 3]
    from datetime import datetime

    assert seqs(time_from=datetime(2026, 2, 1), time_to=datetime(2026, 3, 1)) == [2]
