"""Work arriving from organisations' systems: signed webhooks and CloudEvents.

Both carry the same commands as the REST API, named by event type
(``involvement.recorded`` in a webhook, ``org.ladder.involvement.recorded`` as
a CloudEvent), with the same payloads. Each delivery has an idempotency key
(``webhook-id``, or the CloudEvent's source and id); its answer is stored with
its effect in one transaction, and a repeat gets the stored answer.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn, cast

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from shared import jsonbody
from shared.area import Area, impacts, service
from shared.area.models import Integration, Receipt
from shared.area.schemas import AreaSchemas, check_moment
from shared.chunks import KEYS_PER_STATEMENT, chunks
from shared.db import KEYS, Database, execute, stage
from shared.envelope import EVENT_TYPE_PREFIX, envelope_errors, parse_time
from shared.errors import fail
from shared.times import naive_utcnow, rfc3339
from shared.webhooks import WebhookSignatureInvalid, receipt_key, verify

RECEIPTS = cast(sa.Table, Receipt.__table__)
COMMANDS = ("activity.recorded", "activity.updated", "activity.cancelled",
            "involvement.recorded", "involvement.corrected", "involvement.withdrawn",
            "impact.recorded", "impact.corrected")


def apply(db: Database, area: Area, schemas: AreaSchemas, key: str, command: str,
          data: Any) -> dict[str, Any]:
    """Validate and run one command (422 naming the field if invalid)."""
    if command not in COMMANDS:
        fail(422, message=f"Unknown type {command!r}.",
              errors={"type": [f"Must be one of: {', '.join(COMMANDS)}."]})
    try:
        fields, target = schemas.load_for(command, data)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        fail(422, message="Some fields are invalid: " + ", ".join(sorted(messages)),
             errors={"data": messages})
    if command == "activity.recorded":
        result = service.record_activity(db, area, fields)
    elif command == "activity.updated":
        result = service.update_activity(db, area, str(target), fields)
    elif command == "activity.cancelled":
        result = service.cancel_activity(db, area, str(target))
    elif command == "involvement.recorded":
        result = service.record_involvement(db, area, key, str(target), fields)
    elif command == "involvement.corrected":
        result = service.correct_involvement(db, area, str(target), fields)
    elif command == "impact.recorded":
        result = impacts.record_impact(db, area, fields)
    elif command == "impact.corrected":
        result = impacts.correct_impact(db, area, str(target), fields)
    else:
        result = service.withdraw_involvement(db, area, str(target), fields["reason"])
    return {"type": command, "result": result}


# A stored answer: its status and its JSON body, by idempotency key.
Stored = dict[str, tuple[int, str]]
# Every delivery asks these: built once, their values bound at execution.
_RECEIPTS = sa.select(Receipt.key, Receipt.status, Receipt.body).where(Receipt.key.in_(KEYS))
_SECRETS = (sa.select(Integration.secret, Integration.previous_secret)
            .where(Integration.name == sa.bindparam("name")))


def _read_receipts(session: Session, keys: list[str]) -> Stored:
    found: Stored = {}
    for chunk in chunks(keys, KEYS_PER_STATEMENT):
        found.update((key, (status, body))
                     for key, status, body in execute(session, _RECEIPTS, {"keys": chunk}))
    return found


def _stored(db: Database, key: str) -> tuple[int, Any] | None:
    with db.reading() as session:
        found = _read_receipts(session, [key]).get(key)
        return (found[0], json.loads(found[1])) if found else None


def _once(db: Database, key: str, run: Any, stored: Stored | None = None) -> tuple[int, Any]:
    """Run ``run`` and store its answer under ``key``, both in one transaction.

    Only an applied command is stored: a refused one changed nothing, so its
    sender may fix the cause (send the activity first) and deliver it again.
    ``stored`` holds the receipts a batch has already read, so that it asks once.
    """
    try:
        with db.writing() as session:
            known = stored if stored is not None else _read_receipts(session, [key])
            if key in known:
                status, text = known[key]
                return status, json.loads(text)
            body = run()
            text = json.dumps(body, default=str)
            stage(session, RECEIPTS, {"key": key, "status": 202, "body": text,
                                      "created_at": naive_utcnow()})
            known[key] = (202, text)
    except sa.exc.IntegrityError:
        # The same delivery, concurrently: the other one won; answer as it did.
        answer = _stored(db, key)
        if answer is None:
            raise
        return answer
    return 202, body


def webhook(db: Database, area: Area, schemas: AreaSchemas, key: str, integration: str,
            body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    """A Standard Webhooks delivery: ``{"type": ..., "data": {...}}``."""
    with db.looking_up() as connection:
        row = connection.execute(_SECRETS, {"name": integration}).first()
        secrets_ = [secret for secret in row if secret] if row else []
    try:
        # An unknown integration fails exactly like a bad signature: nothing to probe.
        verify(secrets_, body, headers)
    except WebhookSignatureInvalid as exc:
        fail(401, message=f"Webhook signature rejected: {exc}.")
    webhook_id = {k.lower(): v for k, v in headers.items()}["webhook-id"]
    try:
        payload = jsonbody.loads(body)
    except jsonbody.Refused as refused:
        fail(refused.status, message=refused.message, errors=refused.errors)
    if not isinstance(payload, dict):
        fail(422, message="The body must be an object with type and data.",
              errors={"type": ["Missing data for required field."]})
    return _once(db, receipt_key("webhook", integration, webhook_id), lambda: apply(
        db, area, schemas, key, str(payload.get("type")), payload.get("data")))


def _preload(session: Session, pseudonym_key: str, events: list[dict[str, Any]]) -> Stored:
    """Read in one go what a batch's commands will ask about; return its receipts."""
    stored = _read_receipts(session, sorted({receipt_key("ce", e["source"], e["id"])
                                             for e in events}))
    data = [e["data"] for e in events if isinstance(e.get("data"), dict)]
    ids = {v for d in data for v in (d.get("id"), d.get("activity_id")) if isinstance(v, str)}
    refs = {d["citizen_ref"] for d in data if isinstance(d.get("citizen_ref"), str)}
    known = service.Known.of(session)
    known.preload(ids, {d["id"] for d in data if isinstance(d.get("id"), str)},
                  {lookup for ref in refs for lookup in known.lookups(pseudonym_key, ref)})
    return stored


# The commands whose data says when the thing happened (``occurred_at``).
DATED = ("activity.recorded", "involvement.recorded")


def _dated(event: dict[str, Any], index: int | None) -> dict[str, Any]:
    """The event with its CloudEvents ``time`` as its data's ``occurred_at``.

    ``time`` is when the occurrence happened (CloudEvents 1.0, section 3.1.1), so it
    is held to the same rules as ``occurred_at``: not in the future, not before the
    earliest date. Both given must agree. Other commands are dated when applied, as
    through REST; their ``time`` is still checked.
    """
    if "time" not in event:
        return event
    where = "" if index is None else f"{index}."

    def refuse(messages: Any) -> NoReturn:
        fail(422, message=f"Invalid CloudEvent: {where}time",
             errors={"time": messages} if index is None else {str(index): {"time": messages}})

    when = parse_time(event["time"])
    try:
        check_moment(when)
    except ValidationError as exc:
        refuse(exc.messages)
    data = event.get("data")
    if event["type"].removeprefix(EVENT_TYPE_PREFIX) not in DATED or not isinstance(data, dict):
        return event
    given = data.get("occurred_at")
    if given is None:
        return {**event, "data": {**data, "occurred_at": rfc3339(when)}}
    try:
        same = parse_time(given) == when
    except ValueError:
        return event  # the schema names what is wrong with it
    if not same:
        refuse(["Must equal data.occurred_at when both are given."])
    return event


def cloudevents(db: Database, area: Area, schemas: AreaSchemas, key: str, events: list[Any],
                batch: bool) -> tuple[int, Any]:
    """CloudEvents in any HTTP mode, already shaped as structured events.

    A batch is all or nothing: one invalid event and none is applied.
    """
    loaded: list[dict[str, Any]] = []
    for index, raw in enumerate(events):
        event = raw if isinstance(raw, dict) else {}
        # CloudEvents 1.0 structured mode, checked in plain Python (see envelope_errors).
        messages = envelope_errors(event)
        if messages:
            where = f"{index}." if batch else ""
            fail(422, message="Invalid CloudEvent: " + ", ".join(
                where + name for name in sorted(messages)),
                errors={str(index): messages} if batch else messages)
        if not event["type"].startswith(EVENT_TYPE_PREFIX):
            fail(422, message=f"Unknown type {event['type']!r}.",
                  errors={"type": [f"Must be {EVENT_TYPE_PREFIX}<command>."]})
        loaded.append(_dated(event, index if batch else None))
    for attempt in (1, 2):
        try:
            results = []
            with db.writing() as session:
                stored = _preload(session, key, loaded)
                for event in loaded:
                    receipt = receipt_key("ce", event["source"], event["id"])
                    command = event["type"].removeprefix(EVENT_TYPE_PREFIX)
                    _, body = _once(db, receipt, lambda c=command, e=event: apply(
                        db, area, schemas, key, c, e.get("data")), stored)
                    results.append({"id": event["id"], **body})
            break
        except sa.exc.IntegrityError:
            # A concurrent delivery of some of these events won; the retry finds its receipts.
            if attempt == 2:
                raise
    return 202, ({"results": results} if batch else results[0])
