"""A system that reports late, or loads its history, says when things happened."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.integration.conftest import AreaClient
from tests.support.areas import ACTIVITIES, PATHS, involvement


def test_occurred_at_becomes_the_events_time(area: AreaClient) -> None:
    path = f"/v1/{PATHS[area.area]}"
    recorded = area.post(path, json={**ACTIVITIES[area.area],
                                     "occurred_at": "2026-02-03T09:30:00+01:00"})
    assert recorded.status_code == 202, recorded.json
    assert "occurred_at" not in recorded.json
    answer = area.post(f"{path}/{recorded.json['id']}/involvements", json={
        **involvement(area.area), "occurred_at": "2026-02-04T10:00:00Z"})
    assert answer.status_code == 202, answer.json
    activity, inv = area.events()
    assert (activity["time"], inv["time"]) == ("2026-02-03T08:30:00.000000Z",
                                               "2026-02-04T10:00:00.000000Z")
    assert "occurred_at" not in activity["data"] and "occurred_at" not in inv["data"]


def test_without_occurred_at_the_event_is_dated_now(area: AreaClient) -> None:
    before = datetime.now(UTC)
    assert area.post(f"/v1/{PATHS[area.area]}", json=ACTIVITIES[area.area]).status_code == 202
    [event] = area.events()
    assert datetime.fromisoformat(event["time"].replace("Z", "+00:00")) >= before


def test_a_date_in_the_future_is_refused_and_writes_nothing(area: AreaClient) -> None:
    soon = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    answer = area.post(f"/v1/{PATHS[area.area]}",
                       json={**ACTIVITIES[area.area], "occurred_at": soon})
    assert answer.status_code == 422
    assert answer.json["errors"]["json"]["occurred_at"] == ["Must not be in the future."]
    naive = area.post(f"/v1/{PATHS[area.area]}",
                      json={**ACTIVITIES[area.area], "occurred_at": "2026-02-03T09:30:00"})
    assert naive.status_code == 422
    assert area.count("outbox") == 0
