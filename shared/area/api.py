"""The REST API every area serves, with its webhooks and CloudEvents endpoints.

Routes are thin: parse with a schema, call one use case, return a schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from flask import Flask, current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields
from marshmallow.utils import missing

from shared import areas, metrics, outbox, text
from shared.app import make_app
from shared.area import Area, erasure, impacts, inbound, service
from shared.area.models import ApiToken, Outbox
from shared.area.schemas import (
    AreaSchemas,
    ErasureResultSchema,
    ErasureSchema,
    HeldPageSchema,
    ImpactContent,
    ImpactIn,
    ImpactOut,
    ImpactPageSchema,
    PageArgsSchema,
    WithdrawalSchema,
)
from shared.auth import require
from shared.blueprint import Blueprint
from shared.db import current_db
from shared.errors import LadderApi, fail
from shared.fields import page
from shared.screening import NO_CONTENT_TYPE, accepts, after_authentication, json_body

CLOUDEVENT_TYPES = ("application/cloudevents+json", "application/cloudevents-batch+json",
                    "application/json")


# What the webhook and CloudEvents routes read themselves, for the OpenAPI document.
WEBHOOK_HEADERS = [{"in": "header", "name": name, "required": True, "schema": {"type": "string"}}
                   for name in ("webhook-id", "webhook-timestamp", "webhook-signature")]
WEBHOOK_BODY = {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["type", "data"],
    "properties": {"type": {"type": "string", "enum": list(inbound.COMMANDS)},
                   "data": {"type": "object"}}}}}}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 512}
_CLOUDEVENT = {"type": "object", "required": ["specversion", "id", "source", "type"],
               "properties": {"specversion": {"type": "string", "enum": ["1.0"]},
                              "id": _TEXT, "source": _TEXT, "subject": _TEXT,
                              "type": {**_TEXT, "pattern": r"^org\.ladder\."},
                              "datacontenttype": _TEXT,
                              "time": {"type": "string", "format": "date-time",
                                       "description": "When it happened: for a recorded "
                                       "activity or involvement, its occurred_at; not in the "
                                       "future, not before 2000-01-01T00:00:00Z"},
                              "data": {"type": "object"}}}
CLOUDEVENTS_BODY = {"required": True, "content": {
    "application/cloudevents+json": {"schema": _CLOUDEVENT},
    "application/cloudevents-batch+json": {"schema": {"type": "array", "items": _CLOUDEVENT,
                                                      "minItems": 1}},
    "application/json": {"schema": {"type": "object", "description": "binary mode: the "
                                    "event's data, with ce-* headers"}}}}


class InboundResultSchema(Schema):
    type = fields.String()
    id = fields.String()
    result = fields.Dict()
    results = fields.List(fields.Dict())


def _key() -> str:
    return str(current_app.config["PSEUDONYM_KEY"])


def _ce_headers() -> dict[str, str]:
    """Binary mode's attributes, percent-decoded as the CloudEvents HTTP binding says."""
    attributes: dict[str, str] = {}
    bad: dict[str, list[str]] = {}
    for header, value in request.headers.items():
        name = header.lower()
        if not name.startswith("ce-"):
            continue
        try:
            decoded = unquote(value, errors="strict")
        except UnicodeDecodeError:
            bad[name] = ["Not percent-encoded UTF-8."]
            continue
        why = text.problem(decoded)
        if why:
            bad[name] = [why]
        attributes[name[3:]] = decoded
    if bad:
        fail(422, message="Some headers are invalid: " + ", ".join(sorted(bad)),
             errors={"headers": bad})
    return attributes


def _events_from_request() -> tuple[list[Any], bool]:
    """Read CloudEvents in structured, batch or binary HTTP mode.

    Binary mode's data is JSON, with or without ``Content-Type: application/json``:
    an SDK that sends none (the official Python SDK's ``to_binary`` does not) means
    JSON, as docs/api.md says.
    """
    body = json_body()
    if request.mimetype == "application/cloudevents-batch+json":
        if not isinstance(body, list) or not body:
            fail(422, message="A batch is a non-empty JSON array of CloudEvents.",
                  errors={"json": ["Must be a non-empty array."]})
        return list(body), True
    if request.mimetype == "application/cloudevents+json":
        if body is missing:
            fail(400, message="A structured-mode CloudEvent needs a body.")
        return [body], False
    headers = _ce_headers()
    if "specversion" not in headers:
        fail(400, message="Binary-mode CloudEvents need ce-specversion, ce-id, ce-source "
              "and ce-type headers; or send application/cloudevents+json.")
    event: dict[str, Any] = {**headers, "datacontenttype": "application/json"}
    if body is not missing:
        event["data"] = body
    return [event], False


def area_blueprint(area: Area, schemas: AreaSchemas) -> Blueprint:
    blp = Blueprint(area.name, f"{areas.get(area.name).module}.api", url_prefix="/v1",
                    description=f"{area.activity_path.capitalize()} and citizens' "
                    f"involvement in them")
    path = area.activity_path
    activity_page = page(schemas.activity_out, f"{area.name.capitalize()}ActivityPage")
    involvement_page = page(schemas.involvement_out,
                            f"{area.name.capitalize()}InvolvementPage")

    @blp.route(f"/{path}")
    class Activities(MethodView):
        @require("read")
        @blp.arguments(PageArgsSchema, location="query")
        @blp.response(200, activity_page)
        def get(self, args: dict[str, Any]) -> dict[str, Any]:
            """List activities, oldest first, after a cursor."""
            items, last = service.list_activities(current_db(), args["after"], args["limit"])
            return {"items": items, "next_after": last if len(items) == args["limit"] else None}

        @require("write")
        @blp.arguments(schemas.activity_in)
        @blp.response(202, schemas.activity_out)
        def post(self, body: dict[str, Any]) -> dict[str, Any]:
            """Record an activity; it counts in the denominator of coverage."""
            return service.record_activity(current_db(), area, body)

    @blp.route(f"/{path}/<activity_id>")
    class ActivityById(MethodView):
        @require("read")
        @blp.response(200, schemas.activity_out)
        def get(self, activity_id: str) -> dict[str, Any]:
            """One activity."""
            return service.get_activity(current_db(), area, activity_id)

        @require("write")
        @blp.arguments(schemas.activity_patch)
        @blp.response(202, schemas.activity_out)
        def patch(self, changes: dict[str, Any], activity_id: str) -> dict[str, Any]:
            """Update an activity's details; the ledger gets an activity.updated event."""
            return service.update_activity(current_db(), area, activity_id, changes)

    @blp.route(f"/{path}/<activity_id>/cancellation")
    class Cancellation(MethodView):
        @require("write")
        @blp.response(202, schemas.activity_out)
        def post(self, activity_id: str) -> dict[str, Any]:
            """Cancel an activity; no involvement can be added to it afterwards."""
            return service.cancel_activity(current_db(), area, activity_id)

    Cancellation.accepts = ()  # type: ignore[attr-defined]

    @blp.route(f"/{path}/<activity_id>/involvements")
    class Involvements(MethodView):
        @require("read")
        @blp.response(200, involvement_page)
        def get(self, activity_id: str) -> dict[str, Any]:
            """The involvements recorded in one activity, all on one page."""
            items = service.list_involvements(current_db(), area, activity_id)
            return {"items": items, "next_after": None}

        @require("write")
        @blp.arguments(schemas.involvement_in)
        @blp.response(202, schemas.involvement_out)
        def post(self, body: dict[str, Any], activity_id: str) -> dict[str, Any]:
            """Record a citizen's involvement; the step is derived from the facts."""
            return service.record_involvement(current_db(), area, _key(), activity_id, body)

    @blp.route("/involvements/<involvement_id>")
    class InvolvementById(MethodView):
        @require("read")
        @blp.response(200, schemas.involvement_out)
        def get(self, involvement_id: str) -> dict[str, Any]:
            """One involvement, as it now stands."""
            return service.get_involvement(current_db(), involvement_id)

    @blp.route("/involvements/<involvement_id>/corrections")
    class Corrections(MethodView):
        @require("write")
        @blp.arguments(schemas.correction)
        @blp.response(202, schemas.involvement_out)
        def post(self, body: dict[str, Any], involvement_id: str) -> dict[str, Any]:
            """Correct the facts of an involvement: a new event, never an edit of the old."""
            return service.correct_involvement(current_db(), area, involvement_id, body)

    @blp.route("/involvements/<involvement_id>/withdrawal")
    class Withdrawal(MethodView):
        @require("write")
        @blp.arguments(WithdrawalSchema)
        @blp.response(202, schemas.involvement_out)
        def post(self, body: dict[str, Any], involvement_id: str) -> dict[str, Any]:
            """Withdraw an involvement; it stops counting, and the ledger keeps the history."""
            return service.withdraw_involvement(current_db(), area, involvement_id,
                                                body["reason"])

    @blp.route("/impacts")
    class Impacts(MethodView):
        @require("read")
        @blp.arguments(PageArgsSchema, location="query")
        @blp.response(200, ImpactPageSchema)
        def get(self, args: dict[str, Any]) -> dict[str, Any]:
            """List impact records ("you said, we did"), oldest first, after a cursor."""
            items, last = impacts.list_impacts(current_db(), args["after"], args["limit"])
            return {"items": items, "next_after": last if len(items) == args["limit"] else None}

        @require("write")
        @blp.arguments(ImpactIn)
        @blp.response(202, ImpactOut)
        def post(self, body: dict[str, Any]) -> dict[str, Any]:
            """Record what came of an involvement, or of an activity: what the citizens said,
            what changed or why nothing could, and when they were told."""
            return impacts.record_impact(current_db(), area, body)

    @blp.route("/impacts/<impact_id>")
    class ImpactById(MethodView):
        @require("read")
        @blp.response(200, ImpactOut)
        def get(self, impact_id: str) -> dict[str, Any]:
            """One impact record, as it now stands, with its salt and commitment."""
            return impacts.get_impact(current_db(), impact_id)

    @blp.route("/impacts/<impact_id>/corrections")
    class ImpactCorrections(MethodView):
        @require("write")
        @blp.arguments(ImpactContent)
        @blp.response(202, ImpactOut)
        def post(self, body: dict[str, Any], impact_id: str) -> dict[str, Any]:
            """Correct an impact record (all it says, again): a new event, never an edit."""
            return impacts.correct_impact(current_db(), area, impact_id, body)

    @blp.route("/citizens/erasure")
    class Erasure(MethodView):
        @require("admin")
        @blp.arguments(ErasureSchema)
        @blp.response(200, ErasureResultSchema)
        @blp.alt_response(503, description="An area's database failed; errors names each. "
                          "The others are done: send the same request again to finish.")
        def post(self, body: dict[str, Any]) -> dict[str, Any]:
            """Erase a citizen in every area, from its database and from its disk."""
            with erasure.opened(current_app.config["AREA_DATABASE_URLS"]) as databases:
                return erasure.erase_citizen(databases, _key(), body["citizen_ref"])

    @blp.route("/outbox/held")
    class HeldEvents(MethodView):
        @require("admin")
        @blp.arguments(PageArgsSchema, location="query")
        @blp.response(200, HeldPageSchema)
        def get(self, args: dict[str, Any]) -> dict[str, Any]:
            """Events the relay cannot publish at all, held with the reason, oldest first."""
            items = outbox.list_held(current_db(), Outbox, args["after"], args["limit"])
            return {"items": items,
                    "next_after": items[-1]["id"] if len(items) == args["limit"] else None}

    @blp.route("/rubric/explanation")
    class RubricExplanation(MethodView):
        @require("read")
        @blp.arguments(schemas.facts)
        @blp.response(200, schemas.explanation)
        def post(self, facts: dict[str, Any]) -> dict[str, Any]:
            """Explain the step that facts give: the row that decides it, and its source.

            Nothing is recorded: it is a read, and takes the read scope.
            """
            return service.explain(area, facts)

    @blp.route("/webhooks/<integration>")
    @after_authentication
    class Webhooks(MethodView):
        @blp.response(202, InboundResultSchema)
        @blp.doc(parameters=WEBHOOK_HEADERS, requestBody=WEBHOOK_BODY)
        @blp.doc(description="Signed per Standard Webhooks (webhook-id, webhook-timestamp, "
                 "webhook-signature). Body: {\"type\": \"involvement.recorded\", \"data\": "
                 "{...}}, where data is the REST payload, with activity_id or id naming the "
                 "target. A replayed webhook-id gets the first answer and changes nothing.")
        def post(self, integration: str) -> Any:
            """Receive a signed webhook from an integrated system."""
            status, body = inbound.webhook(current_db(), area, schemas, _key(), integration,
                                           request.get_data(), dict(request.headers))
            return body, status

    @blp.route("/events")
    class Events(MethodView):
        @require("write")
        @blp.response(202, InboundResultSchema)
        @blp.doc(requestBody=CLOUDEVENTS_BODY)
        @blp.doc(description="CloudEvents 1.0 in structured (application/cloudevents+json), "
                 "batch (application/cloudevents-batch+json) or binary (ce-* headers) mode. "
                 "type is org.ladder.<command>, e.g. org.ladder.involvement.recorded.")
        def post(self) -> Any:
            """Receive CloudEvents from systems that speak them."""
            events, batch = _events_from_request()
            status, body = inbound.cloudevents(current_db(), area, schemas, _key(), events,
                                               batch)
            return body, status

    accepts(*CLOUDEVENT_TYPES, NO_CONTENT_TYPE)(Events)
    return blp


def create_area_app(service: str, config: Mapping[str, Any] | None) -> Flask:
    """An area's service (shared/areas.py): the common app, its area's blueprint, and any
    of its own."""

    def register(app: Flask, api: LadderApi) -> None:
        module = areas.get(service).part("api")
        app.extensions["token_model"] = ApiToken
        metrics.gauges(app, lambda db: outbox.backlog(db, Outbox))
        for blueprint in (module.blp, *getattr(module, "extra_blueprints", ())):
            api.register_blueprint(blueprint)

    return make_app(service, config, register)

