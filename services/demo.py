"""A realistic year of involvement in every area, for ``ladder demo``.

The plan is plain Python and deterministic for a seed: per area (shared/areas.py), a
year of activities in a few organisational units, citizens' involvement in them (a pool
of citizens per area, some of whom come back), and the odd correction, withdrawal and
cancellation. Each area says how busy it is and what its activities look like in its
own ``demo`` module (shared/area/demo.py). The organisation gets better over the year:
more activities involve citizens, earlier in the process and with more say, so the
dashboard has a trend to show; every step of the ladder is there, the lowest mostly
early on. Each area is busy enough that a month's figures of it are rarely hidden.

Sending goes through the public door: each area's own system posts signed Standard
Webhooks, exactly as in the README's walk-through, with ``occurred_at`` dating each
activity and involvement within the year. What an area sets up first (training's
courses) goes over its REST API.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from standardwebhooks import Webhook
from urllib3.util import Retry

from services import area_packages
from services.ledger.measures import last_twelve_months
from shared import areas
from shared.area.demo import Demo, Prerequisite


@dataclass
class Command:
    """One webhook: ``{"type": ..., "data": ...}``."""

    type: str
    data: dict[str, Any]


@dataclass
class Story:
    """An activity and everything that follows it, sent in order."""

    area: str
    commands: list[Command] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    # What each area's system sets up over REST before it sends its activities.
    setup: dict[str, list[Prerequisite]]
    stories: list[Story]

    def count(self) -> int:
        return sum(len(s.commands) for s in self.stories)


def _weighted(rng: random.Random, options: dict[str, float]) -> str:
    return rng.choices(list(options), weights=list(options.values()))[0]


def _at(day: date, rng: random.Random, latest: datetime) -> datetime:
    moment = datetime(day.year, day.month, day.day, rng.randint(8, 16), rng.randint(0, 59),
                      tzinfo=UTC)
    return min(moment, latest)


def _facts(demo: Demo, p: float, rng: random.Random) -> dict[str, Any]:
    """An involvement's facts; ``p`` runs from 0 (a year ago) to 1 (now)."""
    power = _weighted(rng, {"none": 0.4 - 0.25 * p, "advisory": 0.45,
                            "equal_vote": 0.15 + 0.2 * p, "lead": 0.05 + 0.05 * p})
    recognition = _weighted(rng, {"payment": 0.35 + 0.25 * p, "voucher": 0.15,
                                  "time_credit": 0.1, "expenses_only": 0.15,
                                  "declined": 0.05, "none": 0.2 - 0.15 * p})
    low, high = demo.hours
    facts: dict[str, Any] = {
        "stage": rng.choice(demo.stages), "role": rng.choice(demo.roles),
        "hours": round(rng.uniform(low, high) * 2) / 2, "recognition": recognition,
        "decision_power": power, "from_start": rng.random() < 0.1 + 0.3 * p,
        "feedback_given": rng.random() < 0.4 + 0.45 * p,
    }
    return {**facts, **demo.extras(rng, facts["stage"])}


def _low_rung(rng: random.Random) -> dict[str, Any]:
    """An involvement on the ladder's lowest steps, where citizens are made to attend
    (1), shown how it works (2) or told (3), and nothing they say is asked for."""
    part = _weighted(rng, {"required_to_attend": 1, "shown_how_it_works": 2, "told": 2})
    return {"part": part, "decision_power": "none", "influence": "no", "from_start": False,
            "feedback_given": part == "told" and rng.random() < 0.5}


def _impact(rng: random.Random, activity_id: str, day: date, today: date) -> Command:
    """"You said, we did" for a whole activity, told some days or weeks after."""
    outcome = _weighted(rng, {"yes": 0.35, "partly": 0.25, "no": 0.25, "not_possible": 0.15})
    told_on = min(day + timedelta(days=rng.randint(2, 45)), today)
    changed = outcome in ("yes", "partly")
    return Command("impact.recorded", {
        "activity_id": activity_id, "outcome": outcome,
        **({"change_kind": rng.choice(("service_design", "policy_or_procedure",
                                       "information", "staff_practice"))} if changed else {}),
        "said": "What the people involved said, in their words (demo).",
        "what_changed": ("What changed because of it (demo)." if changed
                         else "Why nothing could change this time (demo)."),
        "told_on": told_on.isoformat()})


def plan_year(now: datetime, seed: int = 2026, scale: float = 1.0,
              tag: str = "") -> Plan:
    """A year of involvement up to ``now``, the same for the same seed and tag."""
    rng = random.Random(seed)
    # Influence and impact records draw on their own generator, so that adding them left
    # every other figure of a seed's year as it was.
    more = random.Random(seed + 1)
    # Involvement on the lowest steps, more of it early in the year.
    rungs = random.Random(seed + 2)
    tag = tag or "DEMO"
    start, _ = last_twelve_months(now.date())
    days = (now.date() - start).days + 1
    latest = now - timedelta(minutes=1)
    demos = {entry.name: area_packages.demo(entry.name) for entry in areas.AREAS}
    setup = {area: demo.setup(tag) for area, demo in demos.items()}
    stories: list[Story] = []
    for area, demo in demos.items():
        # Some citizens come back again and again; most come once or twice.
        pool = [f"{tag}-{area[:3].upper()}-{n:04d}" for n in range(demo.citizens)]
        weights = [1 / (n + 1) ** 0.8 for n in range(len(pool))]
        n_activities = max(1, round(demo.per_month * len(demo.units) * 12 * scale))
        offsets = sorted(rng.randrange(days) for _ in range(n_activities))
        for number, offset in enumerate(offsets, 1):
            day = start + timedelta(days=offset)
            p = offset / max(days - 1, 1)
            when = _at(day, rng, latest)
            activity_id = f"{tag}-{area[:3].upper()}-{number:04d}"
            unit = rng.choice(demo.units)
            story = Story(area)
            story.commands.append(Command("activity.recorded", {
                "id": activity_id, "org_unit": unit, "occurred_at": when.isoformat(),
                **demo.activity(rng, unit, day, setup[area])}))
            involved = rng.random() < demo.involved + 0.4 * p
            for k in range(rng.choice((1, 1, 2, 2, 3)) if involved else 0):
                involvement_id = f"{activity_id}-I{k + 1}"
                facts = {**_facts(demo, p, rng), "influence": _weighted(more, {
                    "yes": 0.2 + 0.3 * p, "unknown": 0.5, "no": 0.3 - 0.3 * p})}
                if rungs.random() < 0.12 - 0.08 * p:
                    facts.update(_low_rung(rungs))
                story.commands.append(Command("involvement.recorded", {
                    "id": involvement_id, "activity_id": activity_id,
                    "citizen_ref": rng.choices(pool, weights)[0],
                    "occurred_at": min(when + timedelta(hours=k + 1), latest).isoformat(),
                    **facts}))
                roll = rng.random()
                if roll < 0.03:
                    # Told the outcome afterwards: the record is corrected, not rewritten.
                    story.commands.append(Command("involvement.corrected", {
                        "id": involvement_id, **{**facts, "feedback_given": True}}))
                elif roll < 0.05:
                    story.commands.append(Command("involvement.withdrawn", {
                        "id": involvement_id, "reason": "recorded_in_error"}))
            if involved and more.random() < 0.2 + 0.5 * p:
                story.commands.append(_impact(more, activity_id, day, now.date()))
            if rng.random() < 0.03:
                story.commands.append(Command("activity.cancelled", {"id": activity_id}))
            stories.append(story)
    return Plan(setup, stories)


class Sender:
    """Posts signed webhooks, one keep-alive session per thread."""

    def __init__(self, urls: dict[str, str], integration: str, secrets: dict[str, str]) -> None:
        self.urls = urls
        self.integration = integration
        self.hooks = {area: Webhook(secret) for area, secret in secrets.items()}
        self.local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
            # A server may close a keep-alive connection between two posts: the post goes
            # again, once; its webhook-id (or a 409 for a course) makes a repeat harmless.
            session.mount("http://", HTTPAdapter(max_retries=Retry(total=1,
                                                                   allowed_methods=None)))
        return session

    def post(self, area: str, path: str, body: bytes,
             headers: dict[str, str]) -> tuple[int, bytes]:
        response = self._session().post(self.urls[area] + path, data=body, headers=headers,
                                        timeout=30)
        return response.status_code, response.content

    def webhook(self, area: str, command: Command) -> None:
        body = json.dumps({"type": command.type, "data": command.data})
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = datetime.now(UTC)
        status, answer = self.post(area, f"/v1/webhooks/{self.integration}", body.encode(), {
            "Content-Type": "application/json", "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.hooks[area].sign(msg_id, now, body)})
        if status != 202:
            raise RuntimeError(f"{area} answered {status} to {command.type}: {answer[:300]!r}")


def send(plan: Plan, sender: Sender, workers: int = 4,
         progress: Callable[[int], None] = lambda _: None) -> int:
    """Send each story's commands in order, stories side by side; return how many."""
    def run(story: Story) -> int:
        for command in story.commands:
            sender.webhook(story.area, command)
        progress(len(story.commands))
        return len(story.commands)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(run, plan.stories))


def commands(plan: Plan) -> Iterable[tuple[str, Command]]:
    for story in plan.stories:
        for command in story.commands:
            yield story.area, command
