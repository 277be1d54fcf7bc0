"""The auditor API: entries (inspect), measures, exports, the access log; tokens for admins.

Who may read what is in docs/api.md, "Reader tiers".
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, stream_with_context
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.ledger import access, erasures, exports, metrics, service
from services.ledger.domain import AREAS
from services.ledger.measures import PERIODS
from services.ledger.models import ApiToken
from shared.auth import (
    PURPOSE_MAX,
    SCOPE_VERBS,
    create_token,
    is_admin,
    list_tokens,
    may,
    purpose_problem,
    require,
    revoke_token,
)
from shared.blueprint import Blueprint
from shared.db import current_db
from shared.envelope import EVENT_TYPES
from shared.errors import NotFound
from shared.fields import INT64_MAX, INT_ID, TimeBound, UtcDateTime, cursor, page
from shared.grounds import GROUNDS
from shared.times import as_naive_utc

blp = Blueprint("ledger", __name__, url_prefix="/v1", description="The involvement ledger")


class EntryFilterSchema(Schema):
    after = cursor(load_default=0, maximum=INT64_MAX,
                   metadata={"description": "Cursor: entries with seq > after"})
    area = fields.String(validate=validate.OneOf(AREAS))
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))
    org_unit = fields.String(validate=validate.Length(min=1, max=256))
    pseudonym = fields.String(validate=validate.Length(min=1, max=64))
    time_from = TimeBound(data_key="from", metadata={"description": "Event time >= this"})
    time_to = TimeBound(end=True, data_key="to", metadata={"description": "Event time < this"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_: Any) -> None:
        if "time_from" in data and "time_to" in data and data["time_from"] >= data["time_to"]:
            raise ValidationError("must be later than from", field_name="to")


class EntryQuerySchema(EntryFilterSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class ExportQuerySchema(EntryFilterSchema):
    format = fields.String(load_default="ndjson", validate=validate.OneOf(("csv", "ndjson")))


def _entry_query(args: dict[str, Any], limit: int | None) -> service.EntryQuery:
    return service.EntryQuery(
        after=args["after"], limit=limit, area=args.get("area"), type=args.get("type"),
        org_unit=args.get("org_unit"), pseudonym=args.get("pseudonym"),
        time_from=as_naive_utc(args.get("time_from")), time_to=as_naive_utc(args.get("time_to")))


class EntrySchema(Schema):
    seq = fields.Integer(required=True)
    area = fields.String(required=True)
    org_unit = fields.String(allow_none=True)
    pseudonym = fields.String(allow_none=True)
    received_at = UtcDateTime(required=True)
    event = fields.Dict(required=True, allow_none=True, metadata={
        "description": "The CloudEvent as appended; null once the entry is erased"})
    salt = fields.String(required=True, allow_none=True, metadata={
        "description": "Format 2's salt, hex; null in format 1 and once erased"})
    leaf_hash = fields.String(required=True, metadata={
        "description": "base64 of the entry's RFC 9162 leaf hash; the entry's line is "
                       "rebuilt from seq, received_at, event and salt as "
                       "docs/ledger-format.md says, and hashes to it"})
    erased = fields.Nested(Schema.from_dict({"ground": fields.String(),
                                             "erased_at": UtcDateTime()}, name="Erased"),
                           required=True, allow_none=True, metadata={
        "description": "When and on what ground the entry's content was erased; null if not"})


EntryPageSchema = page(EntrySchema, "EntryPage")


@blp.route("/entries")
class Entries(MethodView):
    @require("inspect")
    @blp.arguments(EntryQuerySchema, location="query")
    @blp.response(200, EntryPageSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List entries in sequence order, after a cursor."""
        limit = min(args["limit"], current_app.config["PAGE_LIMIT_MAX"])
        entries = service.list_entries(current_db(), _entry_query(args, limit))
        next_after = entries[-1]["seq"] if len(entries) == limit else None
        return {"items": entries, "next_after": next_after}


@blp.route("/exports/entries")
class EntryExport(MethodView):
    @require("inspect")
    @blp.arguments(ExportQuerySchema, location="query")
    @blp.response(200, description="CSV or NDJSON, streamed")
    def get(self, args: dict[str, Any]) -> Response:
        """Export entries, streamed in sequence order (CSV or NDJSON)."""
        query = _entry_query(args, None)
        db = current_db()
        if args["format"] == "csv":
            body, mimetype = exports.entries_csv(db, query), "text/csv"
        else:
            body, mimetype = exports.entries_ndjson(db, query), "application/x-ndjson"
        filename = f"ladder-entries.{args['format']}"
        return Response(stream_with_context(body), mimetype=mimetype, headers={
            "Content-Disposition": f'attachment; filename="{filename}"'})


class MetricsQuerySchema(Schema):
    area = fields.String(validate=validate.OneOf(AREAS))
    org_unit = fields.String(validate=validate.Length(min=1, max=256))
    period = fields.String(load_default="quarter", validate=validate.OneOf(PERIODS))
    group_by = fields.String(load_default="period", validate=validate.OneOf(metrics.GROUPS))
    start = fields.Date(required=True, data_key="from")
    end = fields.Date(required=True, data_key="to", metadata={"description": "inclusive"})

    @validates_schema
    def _check(self, data: dict[str, Any], **_: Any) -> None:
        if "start" in data and "end" in data and data["start"] > data["end"]:
            raise ValidationError("must not be before from", field_name="to")
        if "start" in data and "end" in data and (data["end"] - data["start"]).days > 3700:
            raise ValidationError("a range is at most ten years", field_name="to")
        if data.get("group_by", "period") != "area" and "area" not in data:
            raise ValidationError("required unless group_by=area", field_name="area")


class FiguresSchema(Schema):
    area = fields.String(allow_none=True)
    org_unit = fields.String(allow_none=True)
    period = fields.String(allow_none=True)
    starts = fields.String()
    activities = fields.Integer(allow_none=True)
    activities_involved = fields.Integer(allow_none=True)
    coverage = fields.Float(allow_none=True)
    involvements = fields.Integer(allow_none=True)
    steps = fields.Dict(keys=fields.String(), values=fields.Integer(allow_none=True))
    median_step = fields.Float(allow_none=True)
    co_design_or_higher = fields.Float(allow_none=True)
    co_production = fields.Float(allow_none=True)
    citizens = fields.Integer(allow_none=True)
    returning_citizens = fields.Integer(allow_none=True)
    hours = fields.Float(allow_none=True)
    recognition_rate = fields.Float(allow_none=True)
    decision_vote_share = fields.Float(allow_none=True)
    feedback_rate = fields.Float(allow_none=True)
    told = fields.Integer(allow_none=True, metadata={
        "description": "Involvements whose citizens were told what came of them (impact "
                       "records)"})
    told_rate = fields.Float(allow_none=True)
    changed = fields.Integer(allow_none=True, metadata={
        "description": "Involvements whose contribution led to a recorded change"})
    change_rate = fields.Float(allow_none=True)
    median_days_to_feedback = fields.Float(allow_none=True, metadata={
        "description": "Days from an involvement to its citizens being told, the median"})
    non_financial_share = fields.Float(allow_none=True, metadata={
        "description": "The share of recognition offered as a time credit"})
    rubric_versions = fields.List(fields.String(), metadata={
        "description": "The rubric versions whose steps the figures mix"})
    index = fields.Float(allow_none=True)
    suppressed = fields.List(fields.String(), metadata={
        "description": "Figures not shown because the rounded count under them is below the "
                       "threshold (docs/metrics.md)"})


class DisclosureSchema(Schema):
    method = fields.String(required=True, metadata={
        "description": "'exact' (admin readers), or the disclosure-control method the figures "
                       "were made with"})
    base = fields.Integer(metadata={"description": "Counts are multiples of it"})
    threshold = fields.Integer(metadata={
        "description": "A share, median, index or hours needs a rounded count of at least "
                       "this under it"})


class MetricsSchema(Schema):
    area = fields.String(allow_none=True)
    org_unit = fields.String(allow_none=True)
    period = fields.String()
    group_by = fields.String()
    start = fields.String(data_key="from")
    end = fields.String(data_key="to")
    periods = fields.List(fields.String())
    disclosure = fields.Nested(DisclosureSchema, metadata={
        "description": "How the figures were made: exact, or disclosure-controlled"})
    rows = fields.List(fields.Nested(FiguresSchema))
    total = fields.Nested(FiguresSchema, allow_none=True)


def _report(args: dict[str, Any], exact: bool) -> dict[str, Any]:
    query = metrics.MetricsQuery(start=args["start"], end=args["end"], area=args.get("area"),
                                 org_unit=args.get("org_unit"), period=args["period"],
                                 group_by=args["group_by"])
    control = None if exact else current_app.extensions["disclosure"]
    report = metrics.metrics(current_db(), query, control)
    report["start"], report["end"] = report.pop("from"), report.pop("to")
    return report


@blp.route("/metrics")
class Metrics(MethodView):
    @require("read")
    @blp.arguments(MetricsQuerySchema, location="query")
    @blp.response(200, MetricsSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Measures of involvement per period, area or org unit: disclosure-controlled for
        every reader but admins, who read them exact."""
        return _report(args, exact=is_admin())


@blp.route("/exports/metrics")
class MetricsExport(MethodView):
    @require("read")
    @blp.arguments(MetricsQuerySchema, location="query")
    @blp.response(200, description="CSV; always disclosure-controlled, for every reader")
    def get(self, args: dict[str, Any]) -> Response:
        """Export measures as CSV, always disclosure-controlled: fit to pass on."""
        report = _report(args, exact=False)
        report["from"], report["to"] = report["start"], report["end"]
        return Response(exports.metrics_csv(report), mimetype="text/csv", headers={
            "Content-Disposition": 'attachment; filename="ladder-metrics.csv"'})


class AccessQuerySchema(Schema):
    after = cursor(load_default=0)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))
    token_name = fields.String(validate=validate.Length(min=1, max=200))
    since = TimeBound(metadata={"description": "Reads at or after this"})


class AccessSchema(Schema):
    id = fields.Integer()
    at = UtcDateTime()
    token_name = fields.String(allow_none=True)
    scopes = fields.String(allow_none=True)
    method = fields.String()
    path = fields.String()
    status = fields.Integer()
    remote_addr = fields.String(allow_none=True)
    user_agent = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True, metadata={
        "description": "The purpose the reading token states, if any"})


def _page(items: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """A page of rows keyed by ``id``: the next one starts after the last, if it was full."""
    return {"items": items, "next_after": items[-1]["id"] if len(items) == limit else None}


@blp.route("/access-log")
class AccessLogView(MethodView):
    @require("read")
    @blp.arguments(AccessQuerySchema, location="query")
    @blp.response(200, page(AccessSchema, "AccessPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Who read the ledger, what, when, from where and why, oldest first, after a cursor.

        A read token sees each path without its query, and no address, user agent or
        purpose; inspect and admin tokens see everything.
        """
        return _page(access.query(current_db(), args["after"], args["limit"],
                                  args.get("token_name"), as_naive_utc(args.get("since")),
                                  redacted=not may("inspect")),
                     args["limit"])


PURPOSE_DOC = {"description": "Why the token reads entries, e.g. the inspection and "
                              "data-sharing agreement it serves: required with "
                              "ledger:inspect, and logged with each of its reads"}


class TokenInSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    scopes = fields.List(fields.String(validate=validate.OneOf(
        [f"ledger:{v}" for v in SCOPE_VERBS["ledger"]])), required=True,
        validate=validate.Length(min=1))
    purpose = fields.String(validate=validate.Length(min=1, max=PURPOSE_MAX),
                            metadata=PURPOSE_DOC)

    @validates_schema
    def _purpose(self, data: dict[str, Any], **_: Any) -> None:
        why = purpose_problem(data.get("purpose"), "ledger:inspect" in data["scopes"])
        if why:
            raise ValidationError(why, field_name="purpose")


class TokenSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    scopes = fields.List(fields.String())
    purpose = fields.String(allow_none=True, metadata=PURPOSE_DOC)
    created_at = UtcDateTime()
    revoked_at = UtcDateTime(allow_none=True)
    token = fields.String(metadata={"description": "Shown once, at creation"})


@blp.route("/tokens")
class Tokens(MethodView):
    @require("admin")
    @blp.response(200, page(TokenSchema, "TokenPage"))
    def get(self) -> dict[str, Any]:
        """List tokens (never the tokens themselves), all on one page."""
        return {"items": list_tokens(current_db(), ApiToken), "next_after": None}

    @require("admin")
    @blp.arguments(TokenInSchema)
    @blp.response(201, TokenSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a read, inspect or admin token; the answer is the only time it is shown."""
        token = create_token(current_db(), ApiToken, current_app.config["TOKEN_PEPPER"],
                             body["name"], body["scopes"], body.get("purpose"))
        created = list_tokens(current_db(), ApiToken)[-1]
        return {**created, "token": token}


@blp.route(f"/tokens/<{INT_ID}:token_id>/revocation")
class Revocation(MethodView):
    @require("admin")
    @blp.response(200, TokenSchema)
    def post(self, token_id: int) -> dict[str, Any]:
        """Revoke a token."""
        revoke_token(current_db(), ApiToken, token_id=token_id)
        for token in list_tokens(current_db(), ApiToken):
            if token["id"] == token_id:
                return token
        raise NotFound(f"No token {token_id}.")


Revocation.accepts = ()  # type: ignore[attr-defined]


class RejectedSchema(Schema):
    id = fields.Integer()
    received_at = UtcDateTime()
    reason = fields.String()
    source = fields.String(allow_none=True, metadata={
        "description": "The event's source, if it had one; NUL and lone surrogates escaped"})
    event_id = fields.String(allow_none=True, metadata={
        "description": "The event's id, if it had one; escaped the same way"})
    payload = fields.String(metadata={
        "description": "The event as it came: JSON with every non-ASCII character escaped, "
                       "so it loads back exactly (or, if it was not JSON at all, its repr)"})


@blp.route("/rejected")
class RejectedEvents(MethodView):
    @require("admin")
    @blp.arguments(AccessQuerySchema(only=("after", "limit")), location="query")
    @blp.response(200, page(RejectedSchema, "RejectedPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Events the ledger could not accept, with the reason, oldest first, after a cursor."""
        return _page(service.list_rejected(current_db(), args["after"], args["limit"]),
                     args["limit"])


class ErasureInSchema(Schema):
    ground = fields.String(required=True, validate=validate.OneOf(list(GROUNDS)),
                           metadata={"description": "The ground of UK GDPR Article 17(1) the "
                                                    "erasure rests on: " + "; ".join(
                                         f"{k} = {v}" for k, v in GROUNDS.items())})
    reference = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "The data-protection case it answers, e.g. the request's reference: "
                       "never the person's name"})


class ErasureSchema(Schema):
    seq = fields.Integer(required=True)
    ground = fields.String(required=True)
    reference = fields.String(required=True, allow_none=True)
    erased_at = UtcDateTime(required=True)
    erased_by = fields.String(required=True, metadata={"description": "The admin token's name"})
    format = fields.Integer(required=True, metadata={
        "description": "The entry's log format: 2 leaves a commitment that reveals nothing; "
                       "1 leaves the hash of the content itself (docs/ledger-format.md)"})


class ErasureResultSchema(ErasureSchema):
    scrub = fields.Nested(Schema.from_dict({
        "complete": fields.Boolean(required=True, metadata={
            "description": "Nothing of the erased content is left in the database's files"}),
        "incomplete_because": fields.List(fields.String(), required=True, metadata={
            "description": "What keeps it from being complete; erasing the same entry again "
                           "finishes what waited on readers"})}, name="EntryScrub"),
        required=True)


@blp.route("/entries/<int:seq>/erasure")
class EntryErasure(MethodView):
    @require("admin")
    @blp.arguments(ErasureInSchema)
    @blp.response(200, ErasureResultSchema)
    def post(self, body: dict[str, Any], seq: int) -> dict[str, Any]:
        """Erase an entry's content on a recorded ground. Its leaf hash stays, so every
        proof and signed tree head still verifies; erasing it again changes nothing."""
        if seq > INT64_MAX:
            raise NotFound(f"The ledger has no entry {seq}.")
        return erasures.erase(current_db(), seq, body["ground"], body.get("reference"),
                              g.token_name)


@blp.route("/erasures")
class Erasures(MethodView):
    @require("admin")
    @blp.arguments(AccessQuerySchema(only=("after", "limit")), location="query")
    @blp.response(200, page(ErasureSchema, "ErasurePage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Erased entries, by seq, after a cursor: on what ground, when and by whom."""
        items = erasures.listed(current_db(), args["after"], args["limit"])
        return {"items": items,
                "next_after": items[-1]["seq"] if len(items) == args["limit"] else None}
