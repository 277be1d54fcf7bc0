"""The witness's HTTP API: ``add-checkpoint`` (c2sp.org/tlog-witness), the checkpoint it
last cosigned of each log, and the list of the logs it follows; as a regional monitor, the
published figures of every ledger it follows side by side, in JSON and CSV, and the
releases it refused (docs/witness.md).

The protocol's own answers keep the protocol's shapes: a cosignature is text, and a 409
gives the size it expected as ``text/x.tlog.size``. Every other refusal is in the one
error shape, with the status tlog-witness gives it.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from services.witness import domain, published, service
from services.witness.models import Cosignature, WitnessedLog
from shared import notes
from shared.blueprint import Blueprint
from shared.db import current_db
from shared.errors import DomainError, NotFound
from shared.fields import UtcDateTime, cursor, page
from shared.screening import accepts
from shared.times import naive_utcnow

blp = Blueprint("witness", __name__, url_prefix="",
                description="A witness: cosigns the checkpoints of the logs it follows")

MAX_BODY = 64 * 1024  # 63 proof lines and a checkpoint with many signatures fit


class RefusedError(DomainError):
    def __init__(self, refused: domain.Refused) -> None:
        super().__init__(refused.message)
        self.status = refused.status


@blp.route("/add-checkpoint")
@accepts()  # the protocol names no content type: its body is read as bytes, whatever it says
class AddCheckpoint(MethodView):
    @blp.response(200, description="The witness's cosignature line", content_type="text/plain")
    @blp.alt_response(409, description="The old size is not the last cosigned size, which "
                      "the body gives (text/x.tlog.size)")
    def post(self) -> Response:
        """Cosign a checkpoint that extends the last one cosigned of its log; no token
        (the log's signature is the credential)."""
        body = request.get_data(cache=False)
        if len(body) > MAX_BODY:
            raise DomainError(f"The body is larger than {MAX_BODY} bytes.")
        logs = current_app.extensions["witness_logs"]
        try:
            submission = domain.parse(body)
            origin = domain.origin_of(submission.note)
            with current_db().writing() as session:
                row = session.get(WitnessedLog, origin, with_for_update=True)
                last = domain.Cosigned(row.size, row.root) if row else domain.Cosigned()
                checkpoint = domain.check(submission, logs.get(origin), last)
                timestamp = int(time.time())
                line = _cosign(checkpoint, timestamp)
                if row is None:
                    row = WitnessedLog(origin=origin)
                    session.add(row)
                row.size, row.root = checkpoint.size, checkpoint.root
                row.checkpoint, row.cosigned_at = submission.note + line, naive_utcnow()
                session.add(Cosignature(origin=origin, size=checkpoint.size,
                                        root=checkpoint.root, timestamp=timestamp,
                                        line=line))
        except domain.Refused as refused:
            if refused.status == 409 and refused.size is not None:
                return Response(f"{refused.size}\n", status=409,
                                content_type="text/x.tlog.size")
            raise RefusedError(refused) from refused
        return Response(line, content_type="text/plain; charset=utf-8")


def _cosign(checkpoint: notes.Checkpoint, timestamp: int) -> str:
    """The cosignature line, over the checkpoint's text as the log signed it."""
    return notes.cosign(checkpoint.text, current_app.config["WITNESS_NAME"],
                        current_app.extensions["witness_key"], timestamp)


@blp.route("/<origin_hash>/checkpoint")
class LatestCheckpoint(MethodView):
    @blp.response(200, description="The log's last checkpoint this witness cosigned, with "
                  "the log's signature and the cosignature", content_type="text/plain")
    def get(self, origin_hash: str) -> Response:
        """The checkpoint last cosigned of the log whose origin hashes (SHA-256, lowercase
        hex) to ``origin_hash``; no token needed."""
        for origin in current_app.extensions["witness_logs"]:
            if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                with current_db().reading() as session:
                    note = session.scalar(sa.select(WitnessedLog.checkpoint)
                                          .where(WitnessedLog.origin == origin))
                if note:
                    return Response(note, content_type="text/plain; charset=utf-8",
                                    headers={"Cache-Control": "public, max-age=2"})
                break
        raise NotFound("This witness has cosigned no checkpoint of that log.")


class LogSchema(Schema):
    origin = fields.String(required=True)
    vkey = fields.String(required=True, metadata={"description": "the log's verifier key"})
    size = fields.Integer(required=True, metadata={
        "description": "the size of the last checkpoint cosigned; 0 for none"})
    cosigned_at = fields.DateTime(allow_none=True)
    checkpoint_path = fields.String(required=True)
    ledger_url = fields.String(allow_none=True, metadata={
        "description": "where the witness fetches the ledger's published figures; null for "
                       "none"})


class WitnessSchema(Schema):
    name = fields.String(required=True)
    vkey = fields.String(required=True, metadata={
        "description": "the cosignature verifier key (type 0x04)"})
    logs = fields.List(fields.Nested(LogSchema), required=True)


@blp.route("/v1/witness")
class Witness(MethodView):
    @blp.response(200, WitnessSchema)
    def get(self) -> dict[str, Any]:
        """Who this witness is, its key, and where it stands with each log; no token."""
        logs = current_app.extensions["witness_logs"]
        urls = current_app.config.get("WITNESS_LOG_URLS") or {}
        with current_db().reading() as session:
            rows = {r.origin: r for r in session.scalars(sa.select(WitnessedLog))}
        return {"name": current_app.config["WITNESS_NAME"],
                "vkey": current_app.extensions["witness_vkey"],
                "logs": [{"origin": origin, "vkey": verifier.text,
                          "size": rows[origin].size if origin in rows else 0,
                          "cosigned_at": rows[origin].cosigned_at if origin in rows else None,
                          "checkpoint_path":
                              f"/{hashlib.sha256(origin.encode()).hexdigest()}/checkpoint",
                          "ledger_url": urls.get(origin)}
                         for origin, verifier in logs.items()]}


# The end of the text, in Python's patterns and in OpenAPI's (ECMA-262) alike: Python's $
# alone would also match before a final line break.
END = r"$(?!\n)"


class FiguresQuerySchema(Schema):
    period = fields.String(validate=validate.Regexp(rf"^({published.PERIOD}){END}"), metadata={
        "description": "A month (2026-07), a quarter (2026-Q3) or a year (2026); by default "
                       "the newest month any ledger followed published"})
    area = fields.String(validate=validate.Regexp(rf"^[a-z][a-z0-9_-]{{0,63}}{END}"), metadata={
        "description": "Only this area's figures"})
    units = fields.String(load_default="all", validate=validate.OneOf(("all", "each")),
                          metadata={"description": "all: each ledger's figures for all its "
                                    "units; each: each unit's too"})


class ComparedSchema(Schema):
    origin = fields.String(required=True)
    state = fields.String(required=True, metadata={
        "description": "current, stale, failing, never (checked) or unmonitored (no URL)"})
    checked_at = UtcDateTime(allow_none=True, metadata={
        "description": "when the witness last read the ledger's releases"})
    problem = fields.String(allow_none=True, metadata={
        "description": "what went wrong at the last check, or what waits"})
    checkpoint_size = fields.Integer(metadata={
        "description": "the size of the last checkpoint the witness cosigned of the ledger"})
    cosigned_at = UtcDateTime(allow_none=True)
    release_id = fields.Integer(allow_none=True)
    release_period = fields.String(allow_none=True)
    release_created_at = UtcDateTime(allow_none=True)
    release_tree_size = fields.Integer(allow_none=True, metadata={
        "description": "the size of the tree the release's figures were computed from"})
    entries_behind = fields.Integer(allow_none=True, metadata={
        "description": "entries the witness has cosigned since that tree: not in the figures"})
    fetched_at = UtcDateTime(allow_none=True)
    disclosure = fields.String(allow_none=True, metadata={
        "description": "how the figures were made, as the release says"})
    area = fields.String(allow_none=True)
    org_unit = fields.String(allow_none=True, metadata={"description": "'all' for every unit"})
    period_kind = fields.String(allow_none=True)
    period = fields.String(allow_none=True)
    figures = fields.Dict(keys=fields.String(), values=fields.Raw(allow_none=True), metadata={
        "description": "each measure as published; null where it is hidden (and named in "
                       "suppressed) or has nothing to divide by"})
    suppressed = fields.List(fields.String(), metadata={
        "description": "the figures the ledger hid, as published"})


class ComparisonSchema(Schema):
    period = fields.String(allow_none=True)
    generated_at = UtcDateTime()
    measures = fields.List(fields.String(), metadata={"description": "the figures' order"})
    rows = fields.List(fields.Nested(ComparedSchema))


def _compare(args: dict[str, Any]) -> dict[str, Any]:
    config = current_app.config
    return service.compare(current_db(), service.followed(config), naive_utcnow(),
                           config["WITNESS_MONITOR_STALE_AFTER"], args.get("period"),
                           args.get("area"), args["units"] == "each")


@blp.route("/v1/figures")
class Figures(MethodView):
    @blp.arguments(FiguresQuerySchema, location="query")
    @blp.response(200, ComparisonSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every ledger followed, side by side: the last checkpoint cosigned, the published
        figures of a period as the release that verified gives them, and how fresh they
        are; no token."""
        return _compare(args)


@blp.route("/v1/figures.csv")
class FiguresCsv(MethodView):
    @blp.arguments(FiguresQuerySchema, location="query")
    @blp.response(200, description="CSV: the same rows, one column per measure")
    def get(self, args: dict[str, Any]) -> Response:
        """The same comparison as CSV, to download; no token."""
        report = _compare(args)
        name = f"ladder-ledgers-{report['period'] or 'none'}.csv"
        return Response(service.comparison_csv(report), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{name}"'})


class RefusalQuerySchema(Schema):
    after = cursor(load_default=0)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class RefusalSchema(Schema):
    id = fields.Integer()
    origin = fields.String()
    release_id = fields.Integer()
    period = fields.String(allow_none=True)
    reason = fields.String()
    url = fields.String(metadata={"description": "where the release was listed"})
    first_refused_at = UtcDateTime()
    last_refused_at = UtcDateTime()
    times = fields.Integer(metadata={"description": "how many checks refused it"})


@blp.route("/v1/refusals")
class Refusals(MethodView):
    @blp.arguments(RefusalQuerySchema, location="query")
    @blp.response(200, page(RefusalSchema, "RefusalPage"))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Releases whose figures did not verify, with the reason: never kept; no token."""
        items = service.refusals(current_db(), args["after"], args["limit"])
        return {"items": items,
                "next_after": items[-1].id if len(items) == args["limit"] else None}
