"""Targets over HTTP: anyone who reads the figures reads the targets; an admin sets and
removes them (services/ledger/targets.py)."""

from __future__ import annotations

from typing import Any

from flask import Response, g
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.ledger import targets
from services.ledger.domain import AREAS
from shared.auth import require
from shared.blueprint import Blueprint
from shared.db import current_db
from shared.fields import INT_ID, Number, UtcDateTime, page
from shared.times import naive_utcnow

blp = Blueprint("targets", __name__, url_prefix="/v1/targets",
                description="The figures an organisation aims for, shown against its own")


class TargetInSchema(Schema):
    area = fields.String(required=True, validate=validate.OneOf(AREAS))
    measure = fields.String(required=True, validate=validate.OneOf(list(targets.MEASURES)),
                            metadata={"description": "A share (0-1), the index (0-100) or "
                                                     "the median step (1-7)"})
    value = Number(required=True, metadata={"description": "In the measure's own range"})
    org_unit = fields.String(validate=validate.Length(min=1, max=256), metadata={
        "description": "One unit of the area; without it, the whole area"})

    @validates_schema
    def _in_range(self, data: dict[str, Any], **_: Any) -> None:
        if "measure" in data and "value" in data:
            low, high = targets.MEASURES[data["measure"]]
            if not low <= data["value"] <= high:
                raise ValidationError(f"{data['measure']} runs from {low:g} to {high:g}.",
                                      field_name="value")


class TargetSchema(Schema):
    id = fields.Integer(required=True)
    area = fields.String(required=True)
    org_unit = fields.String(required=True, allow_none=True, metadata={
        "description": "null: the whole area"})
    measure = fields.String(required=True)
    value = fields.Float(required=True)
    set_at = UtcDateTime(required=True)
    set_by = fields.String(required=True, metadata={"description": "The admin token's name"})


class TargetQuerySchema(Schema):
    area = fields.String(validate=validate.OneOf(AREAS))


@blp.route("")
class Targets(MethodView):
    @require("read")
    @blp.arguments(TargetQuerySchema, location="query")
    @blp.response(200, page(TargetSchema, "TargetPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every target (or one area's, for every unit), by area, unit and measure, on
        one page: an organisation has a few dozen at most."""
        found = targets.list_targets(current_db())
        return {"items": [t for t in found if args.get("area") in (None, t["area"])],
                "next_after": None}

    @require("admin")
    @blp.arguments(TargetInSchema)
    @blp.response(200, TargetSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Set a target: a new one, or it replaces the area's (and unit's) target of that
        measure."""
        return targets.set_target(current_db(), body["area"], body["measure"],
                                  body["value"], body.get("org_unit"), g.token_name,
                                  naive_utcnow())


@blp.route(f"/<{INT_ID}:target_id>")
class TargetById(MethodView):
    @require("admin")
    @blp.response(204)
    def delete(self, target_id: int) -> Response:
        """Remove a target."""
        targets.remove_target(current_db(), target_id)
        return Response(status=204)


TargetById.accepts = ()  # type: ignore[attr-defined]
