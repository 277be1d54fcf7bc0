"""Published releases: a period's disclosure-controlled figures as open data.

A release is computed once, from the log as one signed tree head leaves it, and kept
whole: CSV figures, the tree head, the method they were made with. Releases are
append-only; a correction is a new release that names the one it replaces.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import time
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services import area_packages
from services.ledger.disclosure import Control
from services.ledger.domain import AREAS
from services.ledger.followers import MEASURES
from services.ledger.measures import PERIODS, period_start
from services.ledger.metrics import MetricsQuery, months_of, next_start, report_in
from services.ledger.models import Aggregate, FollowerPosition, Head, Release
from services.ledger.projection import ALL_UNITS
from services.ledger.signing import TreeHead
from services.ledger.tree import latest_head
from shared.db import Database
from shared.errors import Conflict, Invalid, NotFound

# Seconds a release waits for the measures to cover the latest tree head.
WAIT_FOR_MEASURES = 30.0
PATTERNS = {"year": r"\d{4}", "quarter": r"\d{4}-Q[1-4]", "month": r"\d{4}-(0[1-9]|1[0-2])"}

# What each area counts as an activity, from its domain: "vacancies (recruitment), ...".
ACTIVITY_KINDS = ", ".join(f"{area_packages.domain(a).activity_path} ({a})" for a in AREAS)
# The columns of figures.csv, and what each means: the data dictionary.
DICTIONARY: tuple[tuple[str, str, str], ...] = (
    ("area", "text", f"the area: {', '.join(AREAS)}"),
    ("org_unit", "text", "the organisational unit; 'all' for every unit of the area"),
    ("period_kind", "text", "month, quarter or year"),
    ("period", "text", "the period: 2026, 2026-Q3 or 2026-07"),
    ("starts", "date", "the first day of the period"),
    ("activities", "count", f"activities, with or without citizens: {ACTIVITY_KINDS}"),
    ("activities_involved", "count", "activities with at least one citizen involved"),
    ("coverage", "share", "activities_involved / activities"),
    ("involvements", "count", "involvements of citizens, the sum of step_1 to step_7"),
    *((f"step_{n}", "count", f"involvements at step {n} of the ladder of co-production")
      for n in range(1, 8)),
    ("median_step", "number", "the median step of the involvements"),
    ("co_design_or_higher", "share", "(step_6 + step_7) / involvements"),
    ("co_production", "share", "step_7 / involvements"),
    ("citizens", "count", "distinct citizens involved"),
    ("returning_citizens", "count", "citizens involved twice or more in the period"),
    ("hours", "number", "hours citizens gave"),
    ("recognition_rate", "share", "involvements with recognition offered / involvements"),
    ("decision_vote_share", "share", "involvements with an equal vote or the lead / "
     "involvements"),
    ("feedback_rate", "share", "involvements whose citizen was told the outcome / "
     "involvements"),
    ("told", "count", "involvements whose citizens were told what came of them"),
    ("told_rate", "share", "told / involvements"),
    ("changed", "count", "involvements whose contribution led to a recorded change"),
    ("change_rate", "share", "changed / involvements"),
    ("median_days_to_feedback", "number", "days from an involvement to its citizens being "
     "told, the median"),
    ("non_financial_share", "share", "recognition offered as a time credit / involvements "
     "with recognition offered"),
    ("rubric_versions", "text", "the rubric versions whose steps the figures mix, "
     "space-separated"),
    ("index", "number", "the Involvement Index, 0-100"),
    ("suppressed", "text", "figures left empty because the rounded count under them is "
     "below the threshold, space-separated"),
)
COLUMNS = tuple(name for name, _, _ in DICTIONARY)
DICTIONARY_NOTE = (
    "Every count is rounded to a multiple of {base}, up or down at random with the chance "
    "that keeps its expected value (cell key random rounding; the same figure always "
    "rounds the same way). A total is the sum of its rounded parts. A share, median, "
    "index or total of hours resting on a rounded count under {threshold} is left empty. "
    "Formulas and method: docs/metrics.md.")


def kind_of(period: str) -> str:
    """The kind of a period written as 2026, 2026-Q3 or 2026-07; 422 for anything else."""
    for kind in PERIODS:
        if re.fullmatch(PATTERNS[kind], period):
            return kind
    raise Invalid("period must be a year (2026), a quarter (2026-Q3) or a month (2026-07).",
                  {"period": ["Not a period."]})


def period_end(kind: str, period: str) -> date:
    """The last day of a period."""
    return next_start(kind, period) - timedelta(days=1)


def _units(session: Session, area: str, months: list[str]) -> list[str]:
    return list(session.scalars(
        sa.select(Aggregate.org_unit).distinct().where(
            Aggregate.area == area, Aggregate.kind == "month", Aggregate.period.in_(months),
            Aggregate.org_unit != ALL_UNITS).order_by(Aggregate.org_unit)))


def figures_csv(session: Session, control: Control, kind: str, period: str) -> str:
    """The period, and each of its months, for every area, all units and each unit."""
    start, end = period_start(kind, period), period_end(kind, period)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for area in AREAS:
        for unit in [None, *_units(session, area, list(months_of(kind, [period])))]:
            query = MetricsQuery(start=start, end=end, area=area, org_unit=unit,
                                 period="month")
            report = report_in(session, query, control)
            rows = [({**report["total"], "period": period, "starts": start.isoformat()}, kind)]
            if kind != "month":
                rows += [(row, "month") for row in report["rows"]]
            for row, row_kind in rows:
                flat = {**row, **{f"step_{k}": v for k, v in row["steps"].items()},
                        "org_unit": unit or "all", "period_kind": row_kind,
                        "suppressed": " ".join(row["suppressed"]),
                        "rubric_versions": " ".join(row["rubric_versions"])}
                writer.writerow(["" if flat.get(c) is None else flat[c] for c in COLUMNS])
    return buffer.getvalue()


def dictionary_csv(disclosure: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("column", "type", "meaning"))
    writer.writerows(DICTIONARY)
    writer.writerow(("", "", DICTIONARY_NOTE.format(**disclosure)))
    return buffer.getvalue()


def view(release: Release, replaced_by: int | None) -> dict[str, Any]:
    head = TreeHead(release.tree_size, release.tree_timestamp, release.root_hash,
                    release.signature)
    return {"id": release.id, "period_kind": release.kind, "period": release.period,
            "created_at": release.created_at, "replaces": release.replaces,
            "replaced_by": replaced_by, "reason": release.reason,
            "tree_head": head.as_json(), "disclosure": json.loads(release.disclosure),
            "figures_sha256": release.figures_sha256}


def publish(db: Database, control: Control, period: str, now: datetime,
            replaces: int | None = None, reason: str | None = None,
            wait: float = WAIT_FOR_MEASURES) -> dict[str, Any]:
    """Release ``period``'s figures as they stand now, under the latest signed tree head.

    The figures are the measures follower's; a release names the tree head they were
    computed from, so it is made only once the follower has applied every entry that head
    covers. It waits up to ``wait`` seconds for that, then refuses (409).

    A period is released once it has ended; again only as a correction that names the
    release it replaces (the latest of that period) and why.
    """
    kind = kind_of(period)
    if period_end(kind, period) >= now.date():
        raise Conflict(f"{period} has not ended yet: a release is of a whole period.")
    if (replaces is None) != (reason is None):
        raise Invalid("A correction names the release it replaces and the reason, together.",
                      {"reason" if replaces is not None else "replaces": ["Needed with the "
                                                                            "other."]})
    deadline = time.monotonic() + wait
    while True:
        try:
            return _publish(db, control, kind, period, now, replaces, reason)
        except MeasuresBehind:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


class MeasuresBehind(Conflict):
    """The measures follower has not applied every entry of the latest tree head yet."""


def _publish(db: Database, control: Control, kind: str, period: str, now: datetime,
             replaces: int | None, reason: str | None) -> dict[str, Any]:
    with db.writing() as session:
        # The head lock: no batch lands between the tree head and the figures read.
        session.execute(sa.select(Head).where(Head.id == 1).with_for_update()).scalar_one()
        head = latest_head(session.connection())
        if head is None:
            raise Conflict("The ledger is empty: there is nothing to release.")
        # Under the head lock the follower cannot pass the head, so figures read with its
        # position at the head's size are exactly the head's.
        applied = session.scalar(sa.select(FollowerPosition.position).where(
            FollowerPosition.name == MEASURES))
        if applied != head.size:
            raise MeasuresBehind(
                f"The figures are {head.size - (applied or 0)} entries behind the log: "
                "a release is made only from figures that cover its tree head. Try again "
                "once the ledger's follower has caught up (GET /readyz).")
        latest = _latest(session, kind, period)
        if latest is None and replaces is not None:
            raise Conflict(f"{period} has no release to correct.")
        if latest is not None and replaces != latest.id:
            raise Conflict(f"{period} is release {latest.id}: a correction names it "
                           f"(replaces {latest.id}) with the reason.")
        figures = figures_csv(session, control, kind, period)
        release = Release(kind=kind, period=period, created_at=now, replaces=replaces,
                          reason=reason, tree_size=head.size, tree_timestamp=head.timestamp,
                          root_hash=head.root, signature=head.signature,
                          disclosure=json.dumps(control.label()), figures=figures,
                          figures_sha256=hashlib.sha256(figures.encode()).hexdigest())
        session.add(release)
        session.flush()
        return view(release, None)


def _latest(session: Session, kind: str, period: str) -> Release | None:
    """The release of ``period`` that no other replaces."""
    replaced = sa.select(Release.replaces).where(Release.replaces.is_not(None))
    return session.scalars(sa.select(Release).where(
        Release.kind == kind, Release.period == period,
        Release.id.not_in(replaced))).first()


def due(db: Database, kind: str, today: date, delay_days: float) -> list[str]:
    """Periods of ``kind`` with figures, ended ``delay_days`` ago or more, not yet released."""
    with db.reading() as session:
        periods = set(session.scalars(sa.select(Aggregate.period).distinct().where(
            Aggregate.kind == kind)))
        released = set(session.scalars(sa.select(Release.period).where(Release.kind == kind)))
    return sorted(p for p in periods - released
                  if period_end(kind, p) + timedelta(days=delay_days) < today)


def list_releases(db: Database, after: int, limit: int,
                  period: str | None) -> list[dict[str, Any]]:
    with db.reading() as session:
        stmt = sa.select(Release).where(Release.id > after)
        if period is not None:
            stmt = stmt.where(Release.period == period)
        found = session.scalars(stmt.order_by(Release.id).limit(limit)).all()
        successors = _successors(session, [r.id for r in found])
        return [view(r, successors.get(r.id)) for r in found]


def _successors(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    return {replaced: rid for rid, replaced in session.execute(
        sa.select(Release.id, Release.replaces).where(Release.replaces.in_(ids)))
        if replaced is not None}


def get_release(db: Database, release_id: int) -> tuple[dict[str, Any], str]:
    """A release's description and its figures (CSV)."""
    with db.reading() as session:
        release = session.get(Release, release_id)
        if release is None:
            raise NotFound(f"No release {release_id}.")
        return (view(release, _successors(session, [release.id]).get(release.id)),
                release.figures)
