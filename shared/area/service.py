"""The use cases of every area. Each writes its rows and its events in one transaction.

A caller that opens ``db.writing()`` around several of them (a batch of
CloudEvents, an effect and its webhook receipt) makes them one transaction.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared import outbox
from shared.area import Area, references
from shared.area.models import Activity, Citizen, Involvement, Outbox
from shared.chunks import KEYS_PER_STATEMENT, chunks
from shared.db import KEYS, Database, execute, stage
from shared.envelope import (
    ACTIVITY_CANCELLED,
    ACTIVITY_RECORDED,
    ACTIVITY_UPDATED,
    INVOLVEMENT_CORRECTED,
    INVOLVEMENT_RECORDED,
    INVOLVEMENT_WITHDRAWN,
    new_event,
)
from shared.errors import Conflict, Invalid, NotFound
from shared.ids import new_id
from shared.involvement import FACT_NAMES, LADDER, Facts
from shared.times import as_naive_utc, naive_utcnow

# The facts of rubric 2 with no column of their own live in the row's extras (JSON).
IN_EXTRAS = ("part", "influence")
# Activities, involvements and citizens are written as plain rows (shared.db.stage), in
# bulk, and read as rows: the ORM costs more than the rows do (docs/performance.md).
ACTIVITIES = cast(sa.Table, Activity.__table__)
INVOLVEMENTS = cast(sa.Table, Involvement.__table__)
CITIZENS = cast(sa.Table, Citizen.__table__)


class Held(NamedTuple):
    """What a unit of work knows of an activity: the columns its use cases read."""

    id: str
    kind: str
    org_unit: str
    status: str
    details: str
    revision: int


class Link(NamedTuple):
    """What a citizen's row holds: see :class:`shared.area.models.Citizen`."""

    rule: int
    salt: str | None
    pseudonym: str | None


def _emit(session: Session, area: Area, type_: str, subject: str, data: dict[str, Any],
          when: datetime, event_id: str | None = None) -> None:
    event = new_event(type=type_, source=area.source, subject=subject, time=when,
                      data={"area": area.name, **data}, id=event_id)
    outbox.add(session, Outbox, [event])


# What a unit of work reads of them by key: built once, the keys bound at execution.
_HELD = [ACTIVITIES.c[name] for name in Held._fields]
_ACTIVITIES = sa.select(*_HELD).where(ACTIVITIES.c.id.in_(KEYS))
_INVOLVEMENTS = sa.select(Involvement.id).where(Involvement.id.in_(KEYS))
_CITIZENS = (sa.select(Citizen.lookup, Citizen.rule, Citizen.salt, Citizen.pseudonym)
             .where(Citizen.lookup.in_(KEYS)))


class Known:
    """What one unit of work has read or written of activities, involvements and citizens.

    A use case asks here instead of querying, so a batch of a thousand commands
    asks the database once (``preload``) rather than thrice per command, and
    nothing is flushed between commands.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.activities: dict[str, Held | None] = {}
        self.involvements: set[str] = set()
        self.free_involvements: set[str] = set()
        # A citizen's row by lookup; None when there is no such citizen (or no longer).
        self.citizens: dict[str, Link | None] = {}
        # A reference's lookups (citizen_lookups), by key and reference: two HMACs each.
        self.references: dict[tuple[str, str], tuple[str, str]] = {}

    @staticmethod
    def of(session: Session) -> Known:
        known = session.info.get("known")
        if known is None:
            known = session.info["known"] = Known(session)
        return known

    def preload(self, activity_ids: set[str], involvement_ids: set[str],
                lookups: set[str]) -> None:
        for chunk in chunks(sorted(activity_ids - self.activities.keys()), KEYS_PER_STATEMENT):
            found = {a.id: Held._make(a)
                     for a in execute(self.session, _ACTIVITIES, {"keys": chunk})}
            self.activities.update({i: found.get(i) for i in chunk})
        for chunk in chunks(sorted(involvement_ids - self.involvements - self.free_involvements),
                            KEYS_PER_STATEMENT):
            taken = set(execute(self.session, _INVOLVEMENTS, {"keys": chunk}).scalars())
            self.involvements |= taken
            self.free_involvements |= set(chunk) - taken
        for chunk in chunks(sorted(lookups - self.citizens.keys()), KEYS_PER_STATEMENT):
            links = {lookup: Link(rule, salt, pseudonym) for lookup, rule, salt, pseudonym
                     in execute(self.session, _CITIZENS, {"keys": chunk})}
            self.citizens.update({k: links.get(k) for k in chunk})

    def lookups(self, key: str, citizen_ref: str) -> tuple[str, str]:
        found = self.references.get((key, citizen_ref))
        if found is None:
            found = self.references[key, citizen_ref] = citizen_lookups(key, citizen_ref)
        return found

    def activity(self, activity_id: str) -> Held | None:
        if activity_id not in self.activities:
            self.preload({activity_id}, set(), set())
        return self.activities[activity_id]

    def involvement_taken(self, involvement_id: str) -> bool:
        if involvement_id not in self.involvements and involvement_id not in self.free_involvements:
            self.preload(set(), {involvement_id}, set())
        return involvement_id in self.involvements

    def citizen(self, lookup: str) -> Link | None:
        if lookup not in self.citizens:
            self.preload(set(), set(), {lookup})
        return self.citizens[lookup]


# -- activities --------------------------------------------------------------------------


def activity_view(activity: Held) -> dict[str, Any]:
    return {"id": activity.id, "kind": activity.kind, "org_unit": activity.org_unit,
            "status": activity.status, "revision": activity.revision,
            **json.loads(activity.details)}


def _activity_data(activity: Held) -> dict[str, Any]:
    view = activity_view(activity)
    return {"activity_id": view.pop("id"), **view}


def record_activity(db: Database, area: Area, fields: dict[str, Any]) -> dict[str, Any]:
    fields = dict(fields)
    chosen = fields.pop("id", None)
    activity_id = chosen or new_id()
    org_unit = fields.pop("org_unit")
    now = datetime.now(UTC)
    when = fields.pop("occurred_at", None) or now
    with db.writing() as session:
        known = Known.of(session)
        # An id we generate is a fresh UUID; only a caller's own id can be taken.
        if chosen and known.activity(activity_id) is not None:
            raise Conflict(f"A {area.activity_kind} with id {activity_id} already exists.")
        area.check_activity(session, fields)
        activity = Held(id=activity_id, kind=area.activity_kind, org_unit=org_unit,
                        status="active", details=json.dumps(fields, default=str), revision=1)
        stage(session, ACTIVITIES, {**activity._asdict(), "created_at": as_naive_utc(now),
                                    "updated_at": as_naive_utc(now)})
        known.activities[activity_id] = activity
        _emit(session, area, ACTIVITY_RECORDED, activity_id, _activity_data(activity), when)
        return activity_view(activity)


def _load_activity(session: Session, area: Area, activity_id: str) -> Held:
    activity = Known.of(session).activity(activity_id)
    if activity is None:
        raise NotFound(f"No {area.activity_kind} {activity_id}.")
    return activity


def _must_be_active(area: Area, activity: Held) -> None:
    if activity.status == "cancelled":
        raise Conflict(f"{area.activity_kind.capitalize()} {activity.id} is cancelled.")


def update_activity(db: Database, area: Area, activity_id: str,
                    changes: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    with db.writing() as session:
        activity = _load_activity(session, area, activity_id)
        _must_be_active(area, activity)
        changes = dict(changes)
        area.check_activity(session, changes)
        org_unit = changes.pop("org_unit", activity.org_unit)
        details = json.dumps({**json.loads(activity.details), **changes}, default=str)
        activity = _save_activity(session, activity, now, org_unit=org_unit, details=details)
        _emit(session, area, ACTIVITY_UPDATED, activity_id, _activity_data(activity), now)
        return activity_view(activity)


def _save_activity(session: Session, activity: Held, now: datetime, **changes: Any) -> Held:
    """The activity with ``changes`` and its next revision, written and known."""
    saved = activity._replace(**changes, revision=activity.revision + 1)
    execute(session, sa.update(ACTIVITIES).where(ACTIVITIES.c.id == activity.id).values(
        **changes, revision=saved.revision, updated_at=as_naive_utc(now)))
    Known.of(session).activities[activity.id] = saved
    return saved


def cancel_activity(db: Database, area: Area, activity_id: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    with db.writing() as session:
        activity = _load_activity(session, area, activity_id)
        _must_be_active(area, activity)
        activity = _save_activity(session, activity, now, status="cancelled")
        _emit(session, area, ACTIVITY_CANCELLED, activity_id, _activity_data(activity), now)
        return activity_view(activity)


def get_activity(db: Database, area: Area, activity_id: str) -> dict[str, Any]:
    with db.reading() as session:
        return activity_view(_load_activity(session, area, activity_id))


def recent_activities(db: Database, limit: int) -> list[dict[str, Any]]:
    """The latest activities recorded, the newest first."""
    with db.reading() as session:
        rows = session.execute(sa.select(*_HELD).order_by(ACTIVITIES.c.n.desc()).limit(limit))
        return [activity_view(Held._make(a)) for a in rows]


def list_activities(db: Database, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    with db.reading() as session:
        rows = session.execute(sa.select(ACTIVITIES.c.n, *_HELD).where(ACTIVITIES.c.n > after)
                               .order_by(ACTIVITIES.c.n).limit(limit)).all()
        return [activity_view(Held._make(a[1:])) for a in rows], (rows[-1].n if rows else after)


# -- citizens ----------------------------------------------------------------------------


def citizen_lookups(key: str, citizen_ref: str) -> tuple[str, str]:
    """The lookups :func:`pseudonym_for` may ask for: the reference's rule-2 one, and the
    one rule 1 made of it as sent."""
    return (references.lookup(key, references.normalise(citizen_ref)),
            references.lookup(key, references.as_sent(citizen_ref)))


def pseudonym_for(session: Session, key: str, citizen_ref: str) -> str:
    """The citizen's pseudonym, a new citizen's if the reference finds none.

    A reference finds its citizen by its rule-2 form, which its variants share; or, for
    a citizen recorded under rule 1 and not seen since, by exactly the form rule 1 kept.
    Such a citizen keeps the pseudonym rule 1 gave them, and their row moves to the
    rule-2 lookup (unless another citizen has it), so that from then on the variants of
    their reference find them too. Erasure deletes the row: the reference can then
    never be linked to the pseudonym again, while every contribution keeps counting.
    """
    known = Known.of(session)
    normal, sent = references.normalise(citizen_ref), references.as_sent(citizen_ref)
    now, before = known.lookups(key, citizen_ref)
    # Both in one query; a batch has them already (Known.lookups).
    if now not in known.citizens or before not in known.citizens:
        known.preload(set(), set(), {now, before})
    # Only rule 1 can have made a lookup of a form that is not the normal one.
    legacy = known.citizen(before) if before != now else None
    if legacy is not None:
        pseudonym = references.pseudonym(key, str(legacy.salt), sent)
        if known.citizen(now) is None:
            execute(session, sa.delete(CITIZENS).where(CITIZENS.c.lookup == before))
            _add_citizen(session, now, Link(references.RULE, None, pseudonym))
            known.citizens[before] = None
        return pseudonym
    link = known.citizen(now)
    if link is None:
        link = _add_citizen(session, now, Link(references.RULE, secrets.token_hex(16), None))
    return link.pseudonym or references.pseudonym(key, str(link.salt), normal)


def _add_citizen(session: Session, lookup: str, link: Link) -> Link:
    stage(session, CITIZENS, {"lookup": lookup, **link._asdict(),
                              "created_at": naive_utcnow()})
    Known.of(session).citizens[lookup] = link
    return link


# -- involvements ------------------------------------------------------------------------


def involvement_view(inv: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": inv["id"], "activity_id": inv["activity_id"], "pseudonym": inv["pseudonym"],
        "stage": inv["stage"], "role": inv["role"], "hours": inv["hours"],
        "recognition": inv["recognition"], "decision_power": inv["decision_power"],
        "from_start": inv["from_start"], "feedback_given": inv["feedback_given"],
        "step": inv["step"], "rubric_version": inv["rubric_version"],
        "rubric_rule": inv["rubric_rule"], "status": inv["status"], "revision": inv["revision"],
        **json.loads(inv["extras"]),
    }


def _involvement_data(inv: Mapping[str, Any], activity: Held, area: Area) -> dict[str, Any]:
    view = involvement_view(inv)
    facts = {name: view[name] for name in FACT_NAMES}
    return {"involvement_id": view.pop("id"), "org_unit": activity.org_unit,
            "activity_kind": area.activity_kind, **view, "facts": facts}


def _read_facts(area: Area, body: Mapping[str, Any]) -> Facts:
    """The facts a request states, read as docs/rubrics.md says when it leaves some out.

    A version-1 request says neither ``part`` nor ``influence``: influence is then
    unknown, and the part follows from the decision power and the role.
    """
    said = {name: body[name] for name in FACT_NAMES if name in body}
    part = said.get("part") or area.rubric.default_part(
        said["stage"], said["role"], said["decision_power"], said["from_start"])
    if part is None:
        raise Invalid(f"part is required with the role {said['role']}: the role does not "
                      "say what the citizen did.",
                      {"json": {"part": ["Required with this role."]}})
    return Facts(**{**said, "part": part, "influence": said.get("influence", "unknown")})


def explain(area: Area, body: Mapping[str, Any]) -> dict[str, Any]:
    """The step the facts give under the rubric in force, the row that decides it and
    the definition that row implements."""
    facts = _read_facts(area, body)
    row = area.rubric.row(facts)
    return {"rubric_version": area.rubric.version, "step": row.step,
            "rung": LADDER[row.step], "row": row.as_dict(), "facts": facts.as_dict()}


def _apply_facts(inv: dict[str, Any], area: Area, body: dict[str, Any]) -> None:
    body = dict(body)
    area.check_involvement(body)
    facts = _read_facts(area, body)
    step, rule = area.rubric.step(facts)
    columns = facts.as_dict()
    for name in FACT_NAMES:
        body.pop(name, None)
    hours = body.pop("hours")
    extras = {**body, **{name: columns.pop(name) for name in IN_EXTRAS}}
    inv.update(columns, hours=hours, extras=json.dumps(extras), step=step,
               rubric_rule=rule, rubric_version=area.rubric.version)


def record_involvement(db: Database, area: Area, key: str, activity_id: str,
                       body: dict[str, Any]) -> dict[str, Any]:
    body = dict(body)
    chosen = body.pop("id", None)
    involvement_id = chosen or new_id()
    # The row names the event that records it: the ledger's receipt is asked by its id.
    event_id = new_id()
    citizen_ref = body.pop("citizen_ref")
    now = datetime.now(UTC)
    when = body.pop("occurred_at", None) or now
    with db.writing() as session:
        activity = _load_activity(session, area, activity_id)
        _must_be_active(area, activity)
        known = Known.of(session)
        if chosen and known.involvement_taken(involvement_id):
            raise Conflict(f"An involvement with id {involvement_id} already exists.")
        inv = {"id": involvement_id, "activity_id": activity_id, "status": "active",
               "revision": 1, "pseudonym": pseudonym_for(session, key, citizen_ref),
               "recorded_at": as_naive_utc(now), "updated_at": as_naive_utc(now),
               "recorded_event_id": event_id}
        _apply_facts(inv, area, body)
        stage(session, INVOLVEMENTS, inv)
        known.involvements.add(involvement_id)
        known.free_involvements.discard(involvement_id)
        _emit(session, area, INVOLVEMENT_RECORDED, activity_id,
              _involvement_data(inv, activity, area), when, event_id)
        return involvement_view(inv)


def find_involvement(session: Session, involvement_id: str) -> dict[str, Any] | None:
    row = execute(session, sa.select(INVOLVEMENTS).where(INVOLVEMENTS.c.id == involvement_id)
                  ).mappings().one_or_none()
    return dict(row) if row is not None else None


def _load_involvement(session: Session, involvement_id: str
                      ) -> tuple[dict[str, Any], Held]:
    inv = find_involvement(session, involvement_id)
    if inv is None:
        raise NotFound(f"No involvement {involvement_id}.")
    if inv["status"] == "withdrawn":
        raise Conflict(f"Involvement {involvement_id} was withdrawn.")
    activity = Known.of(session).activity(inv["activity_id"])
    assert activity is not None
    return inv, activity


def _save_involvement(session: Session, inv: dict[str, Any], now: datetime) -> None:
    inv["revision"] += 1
    inv["updated_at"] = as_naive_utc(now)
    changes = {k: v for k, v in inv.items() if k not in ("n", "id")}
    execute(session, sa.update(INVOLVEMENTS).where(INVOLVEMENTS.c.id == inv["id"])
            .values(changes))


def correct_involvement(db: Database, area: Area, involvement_id: str,
                        body: dict[str, Any]) -> dict[str, Any]:
    """A correction replaces the facts; the ledger keeps both events, in order."""
    now = datetime.now(UTC)
    with db.writing() as session:
        inv, activity = _load_involvement(session, involvement_id)
        _apply_facts(inv, area, body)
        _save_involvement(session, inv, now)
        _emit(session, area, INVOLVEMENT_CORRECTED, activity.id,
              _involvement_data(inv, activity, area), now)
        return involvement_view(inv)


def withdraw_involvement(db: Database, area: Area, involvement_id: str,
                         reason: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    with db.writing() as session:
        inv, activity = _load_involvement(session, involvement_id)
        inv["status"] = "withdrawn"
        _save_involvement(session, inv, now)
        _emit(session, area, INVOLVEMENT_WITHDRAWN, activity.id,
              {"involvement_id": inv["id"], "activity_id": activity.id,
               "org_unit": activity.org_unit, "pseudonym": inv["pseudonym"],
               "revision": inv["revision"], "reason": reason}, now)
        return involvement_view(inv)


def get_involvement(db: Database, involvement_id: str) -> dict[str, Any]:
    with db.reading() as session:
        inv = find_involvement(session, involvement_id)
        if inv is None:
            raise NotFound(f"No involvement {involvement_id}.")
        return involvement_view(inv)


def list_involvements(db: Database, area: Area, activity_id: str) -> list[dict[str, Any]]:
    with db.reading() as session:
        _load_activity(session, area, activity_id)
        rows = session.execute(sa.select(INVOLVEMENTS)
                               .where(INVOLVEMENTS.c.activity_id == activity_id)
                               .order_by(INVOLVEMENTS.c.n)).mappings()
        return [involvement_view(dict(i)) for i in rows]
