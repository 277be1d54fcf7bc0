"""The use cases of impact records ("you said, we did"), in every area.

A record is of one involvement, or of a whole activity (and so of every involvement
in it). Recording and correcting it writes the row and the ledger's event in one
transaction; the event carries the structured facts and the commitment, never the
words (shared/impact.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shared import impact, outbox
from shared.area import Area, service
from shared.area.models import Impact, Outbox
from shared.db import Database
from shared.envelope import IMPACT_CORRECTED, IMPACT_RECORDED, new_event
from shared.errors import Conflict, Invalid, NotFound
from shared.ids import new_id
from shared.times import as_naive_utc

CONTENT = ("said", "outcome", "change_kind", "what_changed", "told_on")


def view(row: Impact) -> dict[str, Any]:
    return {"id": row.id, "activity_id": row.activity_id,
            "involvement_id": row.involvement_id, "said": row.said, "outcome": row.outcome,
            "change_kind": row.change_kind, "what_changed": row.what_changed,
            "told_on": row.told_on, "salt": row.salt, "commitment": row.commitment,
            "revision": row.revision}


def _check(fields: dict[str, Any], today: date) -> None:
    """A change has a kind, and only a change has one; nobody was told in the future."""
    errors: dict[str, list[str]] = {}
    changed = fields["outcome"] in impact.CHANGED
    if changed and not fields.get("change_kind"):
        errors["change_kind"] = [f"Required when outcome is {fields['outcome']}."]
    if not changed and fields.get("change_kind"):
        errors["change_kind"] = [f"Only with an outcome of {' or '.join(impact.CHANGED)}."]
    if fields.get("told_on") and fields["told_on"] > today:
        errors["told_on"] = ["Must not be in the future."]
    if errors:
        raise Invalid("Some fields are invalid: " + ", ".join(sorted(errors)),
                      {"json": errors})


def _target(session: Session, fields: dict[str, Any]) -> tuple[service.Held, str | None]:
    """The activity the record is of, and the involvement, if it is of one."""
    involvement_id = fields.get("involvement_id")
    activity_id = fields.get("activity_id")
    if involvement_id:
        involvement = service.find_involvement(session, involvement_id)
        if involvement is None:
            raise NotFound(f"No involvement {involvement_id}.")
        if involvement["status"] == "withdrawn":
            raise Conflict(f"Involvement {involvement_id} was withdrawn.")
        if activity_id and activity_id != involvement["activity_id"]:
            raise Invalid("activity_id is not the involvement's activity.",
                          {"json": {"activity_id": [f"Involvement {involvement_id} is in "
                                                    f"{involvement['activity_id']}."]}})
        activity_id = involvement["activity_id"]
    activity = service.Known.of(session).activity(str(activity_id))
    if activity is None:
        raise NotFound(f"No activity {activity_id}.")
    return activity, involvement_id


def _emit(session: Session, area: Area, type_: str, row: Impact, activity: service.Held,
          when: datetime) -> None:
    data = {"area": area.name, "impact_id": row.id, "activity_id": row.activity_id,
            "involvement_id": row.involvement_id, "org_unit": activity.org_unit,
            "outcome": row.outcome, "change_kind": row.change_kind,
            "told_on": row.told_on.isoformat() if row.told_on else None,
            "commitment": row.commitment, "revision": row.revision}
    outbox.add(session, Outbox, [new_event(type=type_, source=area.source,
                                           subject=row.activity_id, time=when, data=data)])


def _seal(row: Impact) -> None:
    """A new salt and the commitment to the words as they now stand."""
    row.salt = impact.new_salt()
    row.commitment = impact.commitment(row.salt, row.said, row.what_changed)


def record_impact(db: Database, area: Area, fields: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    _check(fields, now.date())
    with db.writing() as session:
        activity, involvement_id = _target(session, fields)
        impact_id = fields.get("id") or new_id()
        if fields.get("id") and session.scalar(sa.select(Impact.n).where(Impact.id == impact_id)):
            raise Conflict(f"An impact record with id {impact_id} already exists.")
        row = Impact(id=impact_id, activity_id=activity.id, involvement_id=involvement_id,
                     revision=1, recorded_at=as_naive_utc(now),
                     updated_at=as_naive_utc(now),
                     **{name: fields.get(name) for name in CONTENT})
        _seal(row)
        session.add(row)
        session.flush()
        _emit(session, area, IMPACT_RECORDED, row, activity, now)
        return view(row)


def correct_impact(db: Database, area: Area, impact_id: str,
                   fields: dict[str, Any]) -> dict[str, Any]:
    """Replace what the record says; the ledger keeps both events, in order."""
    now = datetime.now(UTC)
    _check(fields, now.date())
    with db.writing() as session:
        row = session.scalar(sa.select(Impact).where(Impact.id == impact_id))
        if row is None:
            raise NotFound(f"No impact record {impact_id}.")
        for name in CONTENT:
            setattr(row, name, fields.get(name))
        _seal(row)
        row.revision += 1
        row.updated_at = as_naive_utc(now)
        activity = service.Known.of(session).activity(row.activity_id)
        assert activity is not None
        _emit(session, area, IMPACT_CORRECTED, row, activity, now)
        return view(row)


def get_impact(db: Database, impact_id: str) -> dict[str, Any]:
    with db.reading() as session:
        row = session.scalar(sa.select(Impact).where(Impact.id == impact_id))
        if row is None:
            raise NotFound(f"No impact record {impact_id}.")
        return view(row)


def list_impacts(db: Database, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
    with db.reading() as session:
        rows = session.scalars(sa.select(Impact).where(Impact.n > after)
                               .order_by(Impact.n).limit(limit)).all()
        return [view(r) for r in rows], (rows[-1].n if rows else after)
