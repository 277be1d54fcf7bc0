"""The subscriber portal: an admin manages webhooks out in the dashboard, through the
same use cases as /v1/subscriptions, against a real receiver."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.integration.conftest import Hooks
from tests.integration.test_dashboard import _csrf, sign_in
from tests.support import events as ev


def _admin(hooks: Hooks) -> FlaskClient:
    http = hooks.app.test_client()
    sign_in(http, hooks.admin)
    return http


def _post(http: FlaskClient, page: str, path: str, **form: Any) -> Any:
    return http.post(path, data={"csrf_token": _csrf(http.get(page).text), **form})


def test_an_admin_subscribes_a_system_and_its_secret_is_shown_once(hooks: Hooks) -> None:
    http = _admin(hooks)
    page = "/dashboard/subscriptions"
    listed = http.get(page).text
    assert "Webhooks out" in listed and "None yet." in listed
    made = _post(http, page, page, url=hooks.receiver.url("/portal"), grant="read",
                 areas=["recruitment", "training"], description="board pack")
    assert made.status_code == 201
    secret = re.search(r"<p class=\"secret\" data-secret>(whsec_[^<]+)</p>", made.text)
    assert secret, "the secret, this once"
    hooks.receiver.trust("/portal", secret.group(1))
    [sub] = hooks.call("GET", "/v1/subscriptions").json["items"]
    assert (sub["url"], sub["areas"], sub["description"]) == (
        hooks.receiver.url("/portal"), ["recruitment", "training"], "board pack")
    assert "secret" not in sub
    assert secret.group(1) not in http.get(page).text
    assert secret.group(1) not in http.get(f"{page}/{sub['id']}").text
    # What it hears is delivered and verified with that secret, and logged on its page.
    [message] = hooks.append([ev.activity("recruitment", "east")]).messages
    assert hooks.deliver(message).outcome == "succeeded"
    one = http.get(f"{page}/{sub['id']}").text
    assert message in one and "succeeded" in one
    detail = http.get(f"{page}/{sub['id']}/messages/{message}")
    assert detail.status_code == 200 and "<td>200</td><td>succeeded</td>" in detail.text
    resent = _post(http, f"{page}/{sub['id']}/messages/{message}",
                   f"{page}/{sub['id']}/messages/{message}/resend")
    assert resent.status_code == 303
    assert hooks.message(sub["id"], message)["status"] == "pending"
    assert "goes out again" in http.get(resent.headers["Location"]).text


def test_pause_resume_rotate_recover_and_delete(hooks: Hooks) -> None:
    sub = hooks.subscribe("/managed")
    http = _admin(hooks)
    page = f"/dashboard/subscriptions/{sub['id']}"
    paused = _post(http, page, f"{page}/enabled", enabled="no")
    assert paused.status_code == 303 and not hooks.subscription(sub["id"])["enabled"]
    assert "Paused" in http.get(page).text
    assert _post(http, page, f"{page}/enabled", enabled="yes").status_code == 303
    assert hooks.subscription(sub["id"])["enabled"]
    rotated = _post(http, page, f"{page}/rotation")
    new = re.search(r"data-secret>(whsec_[^<]+)<", rotated.text)
    assert rotated.status_code == 200 and new and new.group(1) != sub["secret"]
    assert hooks.subscription(sub["id"])["previous_secret_expires_at"] is not None
    recovered = _post(http, page, f"{page}/recovery", since="2026-01-01")
    assert recovered.status_code == 303
    assert "0 failed messages since 2026-01-01 go out again" in html.unescape(
        http.get(page).text)
    for since in ("yesterday", "2999-01-01", "1999-12-31", "2026-02-30"):
        assert _post(http, page, f"{page}/recovery", since=since).status_code == 422
    # Deleting needs the box ticked.
    assert _post(http, page, f"{page}/deletion").status_code == 422
    assert hooks.subscription(sub["id"])["id"] == sub["id"]
    gone = _post(http, page, f"{page}/deletion", confirm="yes")
    assert gone.status_code == 303
    assert hooks.call("GET", f"/v1/subscriptions/{sub['id']}").status_code == 404
    assert http.get(page).status_code == 404


@pytest.mark.parametrize(("form", "status", "problem"), [
    ({"url": ""}, 422, "url"),
    ({"url": "http://169.254.169.254/latest"}, 422, "link-local"),
    ({"url": "ftp://example.org/"}, 422, "url"),
    ({"grant": "inspect"}, 422, "purpose"),
    ({"grant": "everything"}, 422, "grant"),
    ({"areas": ["elsewhere"]}, 422, "areas"),
    ({"event_types": ["org.ladder.nothing"]}, 422, "event_types"),
])
def test_a_bad_subscription_is_shown_on_the_form_and_makes_nothing(
        hooks: Hooks, form: dict[str, Any], status: int, problem: str) -> None:
    http = _admin(hooks)
    page = "/dashboard/subscriptions"
    answer = _post(http, page, page, **{"url": hooks.receiver.url("/x"), **form})
    assert answer.status_code == status
    assert problem in html.unescape(answer.text)
    assert hooks.call("GET", "/v1/subscriptions").json["items"] == []


def test_only_an_admin_reaches_the_portal(hooks: Hooks) -> None:
    sub = hooks.subscribe("/kept")
    for token in (hooks.auditor, hooks.inspector):
        http = hooks.app.test_client()
        sign_in(http, token)
        assert "Webhooks out" not in http.get("/dashboard").text
        for path in ("/dashboard/subscriptions", f"/dashboard/subscriptions/{sub['id']}"):
            assert http.get(path).status_code == 403
        refused = _post(http, "/dashboard", f"/dashboard/subscriptions/{sub['id']}/deletion",
                        confirm="yes")
        assert refused.status_code == 403
    assert hooks.subscription(sub["id"])["id"] == sub["id"]
    # A form without its CSRF token changes nothing, even an admin's.
    http = _admin(hooks)
    assert http.post(f"/dashboard/subscriptions/{sub['id']}/deletion",
                     data={"confirm": "yes"}).status_code == 400
    assert hooks.subscription(sub["id"])["id"] == sub["id"]
