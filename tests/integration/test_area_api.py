"""Every area's REST API: what it records and publishes, and what it refuses."""

from __future__ import annotations

import json
import uuid

import pytest

from tests.integration.conftest import AreaClient, MakeApp, new_id, set_up_area
from tests.support.areas import ACTIVITIES, AREAS, PATHS, involvement


@pytest.fixture
def area(shared_area: AreaClient) -> AreaClient:
    """The area's app and database that the tests here share, on each backend: a test
    writes under ids of its own (citizens too), reads the events it added after those it
    found, and shows a refusal wrote nothing by what the database holds before and
    after it."""
    return shared_area


def test_an_involvement_is_published_with_its_step_facts_and_rubric(area: AreaClient) -> None:
    seen = len(area.events())
    activity_id = area.activity()
    response = area.post(f"/v1/{PATHS[area.area]}/{activity_id}/involvements",
                         json=involvement(area.area))
    assert response.status_code == 202, response.json
    body = response.json
    assert (body["step"], body["rubric_version"]) == (7, f"{area.area}-2")
    assert body["pseudonym"].startswith("p_") and "citizen_ref" not in body
    recorded, inv = area.events()[seen:]
    assert recorded["type"] == "org.ladder.activity.recorded"
    assert recorded["source"] == f"/ladder/{area.area}" and recorded["subject"] == activity_id
    assert inv["type"] == "org.ladder.involvement.recorded"
    data = inv["data"]
    assert data["area"] == area.area and data["activity_id"] == activity_id
    assert data["org_unit"] == ACTIVITIES[area.area]["org_unit"]
    assert (data["step"], data["rubric_version"], data["rubric_rule"]) == (
        7, f"{area.area}-2", f"{area.area}-2.7")
    # Sent without part and influence, as rubric 1's integrations send it: read as
    # docs/rubrics.md says, and published with the facts it was read with.
    assert data["facts"] == {"stage": data["stage"], "role": data["role"], "from_start": True,
                             "decision_power": "equal_vote", "feedback_given": True,
                             "recognition": "payment", "part": "decided",
                             "influence": "unknown"}
    assert "CIT-0042" not in json.dumps(area.events())


def test_the_same_citizen_keeps_one_pseudonym(area: AreaClient) -> None:
    activity_id = area.activity()
    path = f"/v1/{PATHS[area.area]}/{activity_id}/involvements"
    citizen = new_id("CIT-")
    first = area.post(path, json=involvement(area.area, citizen)).json["pseudonym"]
    again = area.post(path, json=involvement(area.area, f" {citizen}")).json["pseudonym"]
    other = area.post(path, json=involvement(area.area, new_id("CIT-"))).json["pseudonym"]
    assert first == again != other


def test_a_correction_is_a_new_event_with_the_new_step(area: AreaClient) -> None:
    activity_id = area.activity()
    inv = area.post(f"/v1/{PATHS[area.area]}/{activity_id}/involvements",
                    json=involvement(area.area)).json
    fixed = {k: v for k, v in involvement(area.area, decision_power="advisory",
                                          from_start=False, influence="yes").items()
             if k != "citizen_ref"}
    response = area.post(f"/v1/involvements/{inv['id']}/corrections", json=fixed)
    assert response.status_code == 202, response.json
    assert (response.json["step"], response.json["revision"]) == (5, 2)
    corrected = area.events()[-1]
    assert corrected["type"] == "org.ladder.involvement.corrected"
    assert corrected["data"]["involvement_id"] == inv["id"]
    assert corrected["data"]["step"] == 5 and corrected["data"]["pseudonym"] == inv["pseudonym"]
    assert area.get(f"/v1/involvements/{inv['id']}").json["step"] == 5


def test_a_withdrawal_is_an_event_and_ends_changes(area: AreaClient) -> None:
    activity_id = area.activity()
    inv = area.post(f"/v1/{PATHS[area.area]}/{activity_id}/involvements",
                    json=involvement(area.area)).json
    response = area.post(f"/v1/involvements/{inv['id']}/withdrawal",
                         json={"reason": "recorded_in_error"})
    assert response.status_code == 202 and response.json["status"] == "withdrawn"
    withdrawn = area.events()[-1]
    assert withdrawn["type"] == "org.ladder.involvement.withdrawn"
    assert withdrawn["data"]["reason"] == "recorded_in_error"
    before = area.contents()
    again = area.post(f"/v1/involvements/{inv['id']}/withdrawal", json={"reason": "duplicate"})
    assert again.status_code == 409
    fixed = {k: v for k, v in involvement(area.area).items() if k != "citizen_ref"}
    assert area.post(f"/v1/involvements/{inv['id']}/corrections", json=fixed).status_code == 409
    assert area.contents() == before


def test_activities_are_updated_and_cancelled_by_events(area: AreaClient) -> None:
    chosen = new_id("EXT-")
    seen = len(area.events())
    activity_id = area.activity(id=chosen)
    assert activity_id == chosen
    assert area.post(f"/v1/{PATHS[area.area]}", json={**ACTIVITIES[area.area], "id": chosen}
                     ).status_code == 409
    updated = area.patch(f"/v1/{PATHS[area.area]}/{chosen}", json={"org_unit": "west"})
    assert updated.status_code == 202 and updated.json["org_unit"] == "west"
    assert updated.json["revision"] == 2
    cancelled = area.post(f"/v1/{PATHS[area.area]}/{chosen}/cancellation")
    assert cancelled.status_code == 202 and cancelled.json["status"] == "cancelled"
    added = area.events()[seen:]
    assert [e["type"].rsplit(".", 1)[1] for e in added] == ["recorded", "updated", "cancelled"]
    assert added[1]["data"]["org_unit"] == "west"
    before = area.contents()
    on_cancelled = area.post(f"/v1/{PATHS[area.area]}/{chosen}/involvements",
                             json=involvement(area.area))
    assert on_cancelled.status_code == 409
    assert set(on_cancelled.json) == {"code", "status", "message", "errors"}
    assert area.post(f"/v1/{PATHS[area.area]}/{chosen}/cancellation").status_code == 409
    assert area.contents() == before


@pytest.mark.parametrize("name", AREAS)
def test_reads_list_and_page(make_app: MakeApp, name: str) -> None:
    """On a database of its own: the list's first page is its oldest activities."""
    area = set_up_area(name, make_app(name))
    ids = [area.activity() for _ in range(3)]
    page = area.get(f"/v1/{PATHS[area.area]}?limit=2").json
    assert [a["id"] for a in page["items"]] == ids[:2]
    rest = area.get(f"/v1/{PATHS[area.area]}?limit=2&after={page['next_after']}").json
    assert [a["id"] for a in rest["items"]] == ids[2:] and rest["next_after"] is None
    assert area.get(f"/v1/{PATHS[area.area]}/{ids[0]}").json["id"] == ids[0]
    area.post(f"/v1/{PATHS[area.area]}/{ids[0]}/involvements", json=involvement(area.area))
    involvements = area.get(f"/v1/{PATHS[area.area]}/{ids[0]}/involvements").json
    assert len(involvements["items"]) == 1 and involvements["next_after"] is None


def test_erasure_unlinks_the_citizen_and_keeps_the_counts(area: AreaClient) -> None:
    activity_id = area.activity()
    path = f"/v1/{PATHS[area.area]}/{activity_id}/involvements"
    citizen = new_id("CIT-")
    before = area.post(path, json=involvement(area.area, citizen)).json["pseudonym"]
    involvements = area.count("involvements")
    assert area.post("/v1/citizens/erasure", json={"citizen_ref": citizen}).status_code == 403
    erased = area.post("/v1/citizens/erasure", verb="admin", json={"citizen_ref": citizen})
    assert erased.status_code == 200, erased.json
    assert (erased.json["found"], erased.json["contributions_unlinked"]) == (True, 1)
    assert erased.json["areas"][area.area]["found"] is True
    assert area.count("involvements") == involvements
    after = area.post(path, json=involvement(area.area, citizen)).json["pseudonym"]
    assert after != before
    # Someone unknown, or already erased, is not an error: there was nothing to erase.
    unknown = area.post("/v1/citizens/erasure", verb="admin", json={"citizen_ref": new_id("CIT-")})
    assert unknown.status_code == 200 and unknown.json["found"] is False
    assert unknown.json["areas"][area.area]["contributions_unlinked"] == 0


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer ldr_not-a-token"}, 401),
     ({"Authorization": "Basic dXNlcjpwYXNz"}, 401)],
)
def test_no_valid_token_is_401_and_writes_nothing(
    area: AreaClient, headers: dict[str, str], status: int
) -> None:
    before = area.contents()
    response = area.http.post(f"/v1/{PATHS[area.area]}", json=ACTIVITIES[area.area],
                              headers=headers)
    assert response.status_code == status
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json["code"] == 401
    assert area.http.get(f"/v1/{PATHS[area.area]}", headers=headers).status_code == 401
    assert area.contents() == before


def test_the_wrong_scope_is_403_and_writes_nothing(area: AreaClient) -> None:
    before = area.contents()
    response = area.post(f"/v1/{PATHS[area.area]}", verb="read", json=ACTIVITIES[area.area])
    assert response.status_code == 403 and f"{area.area}:write" in response.json["message"]
    assert area.get(f"/v1/{PATHS[area.area]}", verb="write").status_code == 403
    assert area.contents() == before


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b'{"org_unit": "x"}', "text/plain", 415),
        (b'{"org_unit": "x"}', None, 415),
        (b'{"org_unit": "' + b"x" * 300_000 + b'"}', "application/json", 413),
        (b"[]", "application/json", 422),
    ],
)
def test_malformed_requests_get_the_common_error_and_write_nothing(
    area: AreaClient, body: bytes, content_type: str | None, status: int
) -> None:
    before = area.contents()
    headers = {"Content-Type": content_type} if content_type else {}
    response = area.post(f"/v1/{PATHS[area.area]}", data=body, headers=headers)
    assert response.status_code == status
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert response.json["code"] == status
    assert area.contents() == before


def test_invalid_fields_are_named_and_nothing_is_written(area: AreaClient) -> None:
    activity_id = area.activity()
    before = area.contents()
    bad = involvement(area.area, hours=-1, recognition="gold star", stage="tea")
    del bad["from_start"]
    response = area.post(f"/v1/{PATHS[area.area]}/{activity_id}/involvements", json=bad)
    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"hours", "recognition", "stage",
                                                    "from_start"}
    for field in ("hours", "recognition", "stage", "from_start"):
        assert field in response.json["message"]
    assert area.contents() == before


def test_unknown_resources_are_404(area: AreaClient) -> None:
    before = area.contents()
    assert area.post(f"/v1/{PATHS[area.area]}/nope/involvements",
                     json=involvement(area.area)).status_code == 404
    assert area.get(f"/v1/{PATHS[area.area]}/nope").status_code == 404
    assert area.get("/v1/involvements/nope").status_code == 404
    assert area.post("/v1/involvements/nope/withdrawal",
                     json={"reason": "duplicate"}).status_code == 404
    assert area.contents() == before


def test_openapi_documents_every_route(area: AreaClient) -> None:
    spec = area.http.get("/openapi.json").json
    path = PATHS[area.area]
    for route in (f"/v1/{path}", f"/v1/{path}/{{activity_id}}/involvements",
                  "/v1/involvements/{involvement_id}/corrections", "/v1/webhooks/{integration}",
                  "/v1/events", "/v1/citizens/erasure", "/healthz", "/readyz"):
        assert route in spec["paths"], route


def test_the_ids_an_area_makes_are_time_ordered_and_those_it_is_given_are_kept(
        area: AreaClient) -> None:
    """Every id the area makes (activities, involvements, their events) is a UUIDv7, in
    the order they were made, so that the areas' and the ledger's indexes on them grow
    at their end (shared/ids.py); an id the client chose is kept as it is."""
    seen = len(area.events())
    activity_id = area.activity()
    path = f"/v1/{PATHS[area.area]}/{activity_id}/involvements"
    involvements = [area.post(path, json=involvement(area.area)).json["id"] for _ in range(3)]
    events = area.events()[seen:]
    for made in (activity_id, *involvements, *(e["id"] for e in events)):
        assert uuid.UUID(made).version == 7, made
    assert involvements == sorted(involvements)
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    chosen = str(uuid.uuid4())
    assert area.activity(id=chosen) == chosen
