"""What only one area has: training's courses, inspection's interviews, leadership's
meetings, token CLI."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from services.cli import main
from tests.integration.conftest import AreaClient, MakeApp
from tests.support.areas import ACTIVITIES, COURSE, involvement


@pytest.fixture
def training(make_app: MakeApp) -> AreaClient:
    """The training service, empty: no course yet."""
    return AreaClient("training", make_app("training"))


@pytest.fixture
def inspection(make_app: MakeApp) -> AreaClient:
    """The inspection service, empty."""
    return AreaClient("inspection", make_app("inspection"))


def test_a_session_belongs_to_a_course_that_exists(training: AreaClient) -> None:
    before = training.contents()
    response = training.post("/v1/sessions", json=ACTIVITIES["training"])
    assert response.status_code == 422
    assert "course_id" in response.json["errors"]["json"]
    assert training.contents() == before
    assert training.post("/v1/courses", json=COURSE).status_code == 201
    assert training.post("/v1/courses", json=COURSE).status_code == 409
    assert training.get("/v1/courses/SW-101").json["programme"] == "Social work degree"
    session = training.post("/v1/sessions", json=ACTIVITIES["training"])
    assert session.status_code == 202
    assert training.events()[0]["data"]["course_id"] == "SW-101"
    moved = training.patch(f"/v1/sessions/{session.json['id']}", json={"course_id": "nope"})
    assert moved.status_code == 422


def test_interviews_are_counted_only_at_the_interviews_stage(inspection: AreaClient) -> None:
    inspection_id = inspection.post("/v1/inspections", json=ACTIVITIES["inspection"]).json["id"]
    path = f"/v1/inspections/{inspection_id}/involvements"
    wrong = inspection.post(path, json=involvement("inspection", interviews_count=4))
    assert wrong.status_code == 422 and "interviews_count" in wrong.json["errors"]["json"]
    right = inspection.post(path, json=involvement("inspection", stage="interviews",
                                                   interviews_count=4))
    assert right.status_code == 202 and right.json["interviews_count"] == 4
    assert inspection.events()[-1]["data"]["interviews_count"] == 4


def test_an_inspection_rating_must_be_a_cqc_rating(inspection: AreaClient) -> None:
    response = inspection.post("/v1/inspections",
                               json={**ACTIVITIES["inspection"], "rating": "splendid"})
    assert response.status_code == 422 and "rating" in response.json["errors"]["json"]


@pytest.fixture
def leadership(make_app: MakeApp) -> AreaClient:
    """The leadership service, empty."""
    return AreaClient("leadership", make_app("leadership"))


def test_a_meeting_names_its_forum_and_what_kind_of_forum_it_is(
        leadership: AreaClient) -> None:
    before = leadership.contents()
    for wrong in ({"forum_type": "book_club"}, {"forum": ""}, {"held_on": "10/02/2026"}):
        response = leadership.post("/v1/meetings", json={**ACTIVITIES["leadership"], **wrong})
        assert list(response.json["errors"]["json"]) == list(wrong), response.json
    assert leadership.contents() == before
    meeting = leadership.post("/v1/meetings", json={
        **ACTIVITIES["leadership"], "forum": "Learning disability partnership board",
        "forum_type": "co_production_group"})
    assert meeting.status_code == 202, meeting.json
    [event] = leadership.events()
    assert (event["source"], event["data"]["kind"], event["data"]["forum_type"]) == (
        "/ladder/leadership", "meeting", "co_production_group")


def test_a_co_chair_from_the_terms_of_reference_is_there_from_the_start(
        leadership: AreaClient) -> None:
    meeting = leadership.post("/v1/meetings", json=ACTIVITIES["leadership"]).json["id"]
    made = leadership.post(f"/v1/meetings/{meeting}/involvements", json=involvement(
        "leadership", stage="terms_of_reference", role="co_chair", from_start=False)).json
    # Setting the terms of reference is the design stage: from the start, whatever is said.
    assert made["step"] == 7, made


def test_the_cli_creates_a_token_shown_once_and_stored_hashed(
    inspection: AreaClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = inspection.app.extensions["db"]
    monkeypatch.setenv("INSPECTION_DATABASE_URL", db.url)
    result = CliRunner().invoke(main, ["token", "create", "inspection", "--name", "qa-tool",
                                       "--scope", "read"])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("ldr_")
    listing = inspection.http.get("/v1/inspections",
                                  headers={"Authorization": f"Bearer {token}"})
    assert listing.status_code == 200
    written = inspection.http.post("/v1/inspections", json=ACTIVITIES["inspection"],
                                   headers={"Authorization": f"Bearer {token}"})
    assert written.status_code == 403
    with db.reading() as session:
        from shared.area.models import ApiToken

        stored = session.query(ApiToken).filter_by(name="qa-tool").one()
    assert token not in stored.token_hash and stored.scopes == "inspection:read"
    bad = CliRunner().invoke(main, ["token", "create", "inspection", "--name", "x",
                                    "--scope", "training:write"])
    assert bad.exit_code != 0 and "unknown scope" in bad.output
