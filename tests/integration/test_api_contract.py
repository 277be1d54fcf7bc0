"""One convention across the four services' HTTP APIs, read from their OpenAPI documents.

Under ``/v1``: every list answers ``{"items": [...], "next_after": <cursor or null>}``;
every time in an answer is a ``date-time``, written as the ledger's leaves write it
(``2026-03-01T09:30:00.000000Z``); and no query argument takes a date-time without
taking a plain date too. The checks walk the documents, so an endpoint added later
is held to them without being named here. ``/ct/v1`` keeps RFC 6962's shapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from importlib import import_module
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from services.ledger import releases
from services.ledger.models import ApiToken as LedgerToken
from shared.area.models import ApiToken as AreaToken
from shared.auth import SCOPE_VERBS, create_token
from tests.integration.conftest import LOCAL, Hooks, MakeApp
from tests.support import appending
from tests.support import events as ev
from tests.support.areas import ACTIVITIES, AREAS, COURSE, PATHS, SETUP, involvement
from tests.support.receiver import Receiver

SERVICES = ("ledger", *AREAS)
LEAF_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
# A property named like a time, or described as one.
TIME_NAME = re.compile(r"(^|_)(at|since|until|time)$")
TIME_WORDS = re.compile(r"\b(time|timestamp|date-time|RFC 3339)\b", re.IGNORECASE)
# Answers that hold arrays but are one thing, not a collection: a report of figures.
REPORTS = {("ledger", "/v1/metrics"): "the measures over a range, one report"}
CURSOR_ARGS = {"after", "limit"}

Spec = dict[str, Any]


def _spec(app: Flask) -> Spec:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json)


def _fresh_app(name: str) -> Flask:
    return import_module(f"services.{name}").create_app({"DATABASE_URL": "sqlite://",
                                                         "TESTING": True})


@pytest.fixture(scope="module")
def specs() -> dict[str, Spec]:
    """Each service's OpenAPI document; building it needs no database."""
    built = {}
    for name in SERVICES:
        app = _fresh_app(name)
        built[name] = _spec(app)
        app.extensions["db"].dispose()
    return built


@pytest.mark.parametrize("name", [*SERVICES, "witness"])
def test_the_document_has_every_operation_the_app_serves(name: str) -> None:
    """The document is written when first read (shared/openapi.py): each route of every
    API blueprint is in it, with each of its methods, however the blueprints were
    registered."""
    app = _fresh_app(name)
    documented = app.extensions["flask-smorest"]["blp_name_to_api"]
    served = {(re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule), method.lower())
              for rule in app.url_map.iter_rules()
              if rule.endpoint.split(".")[0] in documented
              for method in rule.methods or () if method not in ("HEAD", "OPTIONS")}
    paths = _spec(app)["paths"]
    in_document = {(path, method) for path, item in paths.items() for method in item
                   if method != "parameters"}
    assert served and served == in_document
    app.extensions["db"].dispose()


def test_readers_at_once_get_the_whole_document_once() -> None:
    """Eight threads of one process read a fresh app's document at the same moment, as
    the ledger's gunicorn threads may: each gets all of it, and it is written once (a
    path documented twice would list its operations twice, or fail)."""
    first, app = _fresh_app("ledger"), _fresh_app("ledger")
    expected = _spec(first)
    with ThreadPoolExecutor(8) as pool:
        read = list(pool.map(lambda _: _spec(app), range(8)))
    assert all(spec == expected for spec in read)
    for built in (first, app):
        built.extensions["db"].dispose()


def _resolve(spec: Spec, schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _operations(spec: Spec) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def _answers(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(status, schema) of each 2xx JSON answer."""
    for status, response in operation.get("responses", {}).items():
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if status.startswith("2") and schema is not None:
            yield status, schema


def _query_args(item: dict[str, Any], operation: dict[str, Any]) -> dict[str, dict[str, Any]]:
    parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
    return {p["name"]: p for p in parameters if p["in"] == "query"}


def _envelope_problems(spec: Spec, schema: dict[str, Any]) -> list[str]:
    schema = _resolve(spec, schema)
    if schema.get("type") == "array":
        return ["a bare array: answer {items, next_after}"]
    properties = schema.get("properties", {})
    problems = []
    if set(properties) != {"items", "next_after"}:
        problems.append(f"properties {sorted(properties)}, not exactly [items, next_after]")
    if properties.get("items", {}).get("type") != "array":
        problems.append("items is not an array")
    if "items" not in schema.get("required", []):
        problems.append("items is not required")
    cursor = properties.get("next_after", {})
    if cursor.get("type") not in ("integer", "string") or not cursor.get("nullable"):
        problems.append("next_after is not a nullable integer (or id)")
    return problems


def _is_list(spec: Spec, service: str, path: str, method: str, args: dict[str, Any],
             schema: dict[str, Any]) -> bool:
    """Whether an answer is a collection: an array, a page, or a GET of a collection
    path (not ending in an id) whose answer holds an array, unless it is a report."""
    schema = _resolve(spec, schema)
    if schema.get("type") == "array":
        return True
    properties = schema.get("properties", {})
    if {"items", "next_after"} & set(properties) or CURSOR_ARGS & set(args):
        return True
    holds_array = any(_resolve(spec, p).get("type") == "array" for p in properties.values())
    collection = method == "get" and not path.endswith("}")
    return collection and holds_array and (service, path) not in REPORTS


def test_every_list_answers_items_and_next_after(specs: dict[str, Spec]) -> None:
    problems, lists = [], 0
    for service, spec in specs.items():
        for path, method, operation in _operations(spec):
            args = _query_args(spec["paths"][path], operation)
            for status, schema in _answers(operation):
                if not _is_list(spec, service, path, method, args, schema):
                    continue
                lists += 1
                problems += [f"{service} {method.upper()} {path} {status}: {p}"
                             for p in _envelope_problems(spec, schema)]
    assert not problems, "\n".join(problems)
    # entries, access log, tokens, rejected, subscriptions, messages, attempts; and
    # per area its activities, involvements and held events; training's courses.
    assert lists >= 7 + 3 * 3 + 1


def test_lists_that_grow_without_bound_take_a_cursor(specs: dict[str, Spec]) -> None:
    unbounded = {("ledger", "/v1/entries"), ("ledger", "/v1/access-log"),
                 ("ledger", "/v1/rejected"), ("ledger", "/v1/subscriptions/{sub_id}/messages"),
                 ("ledger", "/v1/subscriptions/{sub_id}/attempts"), ("ledger", "/v1/releases"),
                 *((area, f"/v1/{PATHS[area]}") for area in PATHS),
                 *((area, "/v1/impacts") for area in PATHS)}
    for service, path in unbounded:
        operation = specs[service]["paths"][path]["get"]
        args = _query_args(specs[service]["paths"][path], operation)
        assert set(args) >= CURSOR_ARGS, (service, path, sorted(args))


def _time_properties(spec: Spec, schema: dict[str, Any], where: str,
                     seen: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, property) of every property, however deeply nested, that marks a time."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        seen = seen | {name}
    schema = _resolve(spec, schema)
    for key in ("allOf", "anyOf", "oneOf"):
        for part in schema.get(key, []):
            yield from _time_properties(spec, part, where, seen)
    if "items" in schema:
        yield from _time_properties(spec, schema["items"], where + "[]", seen)
    for name, prop in schema.get("properties", {}).items():
        resolved = _resolve(spec, prop)
        if resolved.get("type") == "string" and (
                TIME_NAME.search(name) or TIME_WORDS.search(resolved.get("description", ""))):
            yield f"{where}.{name}", resolved
        yield from _time_properties(spec, prop, f"{where}.{name}", seen)


def test_every_time_in_an_answer_is_a_date_time(specs: dict[str, Spec]) -> None:
    problems, found = [], 0
    for service, spec in specs.items():
        for path, method, operation in _operations(spec):
            for status, schema in _answers(operation):
                where = f"{service} {method.upper()} {path} {status}"
                for name, prop in _time_properties(spec, schema, where, set()):
                    found += 1
                    if prop.get("format") != "date-time":
                        problems.append(f"{name}: format {prop.get('format')!r}")
    assert not problems, "\n".join(problems)
    assert found >= 15  # received_at, at, created_at, revoked_at, the webhooks' times...


def _takes_a_plain_date_too(schema: dict[str, Any]) -> bool:
    formats = {part.get("format") for part in schema.get("anyOf", [])}
    return schema.get("format") != "date-time" and (
        "date-time" not in formats or "date" in formats)


def test_no_argument_takes_a_date_time_without_a_plain_date(specs: dict[str, Spec]) -> None:
    problems, bounds = [], 0
    for service, spec in specs.items():
        for path, method, operation in _operations(spec):
            where = f"{service} {method.upper()} {path}"
            for name, arg in _query_args(spec["paths"][path], operation).items():
                schema = arg.get("schema", {})
                bounds += "anyOf" in schema
                if not _takes_a_plain_date_too(schema):
                    problems.append(f"{where} ?{name}")
                elif "anyOf" in schema and "plain date" not in arg.get("description", ""):
                    problems.append(f"{where} ?{name}: says not what a plain date means")
            body = operation.get("requestBody", {}).get("content", {}).get(
                "application/json", {}).get("schema")
            if body is None:
                continue
            # A range's bounds in a body too; `occurred_at` is an instant, not a range.
            for name, prop in _resolve(spec, body).get("properties", {}).items():
                if name in ("since", "until", "from", "to") and not _takes_a_plain_date_too(
                        _resolve(spec, prop)):
                    problems.append(f"{where} body {name}")
    assert not problems, "\n".join(problems)
    # entries' and exports' from and to, the access log's since, messages' since.
    assert bounds >= 6


# -- the live apps --------------------------------------------------------------------


class Walker:
    """Reads answers against their schemas and collects every date-time value."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.times: list[tuple[str, Any]] = []

    def schema(self, path: str, method: str, status: int) -> dict[str, Any]:
        responses = self.spec["paths"][path][method]["responses"]
        return dict(responses[str(status)]["content"]["application/json"]["schema"])

    def walk(self, schema: dict[str, Any], value: Any, where: str) -> None:
        schema = _resolve(self.spec, schema)
        if value is None:
            return
        if schema.get("format") == "date-time":
            self.times.append((where, value))
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                self.walk(schema["items"], item, f"{where}[{i}]")
        if isinstance(value, dict):
            for name, prop in schema.get("properties", {}).items():
                if name in value:
                    self.walk(prop, value[name], f"{where}.{name}")

    def answer(self, path: str, method: str, response: Any) -> Any:
        """Check a response against its operation's schema; return its JSON."""
        assert response.status_code < 300, (method, path, response.status_code, response.json)
        if response.status_code != 204:
            schema = self.schema(path, method, response.status_code)
            if "next_after" in _resolve(self.spec, schema).get("properties", {}):
                assert set(response.json) == {"items", "next_after"}, (path, response.json)
            self.walk(schema, response.json, f"{method.upper()} {path}")
        return response.json

    def bad_times(self) -> list[tuple[str, Any]]:
        return [(w, v) for w, v in self.times
                if not (isinstance(v, str) and LEAF_TIME.match(v))]


class Live:
    """One app with a token of every scope, answering through a :class:`Walker`."""

    def __init__(self, app: Flask, service: str, model: Any) -> None:
        self.http: FlaskClient = app.test_client()
        self.walker = Walker(_spec(app))
        db, pepper = app.extensions["db"], app.config["TOKEN_PEPPER"]
        self.token = create_token(db, model, pepper, "contract",
                                  [f"{service}:{verb}" for verb in SCOPE_VERBS[service]])

    def call(self, method: str, template: str, path: str | None = None, **kwargs: Any) -> Any:
        response = self.http.open(path or template, method=method.upper(),
                                  headers={"Authorization": f"Bearer {self.token}"}, **kwargs)
        return self.walker.answer(template, method, response)

    def every_get(self, ids: dict[str, str], query: dict[str, str]) -> set[str]:
        """GET every JSON operation under /v1, its ids filled in; the paths read."""
        read = set()
        for path, method, operation in _operations(self.walker.spec):
            if method != "get" or not any(True for _ in _answers(operation)):
                continue
            concrete = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
            args = _query_args(self.walker.spec["paths"][path], operation)
            self.call("get", path, concrete,
                      query_string={k: v for k, v in query.items() if k in args})
            read.add(path)
        return read


def test_the_ledger_answers_every_time_as_its_leaves_write_them(
        make_app: MakeApp, receiver: Receiver) -> None:
    hooks = Hooks(make_app("ledger", WEBHOOK_ALLOWED_NETWORKS=LOCAL), receiver)
    live = Live(hooks.app, "ledger", LedgerToken)
    # Entries, a rejected event, a revoked token, a delivered and a failed message.
    sub = hooks.subscribe()
    hooks.append([ev.activity(time="2026-01-05T09:00:00+01:00"),
                  ev.involvement(time="2026-01-06T09:00:00.5Z")])
    appending.append(hooks.db, [{"specversion": "1.0"}],
                     hooks.app.extensions["signer"], hooks.settings)
    hooks.deliver_due()
    made = live.call("post", "/v1/tokens", json={"name": "cqc", "scopes": ["ledger:read"]})
    live.call("post", "/v1/tokens/{token_id}/revocation", f"/v1/tokens/{made['id']}/revocation")
    sub_path = "/v1/subscriptions/{sub_id}"
    live.call("post", sub_path + "/secret/rotation", f"/v1/subscriptions/{sub['id']}"
              "/secret/rotation", json={"overlap_seconds": 60})
    live.call("patch", sub_path, f"/v1/subscriptions/{sub['id']}", json={"enabled": False})
    messages = live.call("get", sub_path + "/messages", f"/v1/subscriptions/{sub['id']}/messages")
    release = releases.publish(hooks.db, hooks.app.extensions["disclosure"], "2026-01",
                               datetime(2026, 3, 1))
    read = live.every_get(
        {"sub_id": sub["id"], "message_id": messages["items"][0]["id"],
         "release_id": str(release["id"])},
        {"from": "2026-01-01", "to": "2026-12-31", "area": "recruitment", "limit": "1"})
    assert {"/v1/entries", "/v1/access-log", "/v1/tokens", "/v1/rejected",
            "/v1/subscriptions/{sub_id}/attempts", "/v1/releases/{release_id}"} <= read
    assert not live.walker.bad_times(), live.walker.bad_times()
    named = {where.rsplit(".", 1)[-1] for where, _ in live.walker.times}
    assert {"received_at", "at", "created_at", "revoked_at", "updated_at", "disabled_at",
            "previous_secret_expires_at", "last_success_at", "attempted_at",
            "last_attempt_at"} <= named, named


@pytest.mark.parametrize("service", AREAS)
def test_each_area_answers_every_list_in_the_envelope(service: str, make_app: MakeApp) -> None:
    live = Live(make_app(service), service, AreaToken)
    for item in SETUP[service]:
        live.call("post", item.path, json=item.body)
    path = f"/v1/{PATHS[service]}"
    activity = live.call("post", path, json=ACTIVITIES[service])
    made = live.call("post", path + "/{activity_id}/involvements",
                     f"{path}/{activity['id']}/involvements", json=involvement(service))
    impact = live.call("post", "/v1/impacts", json={
        "involvement_id": made["id"], "said": "Ask about home care.", "outcome": "no",
        "what_changed": "The panel had already chosen.", "told_on": "2026-03-02"})
    ids = {"activity_id": activity["id"], "involvement_id": made["id"],
           "course_id": COURSE["id"], "impact_id": impact["id"]}
    read = live.every_get(ids, {"limit": "1"})
    assert {path, path + "/{activity_id}/involvements"} <= read
    assert not live.walker.bad_times(), live.walker.bad_times()
