"""The dashboard's tables as data: what each page's tables hold, for the page and for its
downloads (services/ledger/downloads.py), so that a download is the table on the page.

A cell is a number, or a marker where there is none, as the Government Statistical
Service's guidance on releasing statistics in spreadsheets writes them: ``[c]`` for a
figure withheld to protect confidentiality (disclosure control), ``[z]`` for one that
does not apply (nothing to divide by, no involvement to take a median of). A share is
a percentage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.ledger.domain import AREAS
from services.ledger.reports import (
    LABELS,
    SHARES,
    STEP_NAMES,
    Filters,
    period_label,
    raw,
    step_share,
)

HIDDEN, NOT_APPLICABLE = "[c]", "[z]"
MARKERS = {
    HIDDEN: "withheld: it rests on a count under the threshold (disclosure control)",
    NOT_APPLICABLE: "not applicable: nothing to divide by, or no involvement to take a "
                    "median of",
}

# The figures each table shows, declared once for the page and the downloads.
HEADLINE = ("involvements", "median_step", "co_design_or_higher", "co_production",
            "citizens", "returning_citizens", "hours", "recognition_rate",
            "decision_vote_share", "feedback_rate", "told_rate", "change_rate",
            "median_days_to_feedback")
# An area's headline: coverage and the index over what they rest on, then the rest.
AREA_FIGURES = ("activities", "activities_involved", "coverage", "index", *HEADLINE)
TREND = ("activities", "coverage", "involvements", "median_step", "co_design_or_higher",
         "index")
PEOPLE = ("hours", "citizens", "returning_citizens", "recognition_rate",
          "decision_vote_share", "feedback_rate", "told_rate", "change_rate",
          "median_days_to_feedback")
UNITS = ("activities", "coverage", "involvements", "median_step", "citizens", "hours",
         "index")
OVERVIEW = ("activities", "activities_involved", "coverage", "involvements", "median_step",
            "co_design_or_higher", "co_production", "citizens", "returning_citizens",
            "hours", "recognition_rate", "decision_vote_share", "feedback_rate",
            "told_rate", "change_rate", "median_days_to_feedback", "index")
STEPS = tuple(range(7, 0, -1))
# What each figure is, in words, for the page of methods; docs/metrics.md has the same
# formulas with their reasons, and a release's dictionary.csv the same in column names.
EXPLAINED = {
    "activities": "activities dated in the range, with citizens involved or not",
    "activities_involved": "activities with at least one citizen involved",
    "coverage": "activities with citizens ÷ activities",
    "involvements": "involvements of citizens: one citizen's part in one activity",
    "median_step": "the middle step of the involvements, ordered from 1 to 7",
    "co_design_or_higher": "involvements at step 6 or 7 ÷ involvements",
    "co_production": "involvements at step 7 ÷ involvements",
    "citizens": "different citizens involved (pseudonymous: no one's identity is kept)",
    "returning_citizens": "citizens involved more than once in the range",
    "hours": "the hours citizens gave, summed",
    "recognition_rate": "involvements for which recognition was offered (payment, a voucher "
                        "or a time credit) ÷ involvements",
    "decision_vote_share": "involvements in which the citizen had an equal vote or the lead "
                           "÷ involvements",
    "feedback_rate": "involvements whose citizen was told the outcome ÷ involvements",
    "told_rate": "involvements whose citizens were told what came of what they said "
                 "(\"you said, we did\") ÷ involvements",
    "change_rate": "involvements whose contribution led to a recorded change ÷ involvements",
    "median_days_to_feedback": "the middle of the days from an involvement until its citizen "
                               "was told what came of it",
    "non_financial_share": "recognition offered as a time credit ÷ involvements with "
                           "recognition offered",
    "index": "how far and how widely citizens are involved, 0 to 100: below",
}

Cell = str | int | float


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def cell(row: dict[str, Any] | None, name: str) -> Cell:
    """One figure of a metrics row as a download holds it."""
    if row is None:
        return NOT_APPLICABLE
    if name in row.get("suppressed", []):
        return HIDDEN
    value = raw(row, name)
    if value is None:
        return NOT_APPLICABLE
    if name in SHARES:
        return round(100 * value, 2)
    return value


def _share_cell(row: dict[str, Any], step: int) -> Cell:
    share, hidden = step_share(row, step)
    return HIDDEN if hidden else NOT_APPLICABLE if share is None else round(100 * share, 2)


def heading(name: str) -> str:
    return f"{LABELS[name]} (%)" if name in SHARES else LABELS[name]


def _step(step: int) -> str:
    return f"{step} {STEP_NAMES[step]}"


def _per_period(name: str, title: str, filters: Filters, rows: list[dict[str, Any]],
                total: dict[str, Any] | None, keys: tuple[str, ...]) -> Table:
    body = [(period_label(filters.period, r["period"]), *(cell(r, k) for k in keys))
            for r in rows]
    return Table(name, title, (filters.period.capitalize(), *map(heading, keys)),
                 (*body, ("Whole range", *(cell(total, k) for k in keys))))


def area_tables(page: dict[str, Any], filters: Filters) -> dict[str, Table]:
    """The tables of an area's page (services.ledger.reports.area_report), by name."""
    total, rows = page["total"], page["rows"]
    tables = (
        Table("figures", "Every figure over the whole range", ("Figure", "Value"),
              tuple((heading(k), cell(total, k)) for k in AREA_FIGURES)),
        Table("ladder", "Involvements at each step", ("Step", "Involvements"),
              tuple((_step(s), cell(total, f"steps.{s}")) for s in STEPS)),
        _per_period("trend", f"Per {filters.period}", filters, rows, total, TREND),
        _per_period("people", f"Hours, reach, recognition and feedback per {filters.period}",
                    filters, rows, total, PEOPLE),
        Table("units", "Each unit over the whole range", ("Unit", *map(heading, UNITS)),
              tuple((u["org_unit"], *(cell(u, k) for k in UNITS)) for u in page["units"])),
        Table("targets", "Against the targets", ("Figure", "Target", "This range", "Status"),
              tuple((heading(a.measure),
                     round(100 * a.value, 2) if a.measure in SHARES else a.value,
                     cell(total, a.measure), a.text) for a in page["targets"])),
    )
    # The targets' table is on the page only where there are targets.
    return {t.name: t for t in tables if t.rows or t.name != "targets"}


def overview_tables(page: dict[str, Any], filters: Filters) -> dict[str, Table]:
    """The tables of the page of all areas (services.ledger.reports.overview), by name."""
    areas, names = page["areas"], [a.capitalize() for a in AREAS]
    trend_header = [f"{n} {what}" for n in names for what in ("index", "coverage (%)")]
    tables = (
        Table("areas", "The areas side by side", ("Figure", *names),
              tuple((heading(k), *(cell(areas[a], k) for a in AREAS)) for k in OVERVIEW)),
        Table("ladders", "Involvements at each step", ("Step", *names),
              tuple((_step(s), *(cell(areas[a], f"steps.{s}") for a in AREAS))
                    for s in STEPS)),
        Table("ladder_shares", "Share of each area's involvements at each step",
              ("Step", *(f"{n} (%)" for n in names)),
              tuple((_step(s), *(_share_cell(areas[a], s) for a in AREAS)) for s in STEPS)),
        Table("trend", f"Involvement Index and coverage per {filters.period}",
              (filters.period.capitalize(), *trend_header),
              tuple((period_label(filters.period, p),
                     *(cell(page["series"][a]["rows"][i], k) for a in AREAS
                       for k in ("index", "coverage")))
                    for i, p in enumerate(page["periods"]))),
    )
    return {t.name: t for t in tables}
