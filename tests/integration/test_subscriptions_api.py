"""The subscriptions API: admins only, bad input refused with 422 and nothing written."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from services.ledger.models import Subscription
from services.ledger.webhooks import domain
from shared.envelope import INVOLVEMENT_RECORDED
from shared.networks import parse_networks
from shared.times import naive_utcnow
from tests.integration.conftest import INSPECT_GRANT, PURPOSE, Hooks, MakeApp
from tests.support import events as ev
from tests.support.receiver import Receiver


def test_a_subscription_shows_its_secret_once(hooks: Hooks) -> None:
    created = hooks.subscribe(description="Board reporting", areas=["recruitment"],
                              event_types=[INVOLVEMENT_RECORDED])
    assert created["secret"].startswith("whsec_")
    assert created["id"].startswith("sub_")
    assert (created["enabled"], created["description"]) == (True, "Board reporting")
    assert (created["areas"], created["event_types"]) == (["recruitment"], [INVOLVEMENT_RECORDED])
    listed = hooks.call("GET", "/v1/subscriptions").json["items"]
    assert [s["id"] for s in listed] == [created["id"]]
    one = hooks.subscription(created["id"])
    assert "secret" not in one and "secret" not in listed[0]
    assert one["url"] == created["url"]


def test_only_an_admin_token_manages_subscriptions(hooks: Hooks) -> None:
    body = {"url": hooks.receiver.url()}
    assert hooks.http.post("/v1/subscriptions", json=body).status_code == 401
    assert hooks.call("POST", "/v1/subscriptions", hooks.auditor, json=body).status_code == 403
    assert hooks.call("GET", "/v1/subscriptions", hooks.auditor).status_code == 403
    assert hooks.call("GET", "/v1/subscriptions").json["items"] == []


INVALID_URLS = [
    ("not a url", "spaces"),
    ("hooks.example.org/ladder", "scheme"),
    ("ftp://hooks.example.org/ladder", "scheme must be http or https, not 'ftp'"),
    ("file:///etc/passwd", "scheme"),
    ("javascript:alert(1)", "scheme"),
    ("https://", "no host"),
    ("https://user:pw@hooks.example.org/", "Credentials"),
    ("https://hooks.example.org:99999/", "Not a valid URL"),
    ("https://hooks.example.org/#top", "fragment"),
]


def test_an_invalid_url_or_a_scheme_other_than_http_is_422(hooks: Hooks) -> None:
    for url, reason in INVALID_URLS:
        response = hooks.call("POST", "/v1/subscriptions", json={"url": url})
        assert response.status_code == 422, (url, response.json)
        assert reason in response.json["errors"]["json"]["url"][0], (url, response.json)
    assert hooks.call("GET", "/v1/subscriptions").json["items"] == []


PRIVATE_URLS = [
    ("http://127.0.0.1:8000/hook", "127.0.0.1 is a loopback address"),
    ("http://localhost:8000/hook", "localhost resolves to"),
    ("http://10.1.2.3/hook", "10.1.2.3 is a private address"),
    ("http://192.168.0.10/hook", "a private address"),
    ("http://172.16.5.4/hook", "a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://[::1]/hook", "::1 is a loopback address"),
    ("http://[fe80::1]/hook", "a link-local address"),
    ("http://[fd00::1]/hook", "a private address"),
    ("http://[::ffff:10.0.0.1]/hook", "is a private address: it carries 10.0.0.1"),
    ("http://0.0.0.0/hook", "an unspecified address"),
    ("http://2130706433/hook", "2130706433 resolves to 127.0.0.1"),  # 127.0.0.1 in decimal
    ("http://100.64.0.1/hook", "not a public address"),
    ("http://224.0.0.1/hook", "a multicast address"),
]


def test_a_url_that_resolves_to_a_private_address_is_422_with_the_reason(
    make_app: MakeApp, receiver: Receiver
) -> None:
    guarded = Hooks(make_app("ledger"), receiver)  # no networks allowed
    for url, why in PRIVATE_URLS:
        response = guarded.call("POST", "/v1/subscriptions", json={"url": url})
        assert response.status_code == 422, (url, response.json)
        assert why in response.json["message"], (url, response.json)
        assert "LADDER_WEBHOOK_ALLOWED_NETWORKS" in response.json["message"]
        assert why in response.json["errors"]["json"]["url"][0]
    assert guarded.call("GET", "/v1/subscriptions").json["items"] == []


def test_an_allowed_network_lets_a_private_address_through_and_no_other(
    make_app: MakeApp, receiver: Receiver
) -> None:
    app = make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=parse_networks("10.1.0.0/16"))
    hooks = Hooks(app, receiver)
    assert hooks.call("POST", "/v1/subscriptions", json={
        "url": "http://10.1.2.3/hook", "enabled": False}).status_code == 201
    assert hooks.call("POST", "/v1/subscriptions", json={
        "url": "http://10.2.0.1/hook", "enabled": False}).status_code == 422


BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"event_types": ["org.ladder.involvement.exploded"]}, "event_types"),
    ({"event_types": ["entries.appended"]}, "event_types"),
    ({"areas": ["gardening"]}, "areas"),
    ({"alerts": [{"area": "recruitment", "measure": "happiness", "operator": "below",
                  "threshold": 0.5}]}, "alerts"),
    ({"alerts": [{"area": "recruitment", "measure": "coverage", "operator": "under",
                  "threshold": 0.5}]}, "alerts"),
    ({"alerts": [{"area": "recruitment", "measure": "coverage", "operator": "below"}]},
     "alerts"),
    ({"description": "x" * 501}, "description"),
    ({"grant": "admin"}, "grant"),
    ({"grant": "inspect"}, "purpose"),
]


def test_an_unknown_event_type_area_or_measure_is_422(hooks: Hooks) -> None:
    for body, field in BAD_FIELDS:
        response = hooks.call("POST", "/v1/subscriptions",
                              json={"url": hooks.receiver.url(), **body})
        assert response.status_code == 422, (body, response.json)
        assert field in response.json["errors"]["json"], (body, response.json)
    assert hooks.call("GET", "/v1/subscriptions").json["items"] == []


def test_a_subscription_is_granted_read_unless_an_admin_grants_inspect_with_a_purpose(
        hooks: Hooks) -> None:
    read = hooks.subscribe("/read")
    assert (read["grant"], read["purpose"]) == ("read", None)
    inspect = hooks.subscribe("/inspect", **INSPECT_GRANT)
    assert (inspect["grant"], inspect["purpose"]) == ("inspect", PURPOSE)
    path = f"/v1/subscriptions/{read['id']}"
    refused = hooks.call("PATCH", path, json={"grant": "inspect"})
    assert refused.status_code == 422 and list(refused.json["errors"]["json"]) == ["purpose"]
    assert hooks.subscription(read["id"])["grant"] == "read"
    granted = hooks.call("PATCH", path, json=INSPECT_GRANT).json
    assert (granted["grant"], granted["purpose"]) == ("inspect", PURPOSE)
    # A purpose stated before still stands; a new one replaces it.
    again = hooks.call("PATCH", path, json={"grant": "read"}).json
    assert hooks.call("PATCH", path, json={"grant": "inspect"}).json["purpose"] == PURPOSE
    restated = hooks.call("PATCH", path, json={"purpose": "DSA-2027-01"}).json
    assert (again["grant"], restated["purpose"]) == ("read", "DSA-2027-01")
    listed = {s["id"]: s["grant"] for s in hooks.call("GET", "/v1/subscriptions").json["items"]}
    assert listed == {read["id"]: "inspect", inspect["id"]: "inspect"}


# A purpose as a client's JSON spells it (None: none at all), and why it is refused.
HOSTILE_PURPOSES = [
    (None, "must state its purpose"), ('""', "Length must be between 1 and 500"),
    ('"   "', "not only spaces"), (f'"{"x" * 501}"', "Length must be between 1 and 500"),
    (r'"CQC\u0000DSA-2026-14"', "NUL"), (r'"CQC \ud800"', "lone surrogate"),
    ("null", "Field may not be null"),
]


@pytest.mark.parametrize(("purpose", "why"), HOSTILE_PURPOSES)
def test_an_inspect_grant_without_a_storable_purpose_is_422_naming_it_and_writes_nothing(
        hooks: Hooks, purpose: str | None, why: str) -> None:
    stated = f', "purpose": {purpose}' if purpose is not None else ""
    headers = {"Authorization": f"Bearer {hooks.admin}", "Content-Type": "application/json"}
    created = hooks.http.post("/v1/subscriptions", headers=headers, data=(
        f'{{"url": "{hooks.receiver.url()}", "grant": "inspect"{stated}}}'))
    sub = hooks.subscribe()
    changed = hooks.http.patch(f"/v1/subscriptions/{sub['id']}", headers=headers,
                               data=f'{{"grant": "inspect"{stated}}}')
    for response in (created, changed):
        assert response.status_code == 422, response.json
        assert set(response.json) == {"code", "status", "message", "errors"}
        assert list(response.json["errors"]["json"]) == ["purpose"]
        assert why in str(response.json["errors"]["json"]["purpose"])
    assert [s["id"] for s in hooks.call("GET", "/v1/subscriptions").json["items"]] == [sub["id"]]
    # Unchanged, updated_at included.
    assert hooks.subscription(sub["id"]) == {k: v for k, v in sub.items() if k != "secret"}


def test_every_entry_alert_and_operational_type_is_a_valid_filter(hooks: Hooks) -> None:
    created = hooks.subscribe(event_types=list(domain.FILTER_TYPES))
    assert created["event_types"] == sorted(domain.FILTER_TYPES)


def test_a_subscription_can_be_changed_disabled_enabled_and_deleted(hooks: Hooks) -> None:
    sub = hooks.subscribe(alerts=[{"area": "training", "measure": "index", "operator": "below",
                                   "threshold": 40}])
    path = f"/v1/subscriptions/{sub['id']}"
    changed = hooks.call("PATCH", path, json={"description": "LMS", "areas": ["training"],
                                              "enabled": False}).json
    assert (changed["description"], changed["areas"]) == ("LMS", ["training"])
    assert (changed["enabled"], changed["disabled_reason"]) == (False, "manual")
    assert changed["alerts"] == sub["alerts"]  # untouched when not given
    refused = hooks.call("PATCH", path, json={"url": "gopher://x"})
    assert refused.status_code == 422
    enabled = hooks.call("PATCH", path, json={"enabled": True}).json
    assert (enabled["enabled"], enabled["disabled_reason"]) == (True, None)
    assert hooks.call("PATCH", "/v1/subscriptions/sub_nope", json={}).status_code == 404
    assert hooks.call("DELETE", path).status_code == 204
    assert hooks.call("GET", path).status_code == 404
    assert hooks.call("DELETE", path).status_code == 404


def test_enabling_checks_the_url_again(make_app: MakeApp, receiver: Receiver) -> None:
    app = make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=parse_networks("127.0.0.0/8"))
    hooks = Hooks(app, receiver)
    sub = hooks.subscribe(enabled=False)
    app.config["WEBHOOK_ALLOWED_NETWORKS"] = ()  # the operator closed the exception since
    response = hooks.call("PATCH", f"/v1/subscriptions/{sub['id']}", json={"enabled": True})
    assert response.status_code == 422
    assert "loopback" in response.json["message"]
    assert hooks.subscription(sub["id"])["enabled"] is False


def test_the_subscriptions_api_is_in_the_openapi_document(hooks: Hooks) -> None:
    spec = hooks.http.get("/openapi.json").json
    for path in ("/v1/subscriptions", "/v1/subscriptions/{sub_id}",
                 "/v1/subscriptions/{sub_id}/secret/rotation",
                 "/v1/subscriptions/{sub_id}/messages",
                 "/v1/subscriptions/{sub_id}/messages/{message_id}",
                 "/v1/subscriptions/{sub_id}/messages/{message_id}/resend",
                 "/v1/subscriptions/{sub_id}/attempts", "/v1/subscriptions/{sub_id}/recovery"):
        assert path in spec["paths"], path
    schema = spec["components"]["schemas"]["SubscriptionIn"]
    assert set(schema["properties"]["event_types"]["items"]["enum"]) == set(domain.FILTER_TYPES)
    assert spec["paths"]["/v1/subscriptions"]["post"]["security"] == [{"bearerAuth": []}]


def _rotate(hooks: Hooks, sub_id: str, **kwargs: Any) -> Any:
    return hooks.call("POST", f"/v1/subscriptions/{sub_id}/secret/rotation", **kwargs)


def test_a_rotation_takes_its_overlap_from_the_body_or_the_query(hooks: Hooks) -> None:
    sub = hooks.subscribe()
    for kwargs in ({"json": {"overlap_seconds": 60}}, {"query_string": {"overlap_seconds": 60}},
                   {"json": {"overlap_seconds": 60}, "query_string": {"overlap_seconds": 60}}):
        rotated = _rotate(hooks, sub["id"], **kwargs)
        assert rotated.status_code == 200, (kwargs, rotated.json)
        expires = datetime.fromisoformat(rotated.json["previous_secret_expires_at"])
        updated = datetime.fromisoformat(rotated.json["updated_at"])
        assert expires - updated == timedelta(seconds=60), kwargs


def test_a_rotation_with_no_body_or_an_empty_one_keeps_the_default_overlap(
        hooks: Hooks) -> None:
    sub = hooks.subscribe()
    default = timedelta(seconds=hooks.app.config["WEBHOOK_SECRET_OVERLAP"])
    for kwargs in ({}, {"json": {}}, {"data": b"", "content_type": "application/json"}):
        rotated = _rotate(hooks, sub["id"], **kwargs)
        assert rotated.status_code == 200, (kwargs, rotated.json)
        expires = datetime.fromisoformat(rotated.json["previous_secret_expires_at"])
        assert expires - datetime.fromisoformat(rotated.json["updated_at"]) == default


@pytest.mark.parametrize("kwargs", [
    {"json": {"overlap_seconds": 60}, "query_string": {"overlap_seconds": 61}},
    {"json": {"overlap_seconds": 60, "grace": 5}},
    {"json": {"overlap_seconds": "60"}},
    {"json": {"overlap_seconds": 60.5}},
    {"json": {"overlap_seconds": True}},
    {"json": {"overlap_seconds": -1}},
    {"json": {"overlap_seconds": 7 * 86400 + 1}},
    {"json": [60]},
    {"query_string": {"overlap_seconds": "soon"}},
], ids=["both-differ", "unknown-field", "string", "fraction", "boolean", "negative",
        "over-a-week", "not-an-object", "bad-query"])
def test_a_bad_rotation_is_422_and_keeps_the_secret(hooks: Hooks, kwargs: dict[str, Any]) -> None:
    sub = hooks.subscribe()
    with hooks.db.reading() as session:
        before = session.scalars(sa.select(Subscription.secret)).one()
    response = _rotate(hooks, sub["id"], **kwargs)
    assert response.status_code == 422, response.json
    assert set(response.json) == {"code", "status", "message", "errors"}
    with hooks.db.reading() as session:
        assert session.scalars(sa.select(Subscription.secret)).one() == before


def test_a_rotation_body_of_another_content_type_is_415(hooks: Hooks) -> None:
    sub = hooks.subscribe()
    response = _rotate(hooks, sub["id"], data=b"overlap_seconds=0", content_type="text/plain")
    assert response.status_code == 415, response.json


def test_lists_answer_items_and_a_cursor(hooks: Hooks) -> None:
    first, second = hooks.subscribe("/a"), hooks.subscribe("/b")
    listed = hooks.call("GET", "/v1/subscriptions").json
    assert [s["id"] for s in listed["items"]] == [first["id"], second["id"]]
    assert listed["next_after"] is None
    for _ in range(3):
        hooks.append([ev.activity()])
    path = f"/v1/subscriptions/{first['id']}/messages"
    page = hooks.call("GET", path, query_string={"limit": 2}).json
    rest = hooks.call("GET", path, query_string={"limit": 2, "after": page["next_after"]}).json
    assert page["next_after"] == page["items"][-1]["id"] and rest["next_after"] is None
    assert len(page["items"] + rest["items"]) == 3


def test_message_and_recovery_times_take_plain_dates(hooks: Hooks) -> None:
    sub = hooks.subscribe()
    hooks.append([ev.activity()])
    today = naive_utcnow().date()
    path = f"/v1/subscriptions/{sub['id']}/messages"
    assert len(hooks.messages(sub["id"], since=today.isoformat())) == 1
    assert hooks.messages(sub["id"], since=(today + timedelta(days=1)).isoformat()) == []
    bad = hooks.call("GET", path, query_string={"since": "2026-02-30"})
    assert bad.status_code == 422 and "since" in bad.json["errors"]["query"]
    recovery = f"/v1/subscriptions/{sub['id']}/recovery"
    # until a plain date is the end of that day, so since=until=today is all of today.
    day = today.isoformat()
    assert hooks.call("POST", recovery, json={"since": day, "until": day}).status_code == 202
    refused = hooks.call("POST", recovery, json={"since": day, "until": "2000-01-01"})
    assert refused.status_code == 422 and "until" in refused.json["errors"]["json"]
