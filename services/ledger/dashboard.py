"""The auditor's dashboard: server-rendered pages at /dashboard, for people, not programs.

Sign-in exchanges an auditor or admin token for a session (shared/sessions.py);
every form carries a CSRF token (Flask-WTF). The pages read the same measures the
API serves, disclosure-controlled for every reader but admins exactly as there, and
every page view is in the access log. Not part of the OpenAPI document: it is a plain Blueprint.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate
from werkzeug.wrappers import Response

from services.ledger import (
    downloads,
    exports,
    integrity,
    receipts,
    releases,
    reports,
    service,
    tables,
)
from services.ledger.disclosure import Control
from services.ledger.domain import AREAS
from services.ledger.measures import PERIODS, last_twelve_months, period_start
from services.ledger.metrics import next_start, periods_between
from services.ledger.models import ApiToken, DashboardSession
from shared import pages
from shared.db import current_db
from shared.errors import Forbidden, Invalid, NotFound, Unavailable
from shared.involvement import DEFINITIONS
from shared.sessions import Sessions

blp = Blueprint("dashboard", __name__, url_prefix="/dashboard",
                template_folder="templates", static_folder="assets",
                static_url_path="/static")
# Every tier includes read: read, inspect and admin tokens all sign in.
SESSIONS = Sessions("ledger", "read", ApiToken, DashboardSession,
                    "That token cannot read the ledger: the dashboard needs a ledger:read, "
                    "ledger:inspect or ledger:admin token.")
# Signing in and out, the guard of every page, their headers and the error page.
pages.Pages(blp, lambda: SESSIONS, "dashboard.overview", "dashboard",
            "an auditor or admin token").install()


def init_app(app: Flask) -> None:
    """The dashboard's pages, their session cookie only /dashboard sees."""
    # The subscriber portal's pages are the dashboard's: importing it adds them.
    from services.ledger import portal  # noqa: F401

    pages.configure(app, app.config["SESSION_SECRET"], "ladder_dashboard", "/dashboard")
    app.register_blueprint(blp)


# -- dates: written once --------------------------------------------------------------


@blp.before_request
def _dates_from_parts() -> Response | None:
    """The filter form asks for each date as day, month and year (the GOV.UK date input):
    such a query is sent on to the same page with the date written once, as every link
    writes it (``from=2026-01-01``). A part missing or not a number is 422, naming it."""
    if request.method != "GET" or not any(f"{name}-{part}" in request.args
                                          for name in ("from", "to")
                                          for part in pages.DATE_PARTS):
        return None
    args = {k: v for k, v in request.args.items() if not re.fullmatch(
        r"(from|to)-(day|month|year)", k)}
    for name in ("from", "to"):
        try:
            written = pages.date_from_parts(request.args, name)
        except pages.NotADate as exc:
            raise Invalid(f"Some filters are invalid: {name} "
                          f"{exc.problem[0].lower()}{exc.problem[1:-1]}.",
                          {"query": {name: [exc.problem]}}) from exc
        if written is not None:
            args[name] = written
    return redirect(url_for(request.endpoint or "dashboard.overview",
                            **{**(request.view_args or {}), **args}))


@blp.context_processor
def _context() -> dict[str, Any]:
    reader = g.get("reader")
    return {"reader": reader, "areas": AREAS, "shown": reports.shown,
            "period_label": reports.period_label, "labels": reports.LABELS,
            "step_names": reports.STEP_NAMES, "periods": PERIODS, "columns": tables,
            "disclosure": current_app.extensions["disclosure"]}


def _control() -> Control | None:
    """Admins read exact figures, as in the API; every other reader disclosure-controlled."""
    return None if g.reader.is_admin else current_app.extensions["disclosure"]


# -- filters ----------------------------------------------------------------------------


class FilterSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    period = fields.String(load_default="month", validate=validate.OneOf(PERIODS))
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")
    org_unit = fields.String(validate=validate.Length(min=1, max=256))


def _filters(with_unit: bool) -> reports.Filters:
    """The page's filters from its query string; an empty field means its default."""
    raw = {k: v for k, v in request.args.items() if v.strip()}
    if not with_unit:
        raw.pop("org_unit", None)
    try:
        args = FilterSchema().load(raw)
    except ValidationError as exc:
        messages = exc.normalized_messages()
        raise Invalid("Some filters are invalid: " + ", ".join(sorted(messages)),
                      {"query": messages}) from exc
    start, end = last_twelve_months(date.today())
    start, end = args.get("start", start), args.get("end", end)
    problem = ("must not be before from" if start > end else
               "a range is at most ten years" if (end - start).days > 3700 else None)
    if problem:
        raise Invalid(f"Some filters are invalid: to {problem}.", {"query": {"to": [problem]}})
    return reports.Filters(args["period"], start, end, args.get("org_unit"))


def _unit_filters(area: str) -> reports.Filters:
    """An area page's filters; a unit the area has never had is 404, naming its units."""
    filters = _filters(with_unit=True)
    if filters.org_unit is not None:
        units = reports.units_of(current_db(), area)
        if filters.org_unit not in units:
            raise NotFound(f"No unit {filters.org_unit} in {area}; its units are "
                           f"{', '.join(units) or 'none yet'}.")
    return filters


# -- pages --------------------------------------------------------------------------------


@blp.get("")
def overview() -> str:
    """The areas side by side, and the integrity of the log."""
    filters = _filters(with_unit=False)
    db = current_db()
    page = reports.overview(db, filters, _control())
    checked = integrity.check(db, current_app.extensions["signer"],
                              current_app.extensions["witnesses"],
                              current_app.config["WITNESS_QUORUM"])
    return render_template(
        "dashboard/overview.html", page=page, filters=filters, integrity=checked,
        title="All areas", table_url=lambda name, fmt: url_for(
            "dashboard.overview_table", **{"name": name, "fmt": fmt, **filters.params()}))


@blp.get("/areas/<area>")
def area(area: str) -> str:
    """One area: headline, ladder, trend, and its organisational units."""
    if area not in AREAS:
        raise NotFound(f"No area {area}; the areas are {', '.join(AREAS)}.")
    filters = _unit_filters(area)
    page = reports.area_report(current_db(), area, filters, _control())
    return render_template(
        "dashboard/area.html", page=page, filters=filters, title=area.capitalize(),
        table_url=lambda name, fmt: url_for("dashboard.area_table", **{
            "area": area, "name": name, "fmt": fmt, **filters.params()}))


@blp.get("/methods")
def methods() -> str:
    """The ladder's steps in TLAP's words, each figure's formula, the index, and what a
    rounded or hidden figure means."""
    return render_template(
        "dashboard/methods.html", title="How to read these figures",
        definitions=DEFINITIONS, activity_kinds=releases.ACTIVITY_KINDS,
        meanings=tables.EXPLAINED.items())


@blp.get("/report.pdf")
def report_pdf() -> Response:
    """The period report: every area's figures for the range, their tables, how to read
    them, and the signed tree head they were computed from, as PDF."""
    filters = _filters(with_unit=False)
    db, control = current_db(), _control()
    before = reports.basis(db)
    overview_page = reports.overview(db, filters, control)
    area_pages = {a: reports.area_report(db, a, filters, control) for a in AREAS}
    after = reports.basis(db)
    span = f"{filters.start.isoformat()} to {filters.end.isoformat()}"
    html = render_template(
        "dashboard/report.html", title=f"How far up the ladder: {span}", filters=filters,
        overview=overview_page,
        overview_tables=list(tables.overview_tables(overview_page, filters).values()),
        areas_tables=[(a, list(tables.area_tables(p, filters).values()))
                      for a, p in area_pages.items()],
        cover=_cover(None, filters, before, after), definitions=DEFINITIONS,
        activity_kinds=releases.ACTIVITY_KINDS, meanings=tables.EXPLAINED.items())
    try:
        # Loaded here: WeasyPrint needs Pango, which only this page does.
        from services.ledger import report
    except OSError as exc:
        raise Unavailable("The PDF report needs Pango (Debian: apt-get install "
                          "libpango-1.0-0 libpangoft2-1.0-0); every other page works "
                          f"without it. {exc}") from exc
    return Response(report.pdf(html, request.host_url), mimetype="application/pdf",
                    headers={"Content-Disposition": "attachment; filename="
                             f'"ladder-report-{filters.start}-to-{filters.end}.pdf"'})


# -- the entries behind a figure: the inspect tier only --------------------------------

ENTRIES_PER_PAGE = 100


class EntriesSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**62))


def _inspector() -> None:
    if not g.reader.can_inspect:
        raise Forbidden("The entries behind a figure are for the inspect tier: sign in "
                        "with an inspect token, which states its purpose.")


@blp.get("/areas/<area>/entries")
def area_entries(area: str) -> str:
    """The entries an area's figures over the range are made from: those of its events
    dated in the range (and unit), in the order the log holds them, each with a link to
    its receipt."""
    _inspector()
    if area not in AREAS:
        raise NotFound(f"No area {area}; the areas are {', '.join(AREAS)}.")
    filters = _unit_filters(area)
    try:
        after = EntriesSchema().load(request.args)["after"]
    except ValidationError as exc:
        raise Invalid("Some filters are invalid: after", {"query": exc.messages}) from exc
    # The figures count whole periods: the entries are those of every period the range
    # overlaps.
    periods = periods_between(filters.period, filters.start, filters.end)
    start = period_start(filters.period, periods[0])
    end = next_start(filters.period, periods[-1])
    items = service.list_entries(current_db(), service.EntryQuery(
        after=after, limit=ENTRIES_PER_PAGE + 1, area=area, org_unit=filters.org_unit,
        time_from=datetime.combine(start, time()), time_to=datetime.combine(end, time())))
    more = len(items) > ENTRIES_PER_PAGE
    items = items[:ENTRIES_PER_PAGE]
    return render_template(
        "dashboard/entries.html", title=f"{area.capitalize()}: entries", area=area,
        filters=filters, items=items, first=start, last=end - timedelta(days=1),
        next_after=items[-1]["seq"] if more else None, per_page=ENTRIES_PER_PAGE)


@blp.get("/entries/<int:seq>/receipt")
def entry_receipt(seq: int) -> Response:
    """Entry ``seq``'s receipt (c2sp.org/tlog-proof), to check offline with
    ``ladder verify-receipt``."""
    _inspector()
    return receipts.download(current_db(), seq)


# -- downloads: every table as CSV, a page's tables as a spreadsheet -------------------


@blp.get("/tables/<name>.<fmt>")
def overview_table(name: str, fmt: str) -> Response:
    """One table of the page of all areas, as CSV or ODS."""
    return _download(None, name, fmt)


@blp.get("/areas/<area>/tables/<name>.<fmt>")
def area_table(area: str, name: str, fmt: str) -> Response:
    """One table of an area's page, as CSV or ODS."""
    return _download(area, name, fmt)


def _download(area: str | None, name: str, fmt: str) -> Response:
    """``name`` a table of the page, or ``all`` (ODS only): every table of it."""
    if fmt not in ("csv", "ods") or (name == "all" and fmt == "csv"):
        raise NotFound("A table downloads as .csv or .ods; every table of a page, "
                       "all.ods.")
    db = current_db()
    before = reports.basis(db)
    if area is None:
        filters = _filters(with_unit=False)
        found = tables.overview_tables(reports.overview(db, filters, _control()), filters)
    else:
        if area not in AREAS:
            raise NotFound(f"No area {area}; the areas are {', '.join(AREAS)}.")
        filters = _unit_filters(area)
        found = tables.area_tables(
            reports.area_report(db, area, filters, _control()), filters)
    if name != "all" and name not in found:
        raise NotFound(f"No table {name} on this page; its tables are "
                       f"{', '.join(found)}, or all of them as all.ods.")
    chosen = list(found.values()) if name == "all" else [found[name]]
    stem = "-".join(filter(None, ("ladder", area or "all-areas",
                                  _slug(filters.org_unit), name,
                                  filters.start.isoformat(), "to", filters.end.isoformat())))
    if fmt == "csv":
        body: str | bytes = downloads.as_csv(chosen[0])
        mimetype = downloads.CSV_TYPE
    else:
        body = downloads.as_ods(_cover(area, filters, before, reports.basis(db)), chosen)
        mimetype = downloads.ODS_TYPE
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{stem}.{fmt}"'})


def _slug(text: str | None) -> str:
    """A unit's name as part of a file name: letters, digits and dashes only."""
    return re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:40]


def _cover(area: str | None, filters: reports.Filters, before: reports.Basis,
           after: reports.Basis) -> list[tuple[str, str]]:
    """What a spreadsheet's tables are, how they were made and what from."""
    control = _control()
    figures = ("exact, as an admin reads them: do not share them outside the organisation"
               if control is None else
               f"disclosure-controlled, {exports.disclosure_text(control.label())}: every "
               f"count rounded to a multiple of {control.base}, and a share, median, "
               f"index or total of hours resting on fewer than {control.threshold} "
               "withheld")
    lines = [("Ladder", f"How citizens are involved: {(area or 'all areas').capitalize()}"),
             ("Unit", filters.org_unit or "All units"),
             ("Range", f"{filters.start.isoformat()} to {filters.end.isoformat()}, by "
                       f"{filters.period}"),
             ("Figures", figures)]
    signer = current_app.extensions["signer"]
    if before.applied != after.applied:
        lines.append(("Computed from", f"the log's entries up to {before.applied} to "
                      f"{after.applied}: entries were being counted while these figures "
                      "were read; download again for figures of one tree head"))
    elif after.head is not None:
        head = after.head
        newer = (after.latest.size if after.latest else 0) - head.size
        lines += [("Computed from", f"the {head.size} entries of the signed tree head "
                   "below, every one of them counted" + (
                       f"; the log has {newer} newer, not counted yet" if newer else "")),
                  ("Tree size", str(head.size)),
                  ("Root hash", base64.b64encode(head.root).decode()),
                  ("Signed at", datetime.fromtimestamp(head.timestamp / 1000, UTC)
                   .isoformat(timespec="milliseconds")),
                  ("Tree head signature", base64.b64encode(head.signature).decode())]
    else:
        latest = after.latest.size if after.latest else 0
        lines.append(("Computed from", f"the log's first {after.applied} entries; the "
                      f"latest signed tree head, of size {latest}, has "
                      f"{latest - after.applied} more, not counted yet"))
    lines += [("Log", signer.vkey()),
              *((marker, meaning) for marker, meaning in tables.MARKERS.items()),
              ("Shares", "percentages"),
              ("Methods", "docs/metrics.md in Ladder's source says how each figure is "
                          "computed; docs/dashboard.md, these tables"),
              ("Downloaded by", g.reader.name),
              ("Downloaded at", datetime.now(UTC).isoformat(timespec="seconds")),
              ("From", request.url)]
    return lines
