"""The auditor API: entries."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.ledger import service
from services.ledger.domain import AREAS
from shared.db import current_db
from shared.envelope import EVENT_TYPES

blp = Blueprint("entries", __name__, url_prefix="/v1/entries", description="Ledger entries")


class EntryQuerySchema(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0),
                           metadata={"description": "Cursor: return entries with seq > after"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    area = fields.String(validate=validate.OneOf(AREAS))
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))
    time_from = fields.AwareDateTime(data_key="from", metadata={"description": "event time >="})
    time_to = fields.AwareDateTime(data_key="to", metadata={"description": "event time <"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if "time_from" in data and "time_to" in data and data["time_from"] >= data["time_to"]:
            raise ValidationError("must be later than from", field_name="to")


class EntrySchema(Schema):
    seq = fields.Integer(required=True)
    area = fields.String(required=True)
    org_unit = fields.String(allow_none=True)
    received_at = fields.DateTime(required=True)
    event = fields.Dict(required=True, metadata={"description": "The CloudEvent as appended"})


class EntryPageSchema(Schema):
    entries = fields.List(fields.Nested(EntrySchema), required=True)
    next_after = fields.Integer(allow_none=True, metadata={
        "description": "Pass as `after` for the next page; null when this page is the last"})


def _naive_utc(value: Any) -> Any:
    from datetime import UTC

    return value.astimezone(UTC).replace(tzinfo=None) if value is not None else None


@blp.route("")
class Entries(MethodView):
    @blp.arguments(EntryQuerySchema, location="query")
    @blp.response(200, EntryPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List entries in sequence order, after a cursor."""
        limit = min(args["limit"], current_app.config["PAGE_LIMIT_MAX"])
        query = service.EntryQuery(
            after=args["after"], limit=limit, area=args.get("area"), type=args.get("type"),
            time_from=_naive_utc(args.get("time_from")), time_to=_naive_utc(args.get("time_to")),
        )
        entries = service.list_entries(current_db(), query)
        next_after = entries[-1]["seq"] if len(entries) == limit else None
        return {"entries": entries, "next_after": next_after}
