"""Impact records, "you said, we did": recorded in every area, words kept there, facts
and a commitment in the ledger, and measured."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from services.ledger.models import ApiToken
from shared.auth import create_token
from shared.impact import commitment
from shared.webhooks import signature_headers
from tests.integration.conftest import AreaClient, MakeApp, new_id, set_up_area
from tests.support import appending
from tests.support import events as ev
from tests.support.areas import ACTIVITIES, AREAS, PATHS, involvement

SAID = "The panel asked for a question about lived experience of home care."
DONE = "Question 4 now asks about it; every panel since has used it."


@pytest.fixture
def area(shared_area: AreaClient) -> AreaClient:
    """The area's app and database that the tests here share, on each backend: a test
    records under ids and citizens of its own, reads the events it added after those it
    found, and shows a refusal wrote nothing by what the database holds before and after
    it."""
    return shared_area


def _involve(area: AreaClient, activity_id: str) -> str:
    response = area.post(f"/v1/{PATHS[area.area]}/{activity_id}/involvements",
                         json=involvement(area.area, new_id("CIT-")))
    assert response.status_code == 202, response.json
    return str(response.json["id"])


def _impact(**changes: Any) -> dict[str, Any]:
    return {"said": SAID, "outcome": "yes", "change_kind": "recruitment",
            "what_changed": DONE, "told_on": "2026-03-02", **changes}


def test_an_impact_record_keeps_its_words_and_tells_the_ledger_only_facts(
        area: AreaClient) -> None:
    seen = len(area.events())
    activity_id = area.activity()
    involvement_id = _involve(area, activity_id)
    response = area.post("/v1/impacts", json=_impact(involvement_id=involvement_id))
    assert response.status_code == 202, response.json
    record = response.json
    assert (record["activity_id"], record["involvement_id"], record["revision"]) == (
        activity_id, involvement_id, 1)
    # The words stay here, and the commitment shows later that these are the ones.
    assert record["commitment"] == commitment(record["salt"], SAID, DONE)
    assert area.get(f"/v1/impacts/{record['id']}").json == record
    added = area.events()[seen:]
    event = added[-1]
    assert event["type"] == "org.ladder.impact.recorded"
    assert event["data"] == {
        "area": area.area, "impact_id": record["id"], "activity_id": activity_id,
        "involvement_id": involvement_id, "org_unit": ACTIVITIES[area.area]["org_unit"],
        "outcome": "yes", "change_kind": "recruitment", "told_on": "2026-03-02",
        "commitment": record["commitment"], "revision": 1}
    assert SAID not in json.dumps(added) and DONE not in json.dumps(added)


@pytest.mark.parametrize("name", AREAS)
def test_a_correction_says_it_all_again_under_a_new_commitment(make_app: MakeApp,
                                                                name: str) -> None:
    """On a database of its own: the list of impacts holds the corrected record only."""
    area = set_up_area(name, make_app(name))
    activity_id = area.activity()
    first = area.post("/v1/impacts", json=_impact(activity_id=activity_id)).json
    fixed = _impact(outcome="not_possible", change_kind=None, told_on="2026-03-09",
                    what_changed="The question bank is national; we have asked for it.")
    del fixed["change_kind"]
    response = area.post(f"/v1/impacts/{first['id']}/corrections", json=fixed)
    assert response.status_code == 202, response.json
    assert (response.json["revision"], response.json["outcome"]) == (2, "not_possible")
    assert response.json["commitment"] != first["commitment"]
    assert area.events()[-1]["type"] == "org.ladder.impact.corrected"
    assert [r["id"] for r in area.get("/v1/impacts").json["items"]] == [first["id"]]


@pytest.mark.parametrize(("body", "field"), [
    (_impact(change_kind=None), "change_kind"),                       # a change of no kind
    ({**_impact(outcome="no"), "change_kind": "recruitment"}, "change_kind"),
    (_impact(told_on="2999-01-01"), "told_on"),                       # told in the future
    (_impact(told_on="1999-12-31"), "told_on"),
    (_impact(outcome="maybe"), "outcome"),
    (_impact(said=""), "said"),
    (_impact(said="x" * 4001), "said"),
    (_impact(), "activity_id"),                                       # of nothing
])
def test_an_impact_record_that_cannot_be_is_422_and_writes_nothing(
        area: AreaClient, body: dict[str, Any], field: str) -> None:
    activity_id = area.activity()
    if field != "activity_id":
        body = {**body, "activity_id": activity_id}
    body = {k: v for k, v in body.items() if v is not None}
    before = area.contents()
    response = area.post("/v1/impacts", json=body)
    assert response.status_code == 422, response.json
    assert field in json.dumps(response.json["errors"])
    assert area.contents() == before


def test_an_impact_record_of_what_is_not_there_is_refused(area: AreaClient) -> None:
    impacts = area.contents()["impacts"]
    activity_id = area.activity()
    nope = new_id("NOPE-")
    assert area.post("/v1/impacts", json=_impact(activity_id=nope)).status_code == 404
    assert area.post("/v1/impacts", json=_impact(involvement_id=nope)).status_code == 404
    involvement_id = _involve(area, activity_id)
    other = area.activity()
    mismatch = area.post("/v1/impacts", json=_impact(activity_id=other,
                                                     involvement_id=involvement_id))
    assert mismatch.status_code == 422 and "activity_id" in json.dumps(mismatch.json)
    area.post(f"/v1/involvements/{involvement_id}/withdrawal",
              json={"reason": "recorded_in_error"})
    assert area.post("/v1/impacts",
                     json=_impact(involvement_id=involvement_id)).status_code == 409
    assert area.post(f"/v1/impacts/{nope}/corrections", json=_impact()).status_code == 404
    assert area.contents()["impacts"] == impacts


def test_webhooks_and_cloudevents_record_impacts_as_rest_does(area: AreaClient) -> None:
    activity_id = area.activity()
    name, secret = area.integration()
    impact_id = new_id("IMP-")
    body = json.dumps({"type": "impact.recorded",
                       "data": _impact(activity_id=activity_id, id=impact_id)})
    now = int(datetime.now(UTC).timestamp())
    hooked = area.http.post(f"/v1/webhooks/{name}", data=body.encode(), headers={
        "Content-Type": "application/json",
        **signature_headers([secret], new_id("msg_"), now, body)})
    assert hooked.status_code == 202, hooked.json
    assert hooked.json["result"]["id"] == impact_id
    event = {"specversion": "1.0", "id": new_id("ce-"), "source": "/lms", "type":
             "org.ladder.impact.corrected", "data": {**_impact(outcome="partly"),
                                                      "id": impact_id}}
    corrected = area.post("/v1/events", json=event,
                          headers={"Content-Type": "application/cloudevents+json"})
    assert corrected.status_code == 202, corrected.json
    assert area.get(f"/v1/impacts/{impact_id}").json["outcome"] == "partly"


# -- in the ledger -------------------------------------------------------------------------
# Each test here keeps a ledger of its own: the figures it reads are of the whole ledger.

YEAR = {"from": "2026-01-01", "to": "2026-12-31"}


class Ledger:
    def __init__(self, app: Flask) -> None:
        self.app = app
        db, pepper = app.extensions["db"], app.config["TOKEN_PEPPER"]
        self.admin = create_token(db, ApiToken, pepper, "ops", ["ledger:admin"])
        self.board = create_token(db, ApiToken, pepper, "board", ["ledger:read"])

    def append(self, events: list[dict[str, Any]]) -> None:
        result = appending.append(self.app.extensions["db"], events,
                                  self.app.extensions["signer"])
        assert result.rejected == 0

    def year(self, token: str, **params: str) -> dict[str, Any]:
        response = self.app.test_client().get(
            "/v1/metrics", headers={"Authorization": f"Bearer {token}"},
            query_string={"area": "recruitment", "period": "year", **YEAR, **params})
        assert response.status_code == 200, response.json
        return dict(response.json["total"])


def _told(activity_id: str, told_on: str | None, outcome: str,
          involvement_id: str | None = None, corrected: bool = False) -> dict[str, Any]:
    return ev.impact("recruitment", activity_id, involvement_id=involvement_id,
                     told_on=told_on, outcome=outcome, corrected=corrected)


def test_the_ledger_measures_who_was_told_what_changed_and_how_long_it_took(
        make_app: MakeApp) -> None:
    ledger = Ledger(make_app("ledger"))
    events, involvements = [], {}
    for name, day in (("A", "2026-02-02"), ("B", "2026-02-10")):
        activity = ev.activity("recruitment", "east", activity_id=name,
                               time=f"{day}T09:00:00Z")
        events.append(activity)
        for n in range(3):
            inv = ev.involvement("recruitment", 5, activity_id=name, org_unit="east",
                                 pseudonym=f"p_{name}{n}", recognition=(
                                     "time_credit" if n == 0 else "payment"),
                                 time=f"{day}T10:00:00Z")
            involvements[f"{name}{n}"] = inv["data"]["involvement_id"]
            events.append(inv)
    ledger.append(events)
    exact = ledger.year(ledger.admin)
    assert (exact["told"], exact["told_rate"], exact["median_days_to_feedback"]) == (0, 0.0,
                                                                                      None)
    assert exact["non_financial_share"] == 0.3333 and exact["rubric_versions"] == [
        "recruitment-1"]
    # A: told 12 days later that it changed things; B0: told 30 days later that it could not.
    ledger.append([_told("A", "2026-02-14", "yes"),
                   _told("B", "2026-03-12", "not_possible", involvements["B0"])])
    exact = ledger.year(ledger.admin)
    assert (exact["told"], exact["changed"]) == (4, 3)
    assert (exact["told_rate"], exact["change_rate"]) == (0.6667, 0.5)
    assert exact["median_days_to_feedback"] == 12.0  # 12, 12, 12, 30
    # A whole activity's record stands for those without their own; a correction replaces.
    ledger.append([_told("B", "2026-02-20", "partly"),
                   _told("A", None, "no", corrected=True)])
    exact = ledger.year(ledger.admin)
    assert (exact["told"], exact["changed"]) == (3, 2)  # B0 by its own, B1 and B2 by B's
    assert exact["median_days_to_feedback"] == 10.0  # 30, 10, 10
    # A withdrawn involvement takes its part with it.
    ledger.append([ev.withdrawn("recruitment", "B", involvements["B1"])])
    assert ledger.year(ledger.admin)["told"] == 2
    # A board reads them rounded, hidden under the threshold, never more than involvements.
    board = ledger.year(ledger.board)
    assert board["told"] % 5 == 0 and board["changed"] <= board["involvements"]
    assert board["told_rate"] is None or board["involvements"] >= 10


def test_the_rubric_versions_a_figure_mixes_are_named(make_app: MakeApp) -> None:
    ledger = Ledger(make_app("ledger"))
    activity = ev.activity("recruitment", "east", activity_id="V", time="2026-05-01T09:00:00Z")
    old = ev.involvement("recruitment", 4, activity_id="V", org_unit="east",
                         time="2026-05-02T09:00:00Z")
    new = ev.involvement("recruitment", 5, activity_id="V", org_unit="east",
                         rubric_version="recruitment-2", time="2026-08-02T09:00:00Z")
    ledger.append([activity, old, new])
    assert ledger.year(ledger.admin)["rubric_versions"] == ["recruitment-1", "recruitment-2"]
    may = ledger.year(ledger.admin, **{"from": "2026-05-01", "to": "2026-05-31"},
                      period="month")
    assert may["rubric_versions"] == ["recruitment-1"]
    # A correction under the new rubric moves the involvement to it.
    ledger.append([ev.involvement("recruitment", 6, activity_id="V", org_unit="east",
                                  involvement_id=old["data"]["involvement_id"],
                                  rubric_version="recruitment-2", corrected=True,
                                  time=(datetime(2026, 9, 1, tzinfo=UTC) + timedelta(
                                      hours=1)).isoformat().replace("+00:00", "Z"))])
    assert ledger.year(ledger.admin)["rubric_versions"] == ["recruitment-2"]
