"""The ledger's migration 0010 fills the new counters from what the ledger already holds."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa

from shared.db import make_engine
from shared.migrations import upgrade
from tests.support.databases import database

KEYS = [(unit, kind, period) for unit in ("east", "*")
        for kind, period in (("month", "2026-03"), ("quarter", "2026-Q1"), ("year", "2026"))]


def _entry(seq: int, type_: str, involvement_id: str, recognition: str) -> dict[str, object]:
    event = {"type": type_, "data": {"involvement_id": involvement_id,
                                     "recognition": recognition}}
    return {"seq": seq, "source": "/ladder/recruitment", "event_id": f"e{seq}", "type": type_,
            "subject": "A", "area": "recruitment", "org_unit": "east", "pseudonym": None,
            "time": datetime(2026, 3, 5), "received_at": datetime(2026, 3, 5),
            "event": json.dumps(event), "leaf_hash": None}


def test_recognition_and_the_rubric_histogram_are_filled_in_from_the_log(
        backend: str, tmp_path: Path) -> None:
    recorded, corrected = "org.ladder.involvement.recorded", "org.ladder.involvement.corrected"
    with database(backend, tmp_path, "ledger") as url:
        upgrade("ledger", url, "0009")
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO entries (seq, source, event_id, type, subject, area, org_unit, "
                "pseudonym, time, received_at, event, leaf_hash) VALUES (:seq, :source, "
                ":event_id, :type, :subject, :area, :org_unit, :pseudonym, :time, "
                ":received_at, :event, :leaf_hash)"), [
                    _entry(1, recorded, "I1", "payment"), _entry(2, recorded, "I2", "payment"),
                    _entry(3, corrected, "I1", "time_credit"),
                    _entry(4, recorded, "I3", "time_credit")])
            # I3 was withdrawn: it counts nowhere.
            connection.execute(sa.text(
                "INSERT INTO involvement_states (area, involvement_id, activity_id, org_unit, "
                "day, pseudonym, step, hours, recognised, vote, feedback, status) VALUES "
                "('recruitment', :i, 'A', 'east', :day, 'p', 5, 1.0, :t, :f, :f, :status)"),
                [{"i": i, "day": date(2026, 3, 5), "t": True, "f": False, "status": status}
                 for i, status in (("I1", "active"), ("I2", "active"), ("I3", "withdrawn"))])
            connection.execute(sa.text(
                "INSERT INTO aggregates (area, org_unit, kind, period, activities, "
                "activities_involved, involvements, step_1, step_2, step_3, step_4, step_5, "
                "step_6, step_7, hours, recognised, votes, feedback, citizens, "
                "returning_citizens) VALUES ('recruitment', :unit, :kind, :period, 1, 1, 2, "
                "0, 0, 0, 0, 2, 0, 0, 2.0, 2, 0, 0, 1, 1)"),
                [{"unit": u, "kind": k, "period": p} for u, k, p in KEYS])
        upgrade("ledger", url)
        with engine.connect() as connection:
            states = dict(connection.execute(sa.text(
                "SELECT involvement_id, recognition FROM involvement_states")).all())
            assert states == {"I1": "time_credit", "I2": "payment", "I3": "time_credit"}
            counts = {(u, k, p): n for u, k, p, n in connection.execute(sa.text(
                "SELECT org_unit, kind, period, non_financial FROM aggregates"))}
            assert counts == {key: 1 for key in KEYS}
            histogram = set(connection.execute(sa.text(
                "SELECT org_unit, month, measure, value, n FROM cell_histograms")).all())
            assert histogram == {("east", "2026-03", "rubric", "recruitment-1", 2),
                                 ("*", "2026-03", "rubric", "recruitment-1", 2)}
            assert {r for (r,) in connection.execute(sa.text(
                "SELECT DISTINCT rubric FROM involvement_states"))} == {"recruitment-1"}
        engine.dispose()
