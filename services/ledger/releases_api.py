"""Published releases, readable by anyone without a token: open data at stable URLs."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from services.ledger import releases
from services.ledger.log_api import STHSchema
from shared.blueprint import Blueprint
from shared.db import current_db
from shared.fields import INT_ID, UtcDateTime, cursor, page

blp = Blueprint("releases", __name__, url_prefix="/v1/releases",
                description="Published releases: disclosure-controlled figures as open data")

# A release never changes: a cache may keep it for a year without asking again.
IMMUTABLE = "public, max-age=31536000, immutable"


class ReleaseQuerySchema(Schema):
    after = cursor(load_default=0)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    period = fields.String(validate=validate.Length(min=4, max=8), metadata={
        "description": "Only this period's releases: 2026, 2026-Q3 or 2026-07"})


class ReleaseSchema(Schema):
    id = fields.Integer()
    period_kind = fields.String()
    period = fields.String()
    created_at = UtcDateTime()
    replaces = fields.Integer(allow_none=True, metadata={
        "description": "The release this one corrects"})
    replaced_by = fields.Integer(allow_none=True, metadata={
        "description": "The release that corrects this one, if any"})
    reason = fields.String(allow_none=True, metadata={"description": "Why it was corrected"})
    tree_head = fields.Nested(STHSchema, metadata={
        "description": "The signed tree head the figures were computed from"})
    disclosure = fields.Dict(metadata={"description": "The method and its parameters"})
    figures_sha256 = fields.String(metadata={"description": "SHA-256 of figures.csv, hex"})


@blp.route("")
class Releases(MethodView):
    @blp.arguments(ReleaseQuerySchema, location="query")
    @blp.response(200, page(ReleaseSchema, "ReleasePage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every release, oldest first, after a cursor; no token needed."""
        items = releases.list_releases(current_db(), args["after"], args["limit"],
                                       args.get("period"))
        return {"items": items,
                "next_after": items[-1]["id"] if len(items) == args["limit"] else None}


@blp.route(f"/<{INT_ID}:release_id>")
class ReleaseView(MethodView):
    @blp.response(200, ReleaseSchema)
    def get(self, release_id: int) -> dict[str, Any]:
        """One release: its period, its tree head, and what corrects it; no token needed."""
        return releases.get_release(current_db(), release_id)[0]


def _csv(body: str, name: str) -> Response:
    response = Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": IMMUTABLE})
    response.add_etag()
    response.make_conditional(request)
    return response


@blp.route(f"/<{INT_ID}:release_id>/figures.csv")
class ReleaseFigures(MethodView):
    @blp.response(200, description="CSV: the release's figures, as published")
    def get(self, release_id: int) -> Response:
        """A release's figures (CSV), byte for byte as published; no token needed."""
        release, figures = releases.get_release(current_db(), release_id)
        return _csv(figures, f"ladder-{release['period']}-release-{release_id}.csv")


@blp.route(f"/<{INT_ID}:release_id>/dictionary.csv")
class ReleaseDictionary(MethodView):
    @blp.response(200, description="CSV: what each column of figures.csv means")
    def get(self, release_id: int) -> Response:
        """The data dictionary of a release's figures (CSV); no token needed."""
        release, _ = releases.get_release(current_db(), release_id)
        return _csv(releases.dictionary_csv(release["disclosure"]),
                    f"ladder-{release['period']}-release-{release_id}-dictionary.csv")
