"""The REST API every area serves, with its webhooks and CloudEvents endpoints.

Routes are thin: parse with a schema, call one use case, return a schema. Each is a
view of :data:`routes`, written once; :func:`area_blueprint` makes an area's Blueprint
of them, with the area's own schemas (shared/area/routes.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import unquote

from flask import Flask, Response, current_app, request
from marshmallow import Schema, fields, missing

from shared import metrics, outbox, text
from shared.app import make_app
from shared.area import Area, erasure, impacts, inbound, receipts, recording, service
from shared.area.models import ApiToken, Outbox
from shared.area.routes import AreaRoutes, AreaView
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
from shared.blueprint import Blueprint
from shared.db import current_db
from shared.errors import LadderApi, fail
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


def _ledger() -> receipts.Fetch | None:
    """How this service asks the ledger for receipts; None without a token to ask with."""
    token = current_app.config["RECEIPTS_TOKEN"]
    return receipts.ledger(current_app.config["LEDGER_URL"], token) if token else None


def _page(items: list[dict[str, Any]], last: Any, limit: int) -> dict[str, Any]:
    """One page of a list: a cursor after its last item if the page is full."""
    return {"items": items, "next_after": last if len(items) == limit else None}


routes = AreaRoutes()


@routes.route("/{path}")
class Activities(AreaView):
    @routes.require("read")
    @routes.arguments(PageArgsSchema, location="query")
    @routes.response(200, "activity_page")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List activities, oldest first, after a cursor."""
        items, last = service.list_activities(current_db(), args["after"], args["limit"])
        return _page(items, last, args["limit"])

    @routes.require("write")
    @routes.arguments("activity_in")
    @routes.response(202, "activity_out")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record an activity; it counts in the denominator of coverage."""
        return service.record_activity(current_db(), self.area, body)


@routes.route("/{path}/<activity_id>")
class ActivityById(AreaView):
    @routes.require("read")
    @routes.response(200, "activity_out")
    def get(self, activity_id: str) -> dict[str, Any]:
        """One activity."""
        return service.get_activity(current_db(), self.area, activity_id)

    @routes.require("write")
    @routes.arguments("activity_patch")
    @routes.response(202, "activity_out")
    def patch(self, changes: dict[str, Any], activity_id: str) -> dict[str, Any]:
        """Update an activity's details; the ledger gets an activity.updated event."""
        return service.update_activity(current_db(), self.area, activity_id, changes)


@routes.route("/{path}/<activity_id>/cancellation")
class Cancellation(AreaView):
    # It takes no body, so any content type will do.
    accepts: tuple[str, ...] = ()

    @routes.require("write")
    @routes.response(202, "activity_out")
    def post(self, activity_id: str) -> dict[str, Any]:
        """Cancel an activity; no involvement can be added to it afterwards."""
        return service.cancel_activity(current_db(), self.area, activity_id)


@routes.route("/{path}/<activity_id>/involvements")
class Involvements(AreaView):
    @routes.require("read")
    @routes.response(200, "involvement_page")
    def get(self, activity_id: str) -> dict[str, Any]:
        """The involvements recorded in one activity, all on one page."""
        items = service.list_involvements(current_db(), self.area, activity_id)
        return {"items": items, "next_after": None}

    @routes.require("write")
    @routes.arguments("involvement_in")
    @routes.response(202, "involvement_out")
    def post(self, body: dict[str, Any], activity_id: str) -> dict[str, Any]:
        """Record a citizen's involvement; the step is derived from the facts."""
        return service.record_involvement(current_db(), self.area, _key(), activity_id, body)


@routes.route("/involvements/<involvement_id>")
class InvolvementById(AreaView):
    @routes.require("read")
    @routes.response(200, "involvement_out")
    def get(self, involvement_id: str) -> dict[str, Any]:
        """One involvement, as it now stands."""
        return service.get_involvement(current_db(), involvement_id)


@routes.route("/involvements/<involvement_id>/corrections")
class Corrections(AreaView):
    @routes.require("write")
    @routes.arguments("correction")
    @routes.response(202, "involvement_out")
    def post(self, body: dict[str, Any], involvement_id: str) -> dict[str, Any]:
        """Correct the facts of an involvement: a new event, never an edit of the old."""
        return service.correct_involvement(current_db(), self.area, involvement_id, body)


@routes.route("/involvements/<involvement_id>/withdrawal")
class Withdrawal(AreaView):
    @routes.require("write")
    @routes.arguments(WithdrawalSchema)
    @routes.response(202, "involvement_out")
    def post(self, body: dict[str, Any], involvement_id: str) -> dict[str, Any]:
        """Withdraw an involvement; it stops counting, and the ledger keeps the history."""
        return service.withdraw_involvement(current_db(), self.area, involvement_id,
                                            body["reason"])


@routes.route("/involvements/<involvement_id>/receipt")
class InvolvementReceipt(AreaView):
    @routes.require("read")
    @routes.response(200, description="A .tlog-proof file, as the ledger gave it",
                     content_type="text/plain")
    @routes.alt_response(409, description="The ledger does not hold the event yet, or no "
                         "checkpoint it serves covers it: try again shortly. Or the ledger "
                         "cannot prove it at all (the message says why, e.g. erased).")
    @routes.alt_response(503, description="Receipts are not configured here "
                         "(LADDER_RECEIPTS_TOKEN), the ledger refuses the token, or the "
                         "ledger cannot be reached.")
    def get(self, involvement_id: str) -> Response:
        """The ledger's receipt of the event that recorded this involvement.

        Its entry, index, inclusion proof and the (cosigned) checkpoint: a
        c2sp.org/tlog-proof file that `ladder verify-receipt` checks with the public keys
        alone, as the ledger gave it.
        """
        found = receipts.involvement_receipt(current_db(), self.area, involvement_id,
                                             _ledger())
        return Response(found.body, content_type="text/plain; charset=utf-8",
                        headers={"Content-Disposition": found.disposition})


@routes.route("/impacts")
class Impacts(AreaView):
    @routes.require("read")
    @routes.arguments(PageArgsSchema, location="query")
    @routes.response(200, ImpactPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List impact records ("you said, we did"), oldest first, after a cursor."""
        items, last = impacts.list_impacts(current_db(), args["after"], args["limit"])
        return _page(items, last, args["limit"])

    @routes.require("write")
    @routes.arguments(ImpactIn)
    @routes.response(202, ImpactOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record what came of an involvement, or of an activity: what the citizens said,
        what changed or why nothing could, and when they were told."""
        return impacts.record_impact(current_db(), self.area, body)


@routes.route("/impacts/<impact_id>")
class ImpactById(AreaView):
    @routes.require("read")
    @routes.response(200, ImpactOut)
    def get(self, impact_id: str) -> dict[str, Any]:
        """One impact record, as it now stands, with its salt and commitment."""
        return impacts.get_impact(current_db(), impact_id)


@routes.route("/impacts/<impact_id>/corrections")
class ImpactCorrections(AreaView):
    @routes.require("write")
    @routes.arguments(ImpactContent)
    @routes.response(202, ImpactOut)
    def post(self, body: dict[str, Any], impact_id: str) -> dict[str, Any]:
        """Correct an impact record (all it says, again): a new event, never an edit."""
        return impacts.correct_impact(current_db(), self.area, impact_id, body)


@routes.route("/citizens/erasure")
class Erasure(AreaView):
    @routes.require("admin")
    @routes.arguments(ErasureSchema)
    @routes.response(200, ErasureResultSchema)
    @routes.alt_response(503, description="An area's database failed; errors names each. "
                         "The others are done: send the same request again to finish.")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Erase a citizen in every area, from its database and from its disk."""
        with erasure.opened(current_app.config["AREA_DATABASE_URLS"]) as databases:
            return erasure.erase_citizen(databases, _key(), body["citizen_ref"])


@routes.route("/outbox/held")
class HeldEvents(AreaView):
    @routes.require("admin")
    @routes.arguments(PageArgsSchema, location="query")
    @routes.response(200, HeldPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Events the relay cannot publish at all, held with the reason, oldest first."""
        items = outbox.list_held(current_db(), Outbox, args["after"], args["limit"])
        return {"items": items,
                "next_after": items[-1]["id"] if len(items) == args["limit"] else None}


@routes.route("/rubric/explanation")
class RubricExplanation(AreaView):
    @routes.require("read")
    @routes.arguments("facts")
    @routes.response(200, "explanation")
    def post(self, facts: dict[str, Any]) -> dict[str, Any]:
        """Explain the step that facts give: the row that decides it, and its source.

        Nothing is recorded: it is a read, and takes the read scope.
        """
        return service.explain(self.area, facts)


@routes.route("/webhooks/<integration>")
@after_authentication
class Webhooks(AreaView):
    @routes.response(202, InboundResultSchema)
    @routes.doc(parameters=WEBHOOK_HEADERS, requestBody=WEBHOOK_BODY)
    @routes.doc(description="Signed per Standard Webhooks (webhook-id, webhook-timestamp, "
                "webhook-signature). Body: {\"type\": \"involvement.recorded\", \"data\": "
                "{...}}, where data is the REST payload, with activity_id or id naming the "
                "target. A replayed webhook-id gets the first answer and changes nothing.")
    def post(self, integration: str) -> Any:
        """Receive a signed webhook from an integrated system."""
        status, body = inbound.webhook(current_db(), self.area, self.schemas, _key(),
                                       integration, request.get_data(), dict(request.headers))
        return body, status


@routes.route("/events")
@accepts(*CLOUDEVENT_TYPES, NO_CONTENT_TYPE)
class Events(AreaView):
    @routes.require("write")
    @routes.response(202, InboundResultSchema)
    @routes.doc(requestBody=CLOUDEVENTS_BODY)
    @routes.doc(description="CloudEvents 1.0 in structured (application/cloudevents+json), "
                "batch (application/cloudevents-batch+json) or binary (ce-* headers) mode. "
                "type is org.ladder.<command>, e.g. org.ladder.involvement.recorded.")
    def post(self) -> Any:
        """Receive CloudEvents from systems that speak them."""
        events, batch = _events_from_request()
        status, body = inbound.cloudevents(current_db(), self.area, self.schemas, _key(),
                                           events, batch)
        return body, status


def area_blueprint(area: Area, schemas: AreaSchemas, import_name: str) -> Blueprint:
    """An area's Blueprint: every route above, with the area's own schemas.

    ``import_name`` is the area's ``api`` module, as for any Blueprint (``__name__``).
    """
    return routes.blueprint(area, schemas, import_name, url_prefix="/v1",
                            description=f"{area.activity_path.capitalize()} and citizens' "
                            f"involvement in them")


def create_area_app(name: str, config: Mapping[str, Any] | None,
                    blueprints: Sequence[Blueprint], schemas: AreaSchemas) -> Flask:
    """An area's service (shared/areas.py): the common app, the blueprints its package
    hands over (its ``api`` module's ``BLUEPRINTS``: the area's, and any of its own), and
    the recording pages, made of its ``SCHEMAS``."""

    def register(app: Flask, api: LadderApi) -> None:
        app.extensions["token_model"] = ApiToken
        metrics.gauges(app, lambda db: outbox.backlog(db, Outbox))
        for blueprint in blueprints:
            api.register_blueprint(blueprint)
        recording.init_app(app, schemas.area, schemas.activity_in, schemas.involvement_in)

    return make_app(name, config, register)
