"""Hostile input at every intake of the real stack, and where what it got accepted ends.

Valid requests made hostile in one place each (tests/support/hostile.py: lone
surrogates, non-characters, NUL and other controls, huge and tiny numbers, number
literals no parser should hold, NaN, a key twice, deep nesting, very long text, the
wrong JSON type, dates before 2000 or in the future, hostile keys and ce-* headers)
are sent as raw bytes to REST, signed webhooks, CloudEvents (structured; binary with
and without Content-Type; batch) and erasure, in every area: first every pinned case
(hostile.PINS), then ``HOSTILE_EXAMPLES`` drawn ones per intake, the same each run.
Some carry a hostile X-Request-ID; some accepted deliveries are sent twice. The promise:

- no answer is a 5xx, and every 4xx has exactly the keys code, status, message, errors;
- what must be refused (docs/api.md) is refused with its status, and a replayed
  delivery gets the first answer again;
- once the pipeline has drained, every event a 2xx accepted is in the ledger's entries
  or in its rejected table, exactly once; so is every event in the areas' outboxes,
  and the relay holds none back;
- an accepted event carries the time it was given (``occurred_at``, or the CloudEvent's
  ``time``), its text as the answer gave it, and the caller's X-Request-ID as
  ``requestid`` when that is a plain identifier (a new UUID otherwise).

Failures are collected rather than raised, so that one run names every failing case.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest
import requests
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook

from shared.area.integrations import create_integration
from shared.area.models import Outbox
from shared.db import Database
from tests.e2e.conftest import Stack
from tests.support.areas import ACTIVITIES, AREAS, PATHS, SETUP, involvement
from tests.support.hostile import (
    KINDS,
    PINS,
    Path,
    Pin,
    Variant,
    header_variants,
    percent,
    variants,
)

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", 40))
ERROR_KEYS = {"code", "status", "message", "errors"}
CE = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
PREFIX = "org.ladder."
OCCURRED = "2026-02-03T09:30:00+01:00"
CE_TIME = "2026-02-04T10:00:00Z"
# X-Request-ID values: kept when a plain identifier (16-64 hex digits and dashes), else
# replaced by a new UUID; refused (400, by the HTTP server) only with a control character
# in it, which RFC 9110 section 5.5 forbids in any field value (docs/api.md).
REQUEST_IDS = (None, "0123456789abcdef", "6F9619FF-8B86-D011-B42D-00C04FC964FF", "a" * 64,
               "a" * 65, "0123456789abcde", "x-request-1", "\xff\xfe\xe9", "%00", "", "../..",
               "0123456789abcdef0123456789abcdef\x7f")
PLAIN_ID = re.compile(r"[0-9A-Fa-f-]{16,64}")
FORBIDDEN_IN_A_FIELD = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
LIMITS = {name: "1000000 per minute" for name in (
    "LADDER_RATE_LIMIT_API", "LADDER_RATE_LIMIT_WEBHOOKS", "LADDER_RATE_LIMIT_ADDRESS")}


def ledger_time(value: Any) -> str | None:
    """An RFC 3339 time as the ledger writes it (UTC, six digits, Z); None if not one."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except (ValueError, OverflowError):
        return None


def _time_of(body: Any, *path: Any) -> str | None:
    try:
        for step in path:
            body = body[step]
    except (KeyError, IndexError, TypeError):
        return None
    return ledger_time(body)


@dataclass
class Accepted:
    """An event that a 2xx answer promised the ledger."""

    type: str
    area: str
    id: str
    request: str
    time: str | None
    fields: dict[str, Any]
    request_id: str | None  # the X-Request-ID sent, if any


@dataclass
class Intakes:
    """Every intake of the stack, what each answered, and what the 2xx answers promised."""

    stack: Stack
    violations: list[str] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    answers: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    serial: itertools.count[int] = field(default_factory=itertools.count)
    secrets: dict[str, str] = field(default_factory=dict)
    pin: Pin | None = None  # set: the sweep's case, instead of a drawn one
    request_id: str | None = None  # the X-Request-ID of the request being sent

    def __post_init__(self) -> None:
        self.http = requests.Session()
        for area in AREAS:
            db = Database(self.stack.env[f"{area.upper()}_DATABASE_URL"])
            self.secrets[area] = create_integration(db, "hostile")
            db.dispose()

    def n(self) -> int:
        return next(self.serial)

    def vary(self, data: st.DataObject, template: Any,
             containers: list[Path] | None = None) -> Variant | None:
        """A hostile variant of ``template``: the pinned one, or one drawn."""
        containers = containers or [()]
        if self.pin is not None:
            return self.pin.apply(template, containers)
        return data.draw(variants(template, containers))

    # -- sending and judging ------------------------------------------------------------

    def send(self, intake: str, area: str, path: str, body: bytes, headers: dict[str, str],
             variant: str, must: int | None, success: int = 202, replay: bool = False) -> Any:
        """POST ``body``; judge the answer; return the 2xx body, or None.

        ``replay``: send an accepted delivery again; it must get the same answer (and,
        checked at the end, add no event).
        """
        if self.request_id is not None:
            headers = {**headers, "X-Request-ID": self.request_id}
            if FORBIDDEN_IN_A_FIELD.search(self.request_id):
                must = 400  # refused before any body is read
        described = (f"{intake} [{area}] {variant}: POST {path} headers={headers} "
                     f"body={body[:240]!r}{'...' if len(body) > 240 else ''} ({len(body)} bytes)")
        try:
            response = self.http.post(self.stack.url(area) + path, data=body, timeout=60,
                                      headers={**self.stack.auth(area), **headers})
        except requests.RequestException as exc:
            self.violations.append(f"{described}\n  -> no HTTP answer: {exc!r}")
            return None
        status = response.status_code
        self.answers[(intake, variant.split(" at ")[0], status)] += 1
        if 400 <= status < 500:
            try:
                payload = response.json()
            except ValueError:
                payload = None
            if not (isinstance(payload, dict) and set(payload) == ERROR_KEYS
                    and payload["code"] == status):
                self.violations.append(f"{described}\n  -> {status} not in the error shape: "
                                       f"{response.text[:300]!r}")
            elif must is not None and status != must:
                self.violations.append(f"{described}\n  -> {status} (must be {must}): "
                                       f"{payload['message'][:300]!r}")
            return None
        if status == success:
            if must is not None:
                self.violations.append(f"{described}\n  -> {status} accepted (must be {must}):"
                                       f" {response.text[:300]!r}")
            if replay:
                self.replay(described, area, path, body, headers, response)
            return response.json()
        self.violations.append(f"{described}\n  -> {status}: {response.text[:300]!r}")
        return None

    def replay(self, described: str, area: str, path: str, body: bytes,
               headers: dict[str, str], first: requests.Response) -> None:
        """The same delivery again gets the same answer."""
        try:
            again = self.http.post(self.stack.url(area) + path, data=body, timeout=60,
                                   headers={**self.stack.auth(area), **headers})
            same = again.status_code == first.status_code and again.json() == first.json()
        except (requests.RequestException, ValueError) as exc:
            self.violations.append(f"{described}\n  -> replayed: {exc!r}")
            return
        if not same:
            self.violations.append(f"{described}\n  -> replayed: {again.status_code} "
                                   f"{again.text[:300]!r}, first {first.text[:300]!r}")

    def promise(self, command: str, area: str, result: dict[str, Any], request: str,
                when: str | None) -> None:
        if command in ("activity.recorded", "involvement.recorded"):
            self.accepted.append(Accepted(PREFIX + command, area, str(result["id"]), request,
                                          when, result, self.request_id))

    # -- one strategy and one sender per intake ----------------------------------------

    def activity(self, area: str) -> dict[str, Any]:
        return {**ACTIVITIES[area], "occurred_at": OCCURRED}

    def involvement(self, area: str) -> dict[str, Any]:
        extras: dict[str, Any] = {"occurred_at": OCCURRED}
        if area == "inspection":
            extras.update(stage="interviews", interviews_count=3)
        return involvement(area, f"CIT-{self.n():05d}", **extras)

    def rest_activity(self, area: str, data: st.DataObject) -> None:
        variant = self.vary(data, self.activity(area))
        if variant is None:
            return
        answer = self.send("REST activity", area, f"/v1/{PATHS[area]}", variant.encode(),
                           {"Content-Type": "application/json"}, str(variant),
                           variant.expected())
        if answer is not None:
            self.promise("activity.recorded", area, answer, str(variant),
                         _time_of(variant.body, "occurred_at"))

    def rest_involvement(self, area: str, data: st.DataObject) -> None:
        variant = self.vary(data, self.involvement(area))
        if variant is None:
            return
        answer = self.send("REST involvement", area,
                           f"/v1/{PATHS[area]}/BASE-{area}/involvements", variant.encode(),
                           {"Content-Type": "application/json"}, str(variant),
                           variant.expected())
        if answer is not None:
            self.promise("involvement.recorded", area, answer, str(variant),
                         _time_of(variant.body, "occurred_at"))

    def _command(self, area: str, command: str) -> dict[str, Any]:
        if command == "activity.recorded":
            return self.activity(area)
        return {"activity_id": f"BASE-{area}", **self.involvement(area)}

    def webhook(self, area: str, data: st.DataObject) -> None:
        command = data.draw(st.sampled_from(["activity.recorded", "involvement.recorded"]))
        variant = self.vary(data, {"type": command, "data": self._command(area, command)},
                            [(), ("data",), ("data",)])
        if variant is None:
            return
        body = variant.encode()
        msg_id = f"msg_hostile_{self.n()}"
        now = datetime.now(UTC)
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": Webhook(self.secrets[area]).sign(msg_id, now,
                                                                         body.decode()),
                   "Content-Type": "application/json"}
        answer = self.send("webhook", area, "/v1/webhooks/hostile", body, headers,
                           str(variant), variant.expected(), replay=data.draw(st.booleans()))
        if answer is not None:
            self.promise(answer["type"], area, answer["result"], str(variant),
                         _time_of(variant.body, "data", "occurred_at"))

    def _event(self, area: str, command: str, source: str, **data: Any) -> dict[str, Any]:
        return {"specversion": "1.0", "id": f"hostile-{self.n()}", "source": source,
                "type": PREFIX + command, "time": CE_TIME,
                "data": {**self._command(area, command), **data}}

    def _without_occurred_at(self, event: dict[str, Any]) -> dict[str, Any]:
        # The CloudEvent's time says when; data.occurred_at would have to agree with it.
        event["data"].pop("occurred_at", None)
        return event

    def structured(self, area: str, data: st.DataObject) -> None:
        command = data.draw(st.sampled_from(["activity.recorded", "involvement.recorded"]))
        event = self._without_occurred_at(self._event(area, command, "/hostile/structured"))
        variant = self.vary(data, event, [(), ("data",)])
        if variant is None:
            return
        answer = self.send("CloudEvent structured", area, "/v1/events", variant.encode(),
                           {"Content-Type": CE}, str(variant), variant.expected(),
                           replay=data.draw(st.booleans()))
        if answer is not None:
            self.promise(answer["type"], area, answer["result"], str(variant),
                         _time_of(variant.body, "time"))

    def binary(self, area: str, data: st.DataObject) -> None:
        command = data.draw(st.sampled_from(["activity.recorded", "involvement.recorded"]))
        event = self._without_occurred_at(self._event(area, command, "/hostile/binary"))
        headers = {f"ce-{k}": v for k, v in event.items() if k != "data"}
        content_type = data.draw(st.sampled_from([None, "application/json",
                                                  "application/json; charset=utf-8"]))
        pin = self.pin
        if pin is not None and "time" in pin.keys and isinstance(pin.value, str):
            if pin.as_key or pin.value == "":
                return
            headers["ce-time"] = percent(pin.value)
            variant = Variant(event["data"], pin.kind, f"ce-time = {pin.value!r}", pin.status)
        elif pin is not None or data.draw(st.booleans()):
            found = self.vary(data, event["data"])
            if found is None:
                return
            variant = found
        else:
            headers, what, status = data.draw(header_variants(headers))
            variant = Variant(event["data"], "ce-* header", what, status)
        if content_type:
            headers["Content-Type"] = content_type
        label = f"{variant} (Content-Type {content_type})"
        answer = self.send("CloudEvent binary", area, "/v1/events", variant.encode(), headers,
                           label, variant.expected(), replay=data.draw(st.booleans()))
        if answer is not None:
            self.promise(answer["type"], area, answer["result"], label,
                         ledger_time(unquote(headers.get("ce-time", ""))))

    def batch(self, area: str, data: st.DataObject) -> None:
        activity_id = f"HB-{self.n()}"
        events = [self._event(area, "activity.recorded", "/hostile/batch", id=activity_id),
                  self._event(area, "involvement.recorded", "/hostile/batch",
                              activity_id=activity_id),
                  self._event(area, "involvement.recorded", "/hostile/batch")]
        events = [self._without_occurred_at(e) for e in events]
        variant = self.vary(data, events, [(i, *p) for i in range(3) for p in ((), ("data",))])
        if variant is None:
            return
        answer = self.send("CloudEvents batch", area, "/v1/events", variant.encode(),
                           {"Content-Type": BATCH}, str(variant), variant.expected(),
                           replay=data.draw(st.booleans()))
        if answer is not None:
            for index, result in enumerate(answer["results"]):
                self.promise(result["type"], area, result["result"], str(variant),
                             _time_of(variant.body, index, "time"))

    def erasure(self, area: str, data: st.DataObject) -> None:
        ref = data.draw(st.sampled_from(["CIT-BASE", "CIT-00001", "never-seen"]))
        variant = self.vary(data, {"citizen_ref": ref})
        if variant is None:
            return
        self.send("erasure", area, "/v1/citizens/erasure", variant.encode(),
                  {"Content-Type": "application/json"}, str(variant), variant.expected(),
                  success=200)

    def all(self) -> dict[str, Callable[[str, st.DataObject], None]]:
        return {"REST activity": self.rest_activity, "REST involvement": self.rest_involvement,
                "webhook": self.webhook, "CloudEvent structured": self.structured,
                "CloudEvent binary": self.binary, "CloudEvents batch": self.batch,
                "erasure": self.erasure}

    # -- where it all ended ------------------------------------------------------------

    def pages(self, path: str, token: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        after: int | None = 0
        while after is not None:
            page = self.http.get(self.stack.url("ledger") + path,
                                 headers={"Authorization": f"Bearer {token}"},
                                 params={"after": after, "limit": 1000}, timeout=30)
            page.raise_for_status()
            body = page.json()
            if isinstance(body, list):  # a bare list, before the one page envelope
                return found + body
            found += body.get("items", body.get("entries", []))
            after = body["next_after"]
        return found

    def outboxes(self) -> tuple[list[tuple[str, str, str]], list[str]]:
        """Every event the areas wrote, as (area, source, id); and those the relay holds."""
        events, held = [], []
        for area in AREAS:
            db = Database(self.stack.env[f"{area.upper()}_DATABASE_URL"])
            with db.reading() as session:
                rows = session.execute(sa.select(Outbox.payload, Outbox.held_at,
                                                 Outbox.last_error)).all()
            db.dispose()
            for payload, held_at, error in rows:
                event = json.loads(payload)
                events.append((area, event["source"], event["id"]))
                if held_at is not None:
                    held.append(f"[{area}] {event['type']} {event['id']}: {error}")
        return events, held


def _key(event: Any) -> tuple[str, str] | None:
    if isinstance(event, dict) and isinstance(event.get("source"), str) and isinstance(
            event.get("id"), str):
        return event["source"], event["id"]
    return None


def _subject(event: dict[str, Any]) -> tuple[str, str, str] | None:
    data = event.get("data")
    if not isinstance(data, dict):
        return None
    name = "activity_id" if event.get("type") == PREFIX + "activity.recorded" else "involvement_id"
    return str(event.get("type")), str(data.get("area")), str(data.get(name))


def _is_uuid(value: Any) -> bool:
    try:
        return str(uuid.UUID(str(value))) == value
    except ValueError:
        return False


def explore(intakes: Intakes, intake: Callable[[str, st.DataObject], None]) -> None:
    """Send ``EXAMPLES`` hostile requests to one intake, the same ones every run."""

    # No shrinking: a failure is recorded, never raised, so nothing is left to shrink.
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(area=st.sampled_from(AREAS), data=st.data())
    def run(area: str, data: st.DataObject) -> None:
        intakes.request_id = data.draw(st.sampled_from(REQUEST_IDS))
        try:
            intake(area, data)
        finally:
            intakes.request_id = None

    run()


def sweep(intakes: Intakes, intake: Callable[[str, st.DataObject], None], offset: int) -> None:
    """Send every pinned case (hostile.PINS) to one intake, the areas in turn."""

    @settings(max_examples=1, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        for i, pin in enumerate(PINS):
            intakes.pin = pin
            try:
                intake(AREAS[(i + offset) % len(AREAS)], data)
            finally:
                intakes.pin = None

    run()


def test_hostile_input_gets_a_4xx_in_the_shape_or_reaches_the_ledger_exactly_once(
    make_stack: Callable[..., Stack],
) -> None:
    started = time.monotonic()
    stack = make_stack(**LIMITS)
    intakes = Intakes(stack)
    for area in AREAS:
        base = stack.url(area)
        for item in SETUP[area]:
            assert requests.post(base + item.path, json=item.body, headers=stack.auth(area),
                                 timeout=10).status_code == 201
        answer = requests.post(f"{base}/v1/{PATHS[area]}", timeout=10, headers=stack.auth(area),
                               json={**ACTIVITIES[area], "id": f"BASE-{area}"})
        assert answer.status_code == 202, answer.text
        body = intakes.involvement(area)
        body["citizen_ref"] = "CIT-BASE"
        answer = requests.post(f"{base}/v1/{PATHS[area]}/BASE-{area}/involvements", json=body,
                               headers=stack.auth(area), timeout=10)
        assert answer.status_code == 202, answer.text
    kinds: Counter[str] = Counter()
    for offset, (name, intake) in enumerate(intakes.all().items()):
        sweep(intakes, intake, offset)
        explore(intakes, intake)
        kinds.update(k[1] for k in intakes.answers if k[0] == name)
    sent = time.monotonic()

    # Wait for the pipeline to drain: every outbox event in the ledger or in rejected.
    deadline = time.monotonic() + 60
    while True:
        written, held = intakes.outboxes()
        entries = intakes.pages("/v1/entries", stack.tokens["ledger"])
        rejected = intakes.pages("/v1/rejected", stack.tokens["ledger-admin"])
        rejected_events = []
        for row in rejected:
            try:
                rejected_events.append(json.loads(row["payload"]))
            except ValueError:
                rejected_events.append({"unreadable": row["payload"][:200]})
        arrived = Counter(_key(e["event"]) for e in entries) + Counter(
            _key(e) for e in rejected_events)
        missing = [w for w in written if arrived[w[1:]] == 0]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    time.sleep(1)  # a batch delivered twice would append again by now
    entries = intakes.pages("/v1/entries", stack.tokens["ledger"])
    in_ledger = Counter(_key(e["event"]) for e in entries)
    in_rejected = Counter(_key(e) for e in rejected_events)
    by_subject = Counter(_subject(e["event"]) for e in entries)
    rejected_by_subject = Counter(_subject(e) for e in rejected_events if isinstance(e, dict))
    events = {_subject(e["event"]): e["event"] for e in entries}

    problems = list(intakes.violations)
    for area, source, event_id in written:
        count = in_ledger[(source, event_id)] + in_rejected[(source, event_id)]
        if count != 1:
            problems.append(f"outbox event [{area}] {source} {event_id} is {count} times in the "
                            f"ledger and rejected ({in_ledger[(source, event_id)]} + "
                            f"{in_rejected[(source, event_id)]})")
    problems += [f"held by the relay, never published: {h}" for h in held]
    for promised in intakes.accepted:
        subject = (promised.type, promised.area, promised.id)
        count = by_subject[subject] + rejected_by_subject[subject]
        if count != 1:
            problems.append(f"accepted {subject} ({promised.request}) is {count} times in the "
                            "ledger and rejected")
            continue
        event = events.get(subject)
        if event is None:
            continue  # rejected, with its reason
        if promised.time and event["time"] != promised.time:
            problems.append(f"accepted {subject} ({promised.request}): the event's time is "
                            f"{event['time']}, not {promised.time}")
        sent_id, got_id = promised.request_id, event.get("requestid")
        if sent_id is not None and PLAIN_ID.fullmatch(sent_id):
            if got_id != sent_id:
                problems.append(f"accepted {subject} ({promised.request}): X-Request-ID "
                                f"{sent_id!r} became requestid {got_id!r}")
        elif not _is_uuid(got_id) or got_id == sent_id:
            problems.append(f"accepted {subject} ({promised.request}): X-Request-ID "
                            f"{sent_id!r} gave requestid {got_id!r}, not a new UUID")
        changed = {k: (v, event["data"][k]) for k, v in promised.fields.items()
                   if isinstance(v, str) and k in event["data"] and event["data"][k] != v
                   and k != "id"}
        if changed:
            problems.append(f"accepted {subject} ({promised.request}): the ledger's text "
                            f"differs from the answer's: {changed!r}")
    summary = "\n".join(f"  {intake} / {kind}: {status} x{count}"
                        for (intake, kind, status), count in sorted(intakes.answers.items()))
    report = (f"{len(problems)} problems; {len(intakes.accepted)} events accepted, "
              f"{len(written)} in the outboxes, {len(entries)} in the ledger, "
              f"{len(rejected)} rejected; sending took {sent - started:.0f} s, "
              f"all {time.monotonic() - started:.0f} s.\nAnswers:\n{summary}")
    print(report)
    assert not problems, "\n\n".join(problems[:60]) + "\n\n" + report
    # The strategies reached every hostile kind, and enough requests were accepted to
    # follow them through the pipeline.
    assert set(KINDS) <= set(kinds), set(KINDS) - set(kinds)
    assert len(intakes.accepted) >= 20, report
