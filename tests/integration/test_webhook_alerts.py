"""Threshold alerts: told once when a measure crosses, once when it crosses back.

Alerts watch the disclosure-controlled figures. The crossing mechanics are tested with
a rounding base of 1 and a threshold of 1, under which the figures are the exact ones;
what the default control does to an alert is tested on its own.
"""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import LOCAL, Hooks, MakeApp
from tests.support import events as ev
from tests.support.receiver import Receiver

ALERTS_ONLY = ["org.ladder.alert.triggered", "org.ladder.alert.resolved"]
COVERAGE_UNDER_HALF = {"area": "recruitment", "measure": "coverage", "period": "quarter",
                       "operator": "below", "threshold": 0.5}


def _act(aid: str, day: str = "2026-04-10", unit: str = "east",
         area: str = "recruitment") -> dict[str, Any]:
    return ev.activity(area, unit, activity_id=aid, time=f"{day}T09:00:00Z")


def _inv(aid: str, day: str = "2026-04-11", unit: str = "east") -> dict[str, Any]:
    # A citizen of their own per activity.
    return ev.involvement("recruitment", 6, activity_id=aid, org_unit=unit,
                          pseudonym=f"p_{aid}", time=f"{day}T10:00:00Z")


def _alerts(hooks: Hooks, path: str = "/hook") -> list[dict[str, Any]]:
    hooks.deliver_due()
    return [r.event for r in hooks.receiver.at(path)]


def _hooks(make_app: MakeApp, receiver: Receiver, **config: Any) -> Hooks:
    return Hooks(make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=LOCAL, **config), receiver)


def _exact(make_app: MakeApp, receiver: Receiver) -> Hooks:
    """Alerts over figures rounded to a base of 1: every value as it is."""
    return _hooks(make_app, receiver, DISCLOSURE_BASE=1, SUPPRESSION_THRESHOLD=1)


def test_coverage_falling_under_half_this_quarter_alerts_once_and_once_when_it_recovers(
    make_app: MakeApp, receiver: Receiver
) -> None:
    hooks = _exact(make_app, receiver)
    sub = hooks.subscribe(event_types=ALERTS_ONLY, alerts=[COVERAGE_UNDER_HALF])
    assert sub["alerts"][0] | {"id": 0} == {**COVERAGE_UNDER_HALF, "org_unit": None, "id": 0}
    hooks.append([_act("A1"), _inv("A1")])  # 1 of 1 involved
    assert _alerts(hooks) == []
    hooks.append([_act("A2"), _act("A3")])  # 1 of 3
    [triggered] = _alerts(hooks)
    assert triggered["type"] == "org.ladder.alert.triggered"
    assert triggered["subject"] == "recruitment/coverage/2026-Q2"
    data = triggered["data"]
    assert (data["period"], data["starts"], data["value"], data["previous"]) == (
        "2026-Q2", "2026-04-01", 0.3333, 1.0)
    assert data["alert"] == sub["alerts"][0]
    assert "suppressed" not in data and data["tree_head"]["tree_size"] == 4
    hooks.append([_act("A4")])  # 1 of 4: still under, so nothing new
    hooks.append([_inv("A2", unit="east")])  # 2 of 4: not under half any more
    [_, resolved] = _alerts(hooks)
    assert resolved["type"] == "org.ladder.alert.resolved"
    assert (resolved["data"]["value"], resolved["data"]["previous"]) == (0.5, 0.25)
    hooks.append([_inv("A3")])  # 3 of 4: no change of side
    # Another quarter is another period, with its own crossing.
    hooks.append([_act("B1", day="2026-07-02")])
    events = _alerts(hooks)
    assert [(e["type"], e["data"]["period"]) for e in events] == [
        ("org.ladder.alert.triggered", "2026-Q2"), ("org.ladder.alert.resolved", "2026-Q2"),
        ("org.ladder.alert.triggered", "2026-Q3")]
    assert all(r.verified for r in receiver.received)


def test_an_alert_watches_only_its_area_and_unit(make_app: MakeApp,
                                                 receiver: Receiver) -> None:
    hooks = _exact(make_app, receiver)
    hooks.subscribe(event_types=ALERTS_ONLY, alerts=[{**COVERAGE_UNDER_HALF, "org_unit": "west"}])
    hooks.append([_act("E1", unit="east"), _act("T1", area="training", unit="west")])
    assert _alerts(hooks) == []
    hooks.append([_act("W1", unit="west")])
    [event] = _alerts(hooks)
    assert event["data"]["alert"]["org_unit"] == "west"
    assert event["data"]["value"] == 0.0


def test_an_alert_watches_the_rounded_figure_a_board_reads(hooks: Hooks) -> None:
    """Neither an alert's value nor the moment it fires can tell a small count."""
    hooks.subscribe(event_types=ALERTS_ONLY, alerts=[
        {"area": "recruitment", "measure": "citizens", "period": "year", "operator": "above",
         "threshold": 0}])
    for n in range(1, 13):
        hooks.append([_act(f"A{n}"), _inv(f"A{n}")])
        events = _alerts(hooks)
        shown = hooks.call("GET", "/v1/metrics", hooks.auditor, query_string={
            "area": "recruitment", "period": "year", "from": "2026-01-01",
            "to": "2026-12-31"}).json["total"]["citizens"]
        assert [e["type"] for e in events] == (
            ["org.ladder.alert.triggered"] if shown else [])
        assert all(e["data"]["value"] == shown and shown % 5 == 0 for e in events)
        if events:
            return
    raise AssertionError("12 citizens never showed above 0")


def test_alerts_and_entries_go_by_the_same_filter(make_app: MakeApp,
                                                  receiver: Receiver) -> None:
    hooks = _exact(make_app, receiver)
    hooks.subscribe("/entries-only", event_types=["org.ladder.activity.recorded"],
                    alerts=[COVERAGE_UNDER_HALF])
    hooks.subscribe("/everything", alerts=[COVERAGE_UNDER_HALF])
    hooks.append([_act("A1")])
    assert [e["type"] for e in _alerts(hooks, "/entries-only")] == [
        "org.ladder.entries.appended"]
    assert sorted(e["type"] for e in _alerts(hooks, "/everything")) == [
        "org.ladder.alert.triggered", "org.ladder.entries.appended"]


def test_changing_the_alerts_keeps_the_state_of_those_unchanged(make_app: MakeApp,
                                                               receiver: Receiver) -> None:
    hooks = _exact(make_app, receiver)
    sub = hooks.subscribe(event_types=ALERTS_ONLY, alerts=[COVERAGE_UNDER_HALF])
    hooks.append([_act("A1")])
    assert len(_alerts(hooks)) == 1
    index_alert = {"area": "recruitment", "measure": "index", "operator": "below",
                   "threshold": 50}
    changed = hooks.call("PATCH", f"/v1/subscriptions/{sub['id']}",
                         json={"alerts": [COVERAGE_UNDER_HALF, index_alert]}).json
    assert [a["measure"] for a in changed["alerts"]] == ["coverage", "index"]
    assert changed["alerts"][0]["id"] == sub["alerts"][0]["id"]
    hooks.append([_act("A2")])  # coverage still under: only the new alert speaks
    events = _alerts(hooks)
    assert [(e["type"], e["data"]["alert"]["measure"]) for e in events[1:]] == [
        ("org.ladder.alert.triggered", "index")]
    # A disabled subscription's alerts are not evaluated.
    hooks.call("PATCH", f"/v1/subscriptions/{sub['id']}", json={"enabled": False})
    hooks.append([_inv("A1"), _inv("A2")])
    assert len(_alerts(hooks)) == 2
