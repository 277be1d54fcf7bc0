"""The subscriptions API: admins say where the ledger's changes and alerts should go."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.ledger.domain import AREAS
from services.ledger.measures import PERIODS
from services.ledger.webhooks import domain, messages, subscriptions
from services.ledger.webhooks.settings import Settings
from shared.auth import PURPOSE_MAX, require
from shared.blueprint import Blueprint
from shared.db import current_db
from shared.errors import fail
from shared.fields import NEXT_AFTER, Flag, Number, TimeBound, UtcDateTime, integer, page
from shared.screening import JSON, NO_CONTENT_TYPE, accepts
from shared.times import as_naive_utc, naive_utcnow

blp = Blueprint("subscriptions", __name__, url_prefix="/v1/subscriptions",
                description="Webhooks out: subscriptions, their messages and delivery log")


def _settings() -> Settings:
    return Settings.from_config(current_app.config)


def _page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """A page of rows keyed by ``id``: the next one starts after the last, if it was full."""
    return {"items": items, "next_after": items[-1]["id"] if len(items) == limit else None}


class AlertRuleSchema(Schema):
    id = fields.Integer(dump_only=True)
    area = fields.String(required=True, validate=validate.OneOf(AREAS))
    org_unit = fields.String(allow_none=True, validate=validate.Length(min=1, max=256),
                             metadata={"description": "One unit; absent or null for all"})
    measure = fields.String(required=True, validate=validate.OneOf(domain.MEASURES),
                            metadata={"description": "A figure of GET /v1/metrics"})
    period = fields.String(load_default="quarter", validate=validate.OneOf(PERIODS))
    operator = fields.String(required=True, validate=validate.OneOf(domain.OPERATORS))
    threshold = Number(required=True, validate=validate.Range(min=0, max=10**9), metadata={
        "description": "Shares are fractions: 0.5 is 50%"})


GRANT_DOC = {"description": "read (default): a notice of each batch, its sequence numbers "
                            "and tree head, no entries; inspect: the entries, for a stated "
                            "purpose"}
PURPOSE_DOC = {"description": "Why the subscriber reads entries: required with the inspect "
                              "grant"}


def _grant(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(domain.GRANTS), metadata=GRANT_DOC, **kwargs)


def _purpose() -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=PURPOSE_MAX), metadata=PURPOSE_DOC)


class SubscriptionInSchema(Schema):
    url = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={
        "description": "http(s); its host must resolve to public addresses only"})
    description = fields.String(load_default="", validate=validate.Length(max=500))
    event_types = fields.List(
        fields.String(validate=validate.OneOf(domain.FILTER_TYPES)), load_default=list,
        validate=validate.Length(max=len(domain.FILTER_TYPES)), metadata={
            "description": "Entry, alert and operational types; empty for every entry and "
                           "alert type"})
    areas = fields.List(fields.String(validate=validate.OneOf(AREAS)), load_default=list,
                        metadata={"description": "Empty for every area"})
    grant = _grant(load_default=domain.READ)
    purpose = _purpose()
    enabled = Flag(load_default=True)
    alerts = fields.List(fields.Nested(AlertRuleSchema), load_default=list,
                         validate=validate.Length(max=50))


class SubscriptionPatchSchema(Schema):
    """Every field optional; ``alerts`` replaces the list."""

    url = fields.String(validate=validate.Length(min=1, max=2000))
    description = fields.String(validate=validate.Length(max=500))
    event_types = fields.List(fields.String(validate=validate.OneOf(domain.FILTER_TYPES)))
    areas = fields.List(fields.String(validate=validate.OneOf(AREAS)))
    grant = _grant()
    purpose = _purpose()
    enabled = Flag()
    alerts = fields.List(fields.Nested(AlertRuleSchema), validate=validate.Length(max=50))


class SubscriptionSchema(Schema):
    id = fields.String()
    url = fields.String()
    description = fields.String()
    event_types = fields.List(fields.String())
    areas = fields.List(fields.String())
    grant = fields.String(metadata=GRANT_DOC)
    purpose = fields.String(allow_none=True, metadata=PURPOSE_DOC)
    enabled = fields.Boolean()
    disabled_reason = fields.String(allow_none=True, metadata={
        "description": "manual, gone (the endpoint answered 410) or failing (a message "
                       "spent its whole retry schedule)"})
    disabled_at = UtcDateTime(allow_none=True)
    previous_secret_expires_at = UtcDateTime(allow_none=True, metadata={
        "description": "Until then the previous secret signs too"})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    last_success_at = UtcDateTime(allow_none=True)
    alerts = fields.List(fields.Nested(AlertRuleSchema))
    secret = fields.String(metadata={"description": "whsec_...; shown at creation and "
                                                    "rotation only"})


OVERLAP = validate.Range(min=0, max=7 * 86400)
OVERLAP_DOC = {"description": "Seconds the previous secret keeps signing (default "
                              "LADDER_WEBHOOK_SECRET_OVERLAP); 0 retires it at once"}


class RotationArgs(Schema):
    """The query's form: text, as every query argument is."""

    overlap_seconds = fields.Integer(validate=OVERLAP, metadata=OVERLAP_DOC)


class RotationBody(Schema):
    """The body's form: a JSON integer; any other field is refused."""

    overlap_seconds = integer(validate=OVERLAP, metadata=OVERLAP_DOC)


class MessageQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf((domain.PENDING, domain.SUCCEEDED,
                                                    domain.FAILED)))
    after = fields.String(validate=validate.Length(min=1, max=40),
                          metadata={"description": "Cursor: messages with a later id"})
    since = TimeBound(metadata={"description": "Made at or after this"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class AttemptQuerySchema(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0),
                           metadata={"description": "Cursor: attempts with id > after"})
    outcome = fields.String(validate=validate.OneOf((domain.SUCCEEDED, domain.FAILED)))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class DeliveryAttemptSchema(Schema):
    id = fields.Integer()
    message_id = fields.String()
    attempted_at = UtcDateTime()
    url = fields.String()
    status = fields.Integer(allow_none=True, metadata={"description": "null: no HTTP answer"})
    outcome = fields.String()
    error = fields.String(allow_none=True)
    latency_ms = fields.Integer()
    response = fields.String(allow_none=True, metadata={
        "description": "The first 1024 bytes of the answer"})
    next_attempt_at = UtcDateTime(allow_none=True)


class WebhookMessageSchema(Schema):
    id = fields.String(metadata={"description": "The webhook-id, the same on every attempt"})
    subscription_id = fields.String()
    event_type = fields.String()
    created_at = UtcDateTime()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = UtcDateTime(allow_none=True)
    last_attempt_at = UtcDateTime(allow_none=True)
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    first_seq = fields.Integer(allow_none=True)
    last_seq = fields.Integer(allow_none=True)
    tree_size = fields.Integer(allow_none=True)


class WebhookMessageDetailSchema(WebhookMessageSchema):
    payload = fields.Dict(allow_none=True, metadata={
        "description": "The CloudEvent sent; null until the first attempt builds it"})
    delivery_attempts = fields.List(fields.Nested(DeliveryAttemptSchema))


class RecoveryInSchema(Schema):
    since = TimeBound(required=True, metadata={"description": "Made at or after this"})
    until = TimeBound(end=True, metadata={"description": "Made before this"})

    @validates_schema
    def _order(self, data: dict[str, Any], **_: Any) -> None:
        if "until" in data and data["until"] <= data["since"]:
            raise ValidationError("must be later than since", field_name="until")


class RecoverySchema(Schema):
    messages = fields.Integer(metadata={"description": "How many failed messages go again"})


@blp.route("")
class Subscriptions(MethodView):
    @require("admin")
    @blp.response(200, page(SubscriptionSchema, "SubscriptionPage"))
    def get(self) -> dict[str, Any]:
        """List subscriptions (never their secrets), all on one page."""
        return {"items": subscriptions.list_subscriptions(current_db()), "next_after": None}

    @require("admin")
    @blp.arguments(SubscriptionInSchema)
    @blp.response(201, SubscriptionSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Subscribe a URL; the answer carries its whsec_ secret, the only time it is shown."""
        return subscriptions.create_subscription(current_db(), _settings(), body, naive_utcnow())


@blp.route("/<sub_id>")
class SubscriptionView(MethodView):
    @require("admin")
    @blp.response(200, SubscriptionSchema)
    def get(self, sub_id: str) -> dict[str, Any]:
        """One subscription."""
        return subscriptions.get_subscription(current_db(), sub_id)

    @require("admin")
    @blp.arguments(SubscriptionPatchSchema)
    @blp.response(200, SubscriptionSchema)
    def patch(self, body: dict[str, Any], sub_id: str) -> dict[str, Any]:
        """Change a subscription; ``enabled: true`` re-enables one that was disabled.

        ``grant: inspect`` needs a ``purpose``, given with it or stated before.
        """
        return subscriptions.update_subscription(current_db(), _settings(), sub_id, body,
                                                 naive_utcnow())

    @require("admin")
    @blp.response(204)
    def delete(self, sub_id: str) -> None:
        """Delete a subscription with its messages and delivery log."""
        subscriptions.delete_subscription(current_db(), sub_id)


@blp.route("/<sub_id>/secret/rotation")
class Rotation(MethodView):
    @require("admin")
    @blp.arguments(RotationArgs, location="query")
    @blp.arguments(RotationBody, location="json", required=False)
    @blp.response(200, SubscriptionSchema)
    def post(self, query: dict[str, Any], body: dict[str, Any], sub_id: str) -> dict[str, Any]:
        """A new secret, shown this once; the previous one signs too for a while.

        `overlap_seconds` goes in the JSON body (`{"overlap_seconds": 0}`) or the
        query; no body means the default overlap.
        """
        given = [int(v) for v in (query.get("overlap_seconds"), body.get("overlap_seconds"))
                 if v is not None]
        if len(set(given)) > 1:
            fail(422, message="Some fields are invalid: overlap_seconds", errors={"json": {
                "overlap_seconds": ["Differs from the query's overlap_seconds; give it once."]}})
        overlap = given[0] if given else current_app.config["WEBHOOK_SECRET_OVERLAP"]
        return subscriptions.rotate_secret(current_db(), sub_id, float(overlap), naive_utcnow())


@blp.route("/<sub_id>/messages")
class Messages(MethodView):
    @require("admin")
    @blp.arguments(MessageQuerySchema, location="query")
    @blp.response(200, page(WebhookMessageSchema, "WebhookMessagePage", fields.String(
        required=True, allow_none=True, metadata={"description": NEXT_AFTER + " (a message id)"})))
    def get(self, args: dict[str, Any], sub_id: str) -> dict[str, Any]:
        """The subscription's messages, oldest first, and where each delivery stands."""
        items = messages.list_messages(current_db(), sub_id, args.get("status"),
                                       args.get("after"), as_naive_utc(args.get("since")),
                                       args["limit"])
        return _page(items, args["limit"])


@blp.route("/<sub_id>/messages/<message_id>")
class MessageView(MethodView):
    @require("admin")
    @blp.response(200, WebhookMessageDetailSchema)
    def get(self, sub_id: str, message_id: str) -> dict[str, Any]:
        """One message: the CloudEvent sent and every attempt at it."""
        return messages.get_message(current_db(), sub_id, message_id)


@blp.route("/<sub_id>/messages/<message_id>/resend")
class Resend(MethodView):
    @require("admin")
    @blp.response(202, WebhookMessageSchema)
    def post(self, sub_id: str, message_id: str) -> dict[str, Any]:
        """Deliver this message again, with the same webhook-id; 409 if disabled."""
        return messages.resend(current_db(), sub_id, message_id, naive_utcnow())


@blp.route("/<sub_id>/attempts")
class Attempts(MethodView):
    @require("admin")
    @blp.arguments(AttemptQuerySchema, location="query")
    @blp.response(200, page(DeliveryAttemptSchema, "DeliveryAttemptPage"))
    def get(self, args: dict[str, Any], sub_id: str) -> dict[str, Any]:
        """The delivery log: every attempt, its time, status, latency and first bytes."""
        return _page(messages.list_attempts(current_db(), sub_id, args["after"], args["limit"],
                                            args.get("outcome")), args["limit"])


@blp.route("/<sub_id>/recovery")
class Recovery(MethodView):
    @require("admin")
    @blp.arguments(RecoveryInSchema)
    @blp.response(202, RecoverySchema)
    def post(self, body: dict[str, Any], sub_id: str) -> dict[str, int]:
        """Deliver again every message that failed, made since ``since``; 409 if disabled."""
        since = as_naive_utc(body["since"])
        assert since is not None
        return {"messages": messages.recover(current_db(), sub_id, since,
                                             as_naive_utc(body.get("until")), naive_utcnow())}


# A rotation takes a JSON body, or none at all (``curl -X POST`` sends no Content-Type).
accepts(*JSON, NO_CONTENT_TYPE)(Rotation)
Resend.accepts = ()  # type: ignore[attr-defined]
