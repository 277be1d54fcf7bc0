"""A year of involvement sent through the areas' REST APIs, and an auditor's reads of it.

The year has what disclosure control must protect: per area two big units, four small
ones with 1 to 4 involvements each and one with a single involvement, citizens who
come back (within a unit and across units), every step of the ladder, varied hours and
recognition. Reads go over HTTP to the running ledger: the API, its CSV exports, the
dashboard (signed in as a browser is) and the published releases.
"""

from __future__ import annotations

import calendar
import csv
import io
import random
import re
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.support.areas import ACTIVITIES, AREAS, PATHS, ROLES, SETUP, STAGES

YEAR = 2025
MONTHS = range(1, 13)
RECOGNITION = ("payment", "voucher", "time_credit", "expenses_only", "declined", "none")


@dataclass(frozen=True)
class Involvement:
    citizen: str
    step: int
    hours: float
    recognition: str
    feedback: bool
    power: str
    from_start: bool
    role: str
    day: int
    # Said only where the sample role and power would be read as another step.
    part: str | None = None
    influence: str | None = None


@dataclass(frozen=True)
class Activity:
    area: str
    unit: str
    month: int
    day: int
    involvements: tuple[Involvement, ...]


def _units(area: str) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """Big units, small units (1, 2, 3 and 4 involvements over the year), the single one."""
    return ((f"{area}-east", f"{area}-west"), tuple(f"{area}-small-{n}" for n in range(1, 5)),
            f"{area}-single")


def units(area: str) -> list[str]:
    big, small, single = _units(area)
    return [*big, *small, single]


def _involvement(area: str, rng: random.Random, citizen: str, step: int,
                 day: int) -> Involvement:
    """Facts that the area's rubric (docs/rubrics.md) reads as ``step``."""
    recognition = rng.choice(RECOGNITION)
    role, power, from_start, feedback = ROLES[area], "none", False, False
    part: str | None = None
    influence: str | None = None
    if step == 7:
        power, from_start, feedback = rng.choice(("equal_vote", "lead")), True, True
        recognition = "payment" if recognition == "none" else recognition
    elif step == 6:
        power, feedback = rng.choice(("equal_vote", "lead")), rng.random() < 0.5
    elif step in (5, 4):
        power, feedback = "advisory", step == 5
        influence = "yes" if step == 5 else None
    elif step == 3:
        feedback, part = True, "told"
    elif step == 2:
        role = "observer"
    elif step == 1:
        part = "required_to_attend"
    return Involvement(citizen, step, rng.choice((0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0)),
                       recognition, feedback, power, from_start, role, day, part, influence)


def plan(seed: int = YEAR) -> list[Activity]:
    """The year, the same for a seed."""
    rng = random.Random(seed)
    activities: list[Activity] = []
    for area in AREAS:
        big, small, single = _units(area)
        code = area[:3].upper()
        regulars = [[f"{code}-{u}-{n:02d}" for n in range(12)] for u in range(len(big))]
        for unit, pool in zip(big, regulars, strict=True):
            for month in MONTHS:
                for _ in range(rng.choice((1, 1, 2))):
                    day = rng.randint(1, 24)
                    made = tuple(
                        _involvement(area, rng, rng.choice(pool),
                                     rng.choices(range(1, 8), (1, 1, 2, 3, 3, 3, 2))[0],
                                     day + rng.randint(0, 3))
                        for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))))
                    activities.append(Activity(area, unit, month, day, made))
        newcomers = iter(f"{code}-new-{n:02d}" for n in range(100))
        for size, unit in enumerate(small, start=1):
            # Some come back from a big unit, some are new; split over one or two months.
            people = [rng.choice(regulars[size % 2]) if rng.random() < 0.4 else next(newcomers)
                      for _ in range(size)]
            cut = rng.randint(1, size) if size > 1 and rng.random() < 0.6 else size
            for group in (people[:cut], people[cut:]):
                if group:
                    month, day = rng.choice(MONTHS), rng.randint(1, 24)
                    activities.append(Activity(area, unit, month, day, tuple(
                        _involvement(area, rng, person, rng.randint(1, 7), day + 1)
                        for person in group)))
        month, day = rng.choice(MONTHS), rng.randint(1, 24)
        activities.append(Activity(area, single, month, day, (
            _involvement(area, rng, next(newcomers), rng.randint(1, 7), day + 2),)))
    return activities


def day(month: int, day_: int = 1) -> str:
    return f"{YEAR}-{month:02d}-{day_:02d}"


def month_end(month: int) -> str:
    return day(month, calendar.monthrange(YEAR, month)[1])


def _moment(month: int, day_: int) -> str:
    return f"{day(month, day_)}T10:00:00Z"


def _activity_body(activity: Activity) -> dict[str, Any]:
    """The area's sample activity, in the activity's unit, dated by when it happened."""
    return {**ACTIVITIES[activity.area], "org_unit": activity.unit,
            "occurred_at": _moment(activity.month, activity.day)}


def _involvement_body(area: str, month: int, inv: Involvement) -> dict[str, Any]:
    return {"citizen_ref": inv.citizen, "stage": STAGES[area], "role": inv.role,
            "hours": inv.hours, "recognition": inv.recognition, "decision_power": inv.power,
            "from_start": inv.from_start, "feedback_given": inv.feedback,
            "occurred_at": _moment(month, inv.day),
            **{name: value for name, value in (("part", inv.part), ("influence", inv.influence))
               if value is not None}}


@dataclass
class Sent:
    """What the areas answered: the ids and pseudonyms an auditor must never see."""

    requests: int = 0
    activity_ids: set[str] = field(default_factory=set)
    involvement_ids: set[str] = field(default_factory=set)
    pseudonyms: set[str] = field(default_factory=set)
    citizen_refs: set[str] = field(default_factory=set)


def _send_area(base: str, token: str, area: str, activities: list[Activity]) -> Sent:
    sent = Sent()
    auth = {"Authorization": f"Bearer {token}"}
    with requests.Session() as http:

        def post(path: str, body: dict[str, Any], status: int = 202) -> dict[str, Any]:
            answer = http.post(base + path, json=body, headers=auth, timeout=20)
            assert answer.status_code == status, (path, body, answer.text)
            sent.requests += 1
            return dict(answer.json())

        for item in SETUP[area]:
            post(item.path, item.body, 201)
        for activity in activities:
            activity_id = str(post(f"/v1/{PATHS[area]}", _activity_body(activity))["id"])
            sent.activity_ids.add(activity_id)
            for inv in activity.involvements:
                made = post(f"/v1/{PATHS[area]}/{activity_id}/involvements",
                            _involvement_body(area, activity.month, inv))
                assert made["step"] == inv.step, (inv, made)
                sent.involvement_ids.add(str(made["id"]))
                sent.pseudonyms.add(str(made["pseudonym"]))
                sent.citizen_refs.add(inv.citizen)
    return sent


def send(urls: Mapping[str, str], tokens: Mapping[str, str], activities: list[Activity]) -> Sent:
    """Every activity and involvement through its area's REST API, the areas at once."""
    with ThreadPoolExecutor(len(AREAS)) as pool:
        parts = list(pool.map(lambda area: _send_area(
            urls[area], tokens[area], area, [a for a in activities if a.area == area]), AREAS))
    whole = Sent()
    for part in parts:
        whole.requests += part.requests
        whole.activity_ids |= part.activity_ids
        whole.involvement_ids |= part.involvement_ids
        whole.pseudonyms |= part.pseudonyms
        whole.citizen_refs |= part.citizen_refs
    return whole


def expected_totals(activities: list[Activity]) -> dict[str, tuple[int, int]]:
    """(activities, involvements) per area: what the ledger holds once it has everything."""
    return {area: (sum(1 for a in activities if a.area == area),
                   sum(len(a.involvements) for a in activities if a.area == area))
            for area in AREAS}


class Ledger:
    """The ledger's figures over HTTP, each answer read once per reader and query."""

    def __init__(self, base: str, tokens: Mapping[str, str]) -> None:
        self.base = base
        self.tokens = dict(tokens)
        self._local = threading.local()
        self._cache: dict[tuple[str, str, tuple[tuple[str, str], ...]], Any] = {}
        self.reads = 0

    @property
    def http(self) -> requests.Session:
        """A session per thread: the reads are made a few at a time."""
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        session: requests.Session = self._local.session
        return session

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, path: str, **query: str) -> requests.Response:
        self.reads += 1
        return self.http.get(self.base + path, params=query, headers=self.auth(who), timeout=20)

    def _cached(self, who: str, path: str, query: Mapping[str, str]) -> Any:
        key = (who, path, tuple(sorted(query.items())))
        if key not in self._cache:
            answer = self.get(who, path, **query)
            assert answer.status_code == 200, (who, path, query, answer.text)
            self._cache[key] = answer.json() if path == "/v1/metrics" else answer.text
        return self._cache[key]

    def metrics(self, who: str, **query: str) -> dict[str, Any]:
        return dict(self._cached(who, "/v1/metrics", query))

    def export(self, who: str, **query: str) -> list[dict[str, str]]:
        text = self._cached(who, "/v1/exports/metrics", query)
        return list(csv.DictReader(io.StringIO(text)))

    def wait_for(self, totals: Mapping[str, tuple[int, int]], timeout: float = 60) -> None:
        """Until the admin's figures hold every activity and involvement sent."""
        deadline = time.monotonic() + timeout
        held: dict[str, tuple[int, int]] = {}
        while time.monotonic() < deadline:
            answer = self.get("admin", "/v1/metrics", group_by="area", period="year",
                              **{"from": day(1), "to": month_end(12)})
            if answer.ok:
                held = {row["area"]: (row["activities"], row["involvements"])
                        for row in answer.json()["rows"]}
                if held == dict(totals):
                    return
            time.sleep(0.2)
        raise AssertionError(f"the ledger holds {held}, not {dict(totals)}")

    def entries(self, who: str = "admin", **query: str) -> list[dict[str, Any]]:
        """Every entry, following the cursor."""
        found: list[dict[str, Any]] = []
        after: int | None = 0
        while after is not None:
            page = self.get(who, "/v1/entries", after=str(after), limit="1000", **query)
            assert page.status_code == 200, page.text
            found += page.json()["items"]
            after = page.json()["next_after"]
        return found


class Dashboard:
    """A browser's session on the dashboard: signed in with a token, CSRF and cookie."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.http = requests.Session()
        form = self._send("GET", "/dashboard/sign-in")
        found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert found, "the sign-in form carries a CSRF token"
        signed = self._send("POST", "/dashboard/sign-in", data={
            "csrf_token": found.group(1), "token": token, "next": "/dashboard"})
        assert signed.status_code == 303, signed.text

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        answer = self.http.request(method, self.base + path, allow_redirects=False,
                                   timeout=20, **kwargs)
        # The cookie is Secure, which a browser still sends to 127.0.0.1 over HTTP.
        for cookie in self.http.cookies:
            cookie.secure = False
        return answer

    def page(self, path: str, **query: str) -> str:
        answer = self._send("GET", path, params=query)
        assert answer.status_code == 200, (path, query, answer.status_code, answer.text[:500])
        return answer.text


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html).strip()


def headline(page: str) -> dict[str, str]:
    """An area page's figures over the whole range (data-figure="...")."""
    found = {name: _text(value) for name, value in
             re.findall(r'<d[dt] data-figure="([\w.]+)">(.*?)</d[dt]>', page, re.S)}
    found |= {name: _text(value) for name, value in
              re.findall(r'<td data-figure="([\w.]+)">(.*?)</td>', page, re.S)}
    involved = re.search(r"(\d+) of (\d+) activities involved citizens", page)
    if involved:
        found["activities_involved"], found["activities"] = involved.groups()
    return found


def side_by_side(page: str) -> dict[str, dict[str, str]]:
    """The all-areas page's table: area -> figure -> text."""
    found: dict[str, dict[str, str]] = {}
    for area, name, value in re.findall(
            r'<td data-area="(\w+)" data-figure="([\w.]+)">(.*?)</td>', page, re.S):
        found.setdefault(area, {})[name] = _text(value)
    return found


def table(page: str, caption_id: str) -> Iterator[tuple[str, list[str]]]:
    """(row heading, cells) of the table with that caption, its foot included."""
    found = re.search(rf'<caption id="{caption_id}">.*?</table>', page, re.S)
    assert found, f"no table {caption_id}"
    for heading, cells in re.findall(r"<tr><th scope=\"row\">(.*?)</th>(.*?)</tr>",
                                     found.group(0), re.S):
        yield _text(heading), [_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))
