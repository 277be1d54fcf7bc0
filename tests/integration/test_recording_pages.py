"""The recording pages: a member of staff with a write token records an activity and a
citizen's involvement in forms, sees the step and the rubric row before saving, and the
same use cases as the API record them; bad answers are shown on the form and change
nothing; sessions and CSRF as the dashboard's."""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient

from shared.area.models import ApiToken
from shared.auth import create_token, revoke_token
from tests.integration.conftest import AreaClient
from tests.support.areas import ACTIVITIES, DATES, PATHS, involvement

TABLES = ("activities", "involvements", "outbox")


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "every form carries a CSRF token"
    return found.group(1)


def _hidden_id(page: str) -> str:
    found = re.search(r'name="id" value="([^"]+)"', page)
    assert found
    return found.group(1)


def sign_in(http: FlaskClient, token: str) -> Any:
    page = http.get("/record/sign-in").text
    return http.post("/record/sign-in", data={"csrf_token": _csrf(page), "token": token})


def _as_form(body: dict[str, Any]) -> dict[str, str]:
    """The API's body as a person fills in the form: dates in three boxes, yes or no."""
    form: dict[str, str] = {}
    for name, value in body.items():
        if isinstance(value, bool):
            form[name] = "yes" if value else "no"
        elif isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = date.fromisoformat(value)
            form.update({f"{name}-day": str(day.day), f"{name}-month": str(day.month),
                         f"{name}-year": str(day.year)})
        else:
            form[name] = str(value)
    return form


def _counts(area: AreaClient) -> dict[str, int]:
    return {table: area.count(table) for table in TABLES}


def _record_activity(area: AreaClient, http: FlaskClient, **form: str) -> Any:
    page = http.get("/record").text
    return http.post("/record/activities", data={
        "csrf_token": _csrf(page), "id": _hidden_id(page),
        **_as_form(ACTIVITIES[area.area]), **form})


def test_staff_record_an_activity_and_an_involvement_as_the_api_would(
        area: AreaClient) -> None:
    http = area.app.test_client()
    first = http.get("/record")
    assert first.status_code == 302 and "/record/sign-in?next=/record" in first.headers["Location"]
    signed = sign_in(http, area.tokens["write"])
    assert signed.status_code == 303 and signed.headers["Location"] == "/record"
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/record"):
        assert flag in signed.headers["Set-Cookie"]
    assert area.tokens["write"] not in signed.headers["Set-Cookie"]
    page = http.get("/record")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    # The activity's own fields, and the common ones, as the API's schema has them.
    for name in (*ACTIVITIES[area.area], "org_unit"):
        assert f'id="field-{name}"' in page.text, name
    assert 'name="occurred_at-day"' in page.text
    made = _record_activity(area, http, **{"occurred_at-day": "1", "occurred_at-month": "7",
                                           "occurred_at-year": "2026", "occurred_at-time": "14:30"})
    assert made.status_code == 303, made.text
    activity_id = made.headers["Location"].rsplit("/", 1)[1]
    shown = http.get(made.headers["Location"]).text
    assert "Recorded the" in shown and activity_id in shown
    # The API reads back what the form sent; the event is dated at 14:30 UK summer time.
    stored = area.get(f"/v1/{PATHS[area.area]}/{activity_id}").json
    assert {k: stored[k] for k in ACTIVITIES[area.area]} == ACTIVITIES[area.area]
    assert area.events()[-1]["time"] == "2026-07-01T13:30:00.000000Z"
    assert stored[DATES[area.area]] == ACTIVITIES[area.area][DATES[area.area]]

    # An involvement: checked first, nothing recorded; then saved.
    facts = involvement(area.area, citizen="CIT-7001")
    form = {"csrf_token": _csrf(shown), "id": _hidden_id(shown), **_as_form(facts)}
    before = _counts(area)
    checked = http.post(f"/record/activities/{activity_id}/involvements",
                        data={**form, "action": "check"})
    assert checked.status_code == 200
    expected = area.http.post("/v1/rubric/explanation", headers=area.headers("read"), json={
        k: v for k, v in facts.items() if k not in ("citizen_ref", "hours")}).json
    text = html.unescape(checked.text)
    assert f"Step {expected['step']}: {expected['rung']}" in text
    assert f"row {expected['row']['id']}: {expected['row']['rule']}" in text
    assert expected["row"]["source"]["quote"] in text
    assert _counts(area) == before, "checking records nothing"
    assert _hidden_id(checked.text) == form["id"], "the same form, to save"
    saved = http.post(f"/record/activities/{activity_id}/involvements",
                      data={**form, "action": "save"})
    assert saved.status_code == 303
    after = http.get(saved.headers["Location"]).text
    assert f"Recorded: step {expected['step']}" in html.unescape(after)
    [recorded] = area.get(f"/v1/{PATHS[area.area]}/{activity_id}/involvements").json["items"]
    assert (recorded["step"], recorded["rubric_rule"]) == (expected["step"],
                                                           expected["row"]["id"])
    assert area.events()[-1]["type"] == "org.ladder.involvement.recorded"
    assert "CIT-7001" not in after and recorded["pseudonym"] in after
    # The same form sent again (a double click, the back button) records nothing more.
    again = http.post(f"/record/activities/{activity_id}/involvements",
                      data={**form, "action": "save"})
    assert again.status_code == 409 and "already exists" in again.text
    assert len(area.get(f"/v1/{PATHS[area.area]}/{activity_id}/involvements").json[
        "items"]) == 1


@pytest.mark.parametrize(("changes", "field"), [
    ({"org_unit": ""}, "org_unit"),
    ({"org_unit": "x" * 257}, "org_unit"),
    ({"occurred_at-day": "31", "occurred_at-month": "2", "occurred_at-year": "2026"},
     "occurred_at"),
    ({"occurred_at-day": "1", "occurred_at-month": "1", "occurred_at-year": "2999"},
     "occurred_at"),
    ({"occurred_at-day": "1", "occurred_at-month": "1", "occurred_at-year": "2026",
      "occurred_at-time": "25:99"}, "occurred_at"),
    ({"occurred_at-day": "٣", "occurred_at-month": "1", "occurred_at-year": "2026"},
     "occurred_at"),
])
def test_a_bad_activity_is_shown_on_its_form_and_records_nothing(
        area: AreaClient, changes: dict[str, str], field: str) -> None:
    http = area.app.test_client()
    sign_in(http, area.tokens["write"])
    before = _counts(area)
    answer = _record_activity(area, http, **changes)
    assert answer.status_code in (400, 422), answer.status_code
    if answer.status_code == 422:
        assert "There is a problem" in answer.text
        assert f'href="#field-{field}"' in answer.text
    assert _counts(area) == before


@pytest.mark.parametrize("changes", [
    {"hours": "lots"}, {"hours": "1e400"}, {"hours": "-1"}, {"hours": "nan"},
    {"stage": "not-a-stage"}, {"from_start": "maybe"}, {"citizen_ref": "   "},
    {"decision_power": ""},
])
def test_a_bad_involvement_is_refused_before_the_check_and_records_nothing(
        area: AreaClient, changes: dict[str, str]) -> None:
    activity_id = area.activity()
    http = area.app.test_client()
    sign_in(http, area.tokens["write"])
    page = http.get(f"/record/activities/{activity_id}").text
    form = {"csrf_token": _csrf(page), "id": _hidden_id(page),
            **_as_form(involvement(area.area)), **changes}
    before = _counts(area)
    for action in ("check", "save"):
        answer = http.post(f"/record/activities/{activity_id}/involvements",
                           data={**form, "action": action})
        assert answer.status_code == 422, (action, answer.status_code)
        assert "There is a problem" in answer.text and "Step " not in answer.text
    assert _counts(area) == before


def test_only_a_live_write_token_signs_in_and_a_form_needs_its_csrf_token(
        area: AreaClient) -> None:
    http = area.app.test_client()
    for token, status in (("ldr_unknown", 401), (area.tokens["read"], 403)):
        assert sign_in(http, token).status_code == status
    assert http.get("/record").status_code == 302
    sign_in(http, area.tokens["write"])
    page = http.get("/record").text
    before = _counts(area)
    refused = http.post("/record/activities", data={
        "id": _hidden_id(page), **_as_form(ACTIVITIES[area.area])})
    assert refused.status_code == 400 and _counts(area) == before
    # A revoked token loses the session at once; so does a copied cookie after sign-out.
    db, pepper = area.app.extensions["db"], area.app.config["TOKEN_PEPPER"]
    other = create_token(db, ApiToken, pepper, "clerk", [f"{area.area}:write"])
    copy = area.app.test_client()
    sign_in(copy, other)
    assert copy.get("/record").status_code == 200
    revoke_token(db, ApiToken, name="clerk")
    assert copy.get("/record").status_code == 302
    cookie = http.get_cookie("ladder_record", path="/record")
    assert cookie is not None
    out = http.post("/record/sign-out", data={"csrf_token": _csrf(http.get("/record").text)})
    assert out.status_code == 303
    thief = area.app.test_client()
    thief.set_cookie("ladder_record", cookie.value, path="/record")
    assert thief.get("/record").status_code == 302
    # The API takes bearer tokens, never these cookies, and needs no CSRF token.
    assert area.post(f"/v1/{PATHS[area.area]}", json=ACTIVITIES[area.area]).status_code == 202


def test_an_unknown_activity_is_the_error_page(area: AreaClient) -> None:
    http = area.app.test_client()
    sign_in(http, area.tokens["write"])
    answer = http.get("/record/activities/nowhere")
    assert answer.status_code == 404 and "<h1>404" in answer.text
