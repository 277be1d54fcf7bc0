"""A board member's aggregates-only token (``ledger:read``) attacks the running stack.

A year of involvement goes in through every area's REST API; the admin's exact
figures are the ground truth. The auditor then does what a determined reader would:
totals minus their parts, ranges a month apart, medians, shares and the index turned
back into counts, the same cell asked for in every way the ledger offers, every route
the token may reach, and the access log. A count whose exact value is 1 to 4 is
hidden (NHS and ONS rules never publish one); each test counts the attacks on hidden
counts and how many recovered the exact value, and prints the counts (``pytest -s``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.config import SERVICES
from tests.security.disclosure_inference import (
    COUNTS,
    DERIVED,
    STEPS,
    TARGETS,
    Cell,
    Feasible,
    Figures,
    Method,
    Outcome,
    Tally,
    Value,
    allows,
    difference,
    exact_share_counts,
    figures,
    fitting,
    hidden,
    invert,
    same,
    subtract,
    verdict,
)
from tests.support import auditing
from tests.support.areas import AREAS
from tests.support.auditing import (
    MONTHS,
    Activity,
    Dashboard,
    Ledger,
    Sent,
    day,
    headline,
    month_end,
    side_by_side,
    table,
    units,
)
from tests.support.databases import BACKENDS, migrated
from tests.support.stack import Stack, prepare

pytestmark = pytest.mark.e2e

PURPOSE = "CQC inspection of Rose House, DSA-2026-14"
SPANS = {"month": [(m, m) for m in MONTHS], "quarter": [(1, 3), (4, 6), (7, 9), (10, 12)],
         "year": [(1, 12)]}
# Every range of one to three months, and every range from January or to December: each
# range and the ranges a month longer at either end, as far as the year allows.
RANGES = sorted({(a, b) for a in MONTHS for b in MONTHS if 0 <= b - a <= 2}
                | {(1, b) for b in MONTHS} | {(a, 12) for a in MONTHS})
ZERO: Figures = {**{name: 0 for name in COUNTS}, **{name: None for name in DERIVED}}
# The control: what the attacks get from figures whose small counts are merely suppressed
# (null, so 0 to 4 behind a null), every other figure exact.
SUPPRESSION = Method(base=1, threshold=5)


def suppressed(answer: Mapping[str, Any]) -> dict[str, Any]:
    """An exact answer with every count from 1 to 4 blanked, the rest as it was."""

    def blank(row: Mapping[str, Any] | None) -> dict[str, Any] | None:
        if row is None:
            return None
        small = {name: None for name in COUNTS if name not in STEPS and hidden(row[name])}
        steps = {k: None if hidden(v) else v for k, v in row["steps"].items()}
        return {**row, **small, "steps": steps}

    return {**answer, "rows": [blank(r) for r in answer["rows"]], "total": blank(answer["total"])}
# The figures the dashboard shows under each column heading.
HEADINGS = {"Activities": "activities", "Coverage": "coverage", "Involvements": "involvements",
            "Median step": "median_step", "Co-design or higher": "co_design_or_higher",
            "Co-production": "co_production", "Involvement Index": "index", "Hours": "hours",
            "Citizens": "citizens", "Returning citizens": "returning_citizens",
            "Recognition offered": "recognition_rate", "Decision vote": "decision_vote_share",
            "Feedback given": "feedback_rate"}
SHARES = ("coverage", "co_design_or_higher", "co_production", "recognition_rate",
          "decision_vote_share", "feedback_rate")
MONTH_NAMES = {name: n for n, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def range_query(area: str, first: int, last: int) -> dict[str, str]:
    return {"area": area, "group_by": "org_unit", "period": "month", "from": day(first),
            "to": month_end(last)}


def series_query(area: str, unit: str, kind: str) -> dict[str, str]:
    unit_filter = {} if unit == "*" else {"org_unit": unit}
    return {"area": area, "group_by": "period", "period": kind, "from": day(1),
            "to": month_end(12), **unit_filter}


def areas_query(kind: str, first: int, last: int) -> dict[str, str]:
    return {"group_by": "area", "period": kind, "from": day(first), "to": month_end(last)}


def span(period: str) -> tuple[int, int]:
    """The months of a period as the API names it: 2025, 2025-Q2 or 2025-03."""
    if "-Q" in period:
        quarter = int(period[-1])
        return 3 * quarter - 2, 3 * quarter
    if "-" in period:
        return int(period[-2:]), int(period[-2:])
    return 1, 12


def every_query() -> list[dict[str, str]]:
    """What the attacks read, each once per reader."""
    return ([range_query(area, a, b) for area in AREAS for a, b in RANGES]
            + [series_query(area, unit, kind) for area in AREAS
               for unit in ["*", *units(area)] for kind in SPANS]
            + [areas_query(kind, a, b) for kind, spans in SPANS.items() for a, b in spans])


@dataclass
class Audit:
    """The running stack holding the year, its readers, and what was sent and published."""

    backend: str
    stack: Stack
    ledger: Ledger
    activities: list[Activity]
    sent: Sent
    method: Method
    releases: list[int] = field(default_factory=list)
    publish_errors: list[str] = field(default_factory=list)
    _rows: dict[str, dict[Cell, dict[str, dict[str, Any]]]] = field(default_factory=dict)

    def say(self, line: str) -> None:
        print(f"\n[{self.backend}] {line}")

    def readers(self) -> list[tuple[str, Method]]:
        """The read token under attack, and the control: exact figures merely suppressed."""
        return [("read", self.method), ("suppressed", SUPPRESSION)]

    def answer(self, who: str, query: Mapping[str, str]) -> dict[str, Any]:
        """A metrics answer as ``who`` reads it; "suppressed" is the admin's answer with
        every count from 1 to 4 blanked, as small-number suppression alone would show it."""
        if who == "suppressed":
            return suppressed(self.ledger.metrics("admin", **query))
        return self.ledger.metrics(who, **query)

    def rows(self, who: str) -> dict[Cell, dict[str, dict[str, Any]]]:
        """Every cell the metrics answers show the reader, by the query that showed it."""
        if who in self._rows:
            return self._rows[who]
        found: dict[Cell, dict[str, dict[str, Any]]] = defaultdict(dict)
        for area in AREAS:
            for a, b in RANGES:
                answer = self.answer(who, range_query(area, a, b))
                for row in answer["rows"]:
                    found[(area, row["org_unit"], a, b)][f"range {a}-{b}"] = row
                found[(area, "*", a, b)][f"range {a}-{b} total"] = answer["total"]
            for unit in ["*", *units(area)]:
                for kind in SPANS:
                    answer = self.answer(who, series_query(area, unit, kind))
                    for row in answer["rows"]:
                        found[(area, unit, *span(row["period"]))][f"by {kind} of {unit}"] = row
                    found[(area, unit, 1, 12)][f"by {kind} of {unit}, total"] = answer["total"]
        for kind, spans in SPANS.items():
            for a, b in spans:
                answer = self.answer(who, areas_query(kind, a, b))
                for row in answer["rows"]:
                    found[(row["area"], "*", a, b)][f"areas by {kind}"] = row
                if answer["total"]:
                    found[("*", "*", a, b)][f"areas by {kind}, total"] = answer["total"]
        self._rows[who] = dict(found)
        return self._rows[who]

    def shown(self, cell: Cell, who: str = "read") -> Figures:
        """A cell as a reader sees it (zero when the answer leaves its unit out)."""
        area, unit, a, b = cell
        if area != "*" and (a, b) in RANGES:
            answer = self.answer(who, range_query(area, a, b))
            if unit == "*":
                return figures(answer["total"])
            return next((figures(r) for r in answer["rows"] if r["org_unit"] == unit), ZERO)
        sources = self.rows(who).get(cell)
        return figures(next(iter(sources.values()))) if sources else ZERO

    def truth(self, cell: Cell) -> Figures:
        """A cell's exact figures, as the admin reads them, with the counts behind shares."""
        area, unit, a, b = cell
        if area != "*" and (a, b) in RANGES:
            answer = self.ledger.metrics("admin", **range_query(area, a, b))
            rows = {"*": answer["total"]} | {r["org_unit"]: r for r in answer["rows"]}
            exact = figures(rows[unit]) if unit in rows else dict(ZERO)
        else:
            sources = self.rows("admin").get(cell)
            exact = figures(next(iter(sources.values()))) if sources else dict(ZERO)
        return {**exact, **exact_share_counts(exact)}


# `make test` hands a module's tests to one test process (--dist loadfile): they share
# each backend's stack.
@pytest.fixture(scope="module", params=BACKENDS)
def audit(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audit]:
    """The whole stack on one backend holding a year sent through the areas' APIs."""
    backend = str(request.param)
    directory = tmp_path_factory.mktemp(f"audit-{backend}")
    started = time.monotonic()
    with ExitStack() as exits:
        urls = {s: exits.enter_context(migrated(backend, directory, s, s)) for s in SERVICES}
        # A disclosure key of its own, as production has: the default one is public.
        stack = prepare(directory / "stack", urls, migrate=False,
                        LADDER_DISCLOSURE_KEY=secrets.token_hex(32),
                        LADDER_RATE_LIMIT_API="100000 per minute",
                        LADDER_RATE_LIMIT_ADDRESS="100000 per minute")
        exits.callback(stack.kill_all)
        stack.start()
        activities = auditing.plan()
        sent = auditing.send({s: stack.url(s) for s in SERVICES}, stack.tokens, activities)
        ledger = Ledger(stack.url("ledger"), {"admin": stack.tokens["ledger-admin"]})
        ledger.wait_for(auditing.expected_totals(activities))
        loaded = time.monotonic()
        # A release of the year, published as an operator does, while the reads run.
        publishing = subprocess.Popen(
            [str(Path(sys.executable).parent / "ladder"), "publish", "--period",
             str(auditing.YEAR)], env={**os.environ, **stack.env}, cwd=directory,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        exits.callback(publishing.kill)
        # The board's token, the regulator's and an operator's, made through the API.
        ledger.tokens["admin"] = _token(ledger, "ops", "ledger:admin")
        ledger.tokens["read"] = _token(ledger, "board", "ledger:read")
        ledger.tokens["inspect"] = _token(ledger, "cqc", "ledger:inspect", purpose=PURPOSE)
        first = ledger.metrics("read", **range_query("recruitment", 1, 12))
        made = Audit(backend, stack, ledger, activities, sent, Method.of(first["disclosure"]))
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda q: ledger.metrics("read", **q), every_query()))
            list(pool.map(lambda q: ledger.metrics("admin", **q), every_query()))
        output, _ = publishing.communicate(timeout=60)
        found = re.findall(r"release (\d+):", output)
        if publishing.returncode == 0 and found:
            made.releases = [int(n) for n in found]
        else:
            made.publish_errors.append(f"ladder publish exited {publishing.returncode}: "
                                       f"{output[-600:]}")
        made.say(f"{sent.requests} requests sent, held after {loaded - started:.1f} s; "
                 f"{ledger.reads} reads by {time.monotonic() - started:.1f} s; "
                 f"disclosure {first['disclosure']}")
        yield made
        made.say(f"module done after {time.monotonic() - started:.1f} s, {ledger.reads} reads")


def _token(ledger: Ledger, name: str, scope: str, **purpose: str) -> str:
    made = ledger.http.post(ledger.base + "/v1/tokens", headers=ledger.auth("admin"), timeout=20,
                            json={"name": name, "scopes": [scope], **purpose})
    assert made.status_code == 201, made.text
    assert made.json()["scopes"] == [scope], made.text
    return str(made.json()["token"])


def _recovered(tallies: Mapping[str, Tally]) -> int:
    return sum(t.recoveries for t in tallies.values())


def _report(audit: Audit, attack: str, found: Mapping[str, Mapping[str, Tally]]) -> str:
    """The counts for the read token, each kind of attack apart, and for the control."""
    whole = {who: Tally() for who in found}
    for who, tallies in found.items():
        for tally in tallies.values():
            whole[who].merge(tally)
    lines = [f"{attack} on {audit.backend}, read token: {whole['read']}"]
    lines += [f"  {name}: {tally}" for name, tally in found["read"].items()]
    control = whole["suppressed"]
    lines.append(f"  control, the same attacks on the exact figures with counts of 1 to 4 "
                 f"merely suppressed: {control.attempts} attacked, "
                 f"{control.recoveries} recovered ({control.naive} naively)")
    text = "\n".join(lines)
    audit.say(text)
    return text


def test_the_admin_reads_exactly_what_the_areas_were_sent(audit: Audit) -> None:
    mismatches = []
    for area in AREAS:
        for unit in units(area):
            mine = [a for a in audit.activities if a.area == area and a.unit == unit]
            done = [i for a in mine for i in a.involvements]
            people = [i.citizen for i in done]
            expected = {"activities": len(mine),
                        "activities_involved": sum(1 for a in mine if a.involvements),
                        "involvements": len(done), "hours": sum(i.hours for i in done),
                        "citizens": len(set(people)),
                        "returning_citizens": sum(1 for p in set(people) if people.count(p) > 1),
                        **{f"step_{k}": sum(1 for i in done if i.step == k) for k in range(1, 8)}}
            exact = audit.truth((area, unit, 1, 12))
            mismatches += [(area, unit, name, exact[name], value)
                           for name, value in expected.items() if not same(exact[name], value)]
    assert not mismatches, mismatches


def test_a_total_minus_its_parts_never_recovers_a_small_count(audit: Audit) -> None:
    found = {who: _totals_minus_parts(audit, who, method) for who, method in audit.readers()}
    report = _report(audit, "totals minus parts", found)
    assert _recovered(found["read"]) == 0 and _recovered(found["suppressed"]) > 0, report


def _totals_minus_parts(audit: Audit, who: str, method: Method) -> dict[str, Tally]:
    tallies = {"org_unit total - other units": Tally(), "area row - other units": Tally(),
               "period total - other periods": Tally(), "involvements - other steps": Tally()}
    for kind, spans in SPANS.items():
        for a, b in spans:
            areas = {reader: {row["area"]: row for row in
                              audit.answer(reader, areas_query(kind, a, b))["rows"]}
                     for reader in (who, "admin")}
            for area in AREAS:
                shown = audit.answer(who, range_query(area, a, b))
                exact = audit.answer("admin", range_query(area, a, b))
                # The total of group_by=org_unit, and the area's row of group_by=area,
                # each minus the units beside the one attacked.
                _parts(tallies["org_unit total - other units"], f"{area} {kind} {a}-{b}",
                       (shown["total"], shown["rows"]), (exact["total"], exact["rows"]),
                       "org_unit", method)
                _parts(tallies["area row - other units"], f"{area} {kind} {a}-{b}",
                       (areas[who].get(area), shown["rows"]),
                       (areas["admin"].get(area), exact["rows"]), "org_unit", method)
        for area in AREAS:  # a series' total over its periods
            for unit in ["*", *units(area)]:
                shown = audit.answer(who, series_query(area, unit, kind))
                exact = audit.answer("admin", series_query(area, unit, kind))
                _parts(tallies["period total - other periods"], f"{area} {unit} by {kind}",
                       (shown["total"], shown["rows"]), (exact["total"], exact["rows"]),
                       "period", method)
    for cell in audit.rows("admin"):  # involvements over the steps, in every cell
        seen, exact_ = audit.shown(cell, who), audit.truth(cell)
        for step in STEPS:
            if hidden(exact_[step]):
                others = [s for s in STEPS if s != step]
                tallies["involvements - other steps"].add(subtract(
                    seen["involvements"], [seen[s] for s in others], seen[step], step,
                    method, float(exact_["involvements"] or 0),
                    [float(exact_[s] or 0) for s in others], float(exact_[step] or 0)),
                    f"{cell} {step} = {exact_[step]}")
    return tallies


Answer = tuple[Mapping[str, Any] | None, list[dict[str, Any]]]


def _parts(tally: Tally, what: str, shown_: Answer, exact_: Answer, key: str,
           method: Method) -> None:
    """Each part recovered as the total minus the other parts, as the reader sees them:
    ``shown_`` and ``exact_`` are each a total and its parts."""
    total = figures(shown_[0]) if shown_[0] else ZERO
    exact_total = figures(exact_[0]) if exact_[0] else ZERO
    shown = {row[key]: figures(row) for row in shown_[1]}
    exact = {row[key]: figures(row) for row in exact_[1]}
    for part, figures_ in exact.items():
        for name in COUNTS:
            if not hidden(figures_[name]):
                continue
            others = [p for p in shown if p != part]
            tally.add(subtract(
                total[name], [shown[p][name] for p in others], shown.get(part, ZERO)[name],
                name, method, float(exact_total[name] or 0),
                [float(exact.get(p, ZERO)[name] or 0) for p in others],
                float(figures_[name] or 0)), f"{what}: {part} {name} = {figures_[name]}")


def test_two_ranges_a_month_apart_never_recover_a_small_count(audit: Audit) -> None:
    found = {who: _overlapping_ranges(audit, who, method) for who, method in audit.readers()}
    report = _report(audit, "overlapping ranges", found)
    assert _recovered(found["read"]) == 0 and _recovered(found["suppressed"]) > 0, report


def _overlapping_ranges(audit: Audit, who: str, method: Method) -> dict[str, Tally]:
    tallies = {"a month more at the end": Tally(), "a month more at the start": Tally()}
    pairs = [(name, (a, b), longer, month) for a, b in RANGES
             for name, longer, month in (("a month more at the end", (a, b + 1), b + 1),
                                         ("a month more at the start", (a - 1, b), a - 1))
             if longer in RANGES]
    for area in AREAS:
        for unit in ["*", *units(area)]:
            for name, shorter, longer, month in pairs:
                cells = [(area, unit, *longer), (area, unit, *shorter), (area, unit, month, month)]
                shown = [audit.shown(c, who) for c in cells]
                exact = [audit.truth(c) for c in cells]
                for figure in COUNTS:
                    isolated = (exact[0][figure] or 0) - (exact[1][figure] or 0)
                    if not hidden(isolated):
                        continue
                    outcome = difference(
                        shown[0][figure], shown[1][figure], shown[2][figure], figure, method,
                        (float(exact[0][figure] or 0), float(exact[1][figure] or 0),
                         float(exact[2][figure] or 0)), isolated)
                    tallies[name].add(outcome, f"{cells[0]} - {cells[1]} {figure} = {isolated}")
    return tallies


def test_medians_shares_and_the_index_never_give_a_small_count_away(audit: Audit) -> None:
    found = {who: _inverted(audit, who, method) for who, method in audit.readers()}
    report = _report(audit, "derived statistics inverted", {
        who: tallies for who, (tallies, _) in found.items()})
    note = found["read"][1]
    audit.say(note)
    assert (_recovered(found["read"][0]) == 0 and "\n" not in note
            and _recovered(found["suppressed"][0]) > 0), report + "\n" + note


def _inverted(audit: Audit, who: str, method: Method) -> tuple[dict[str, Tally], str]:
    """Every cell's median, shares and index turned back into the counts they are made of,
    with a note on the work done and on figures computed from more than is shown."""
    tallies = {target: Tally() for target in TARGETS}
    enumerated = histograms = 0
    from_exact: list[str] = []
    # Many cells show the same figures (every suppressed small unit alike), and what a
    # reader can infer depends on nothing else: each is inverted once.
    inversions: dict[tuple[tuple[str, Value], ...], tuple[Feasible, Feasible, Feasible]] = {}
    for cell in audit.rows("admin"):
        exact = audit.truth(cell)
        targets = [t for t in TARGETS if hidden(exact[t])]
        if not targets:
            continue
        shown = audit.shown(cell, who)
        key = tuple(sorted(shown.items()))
        if key not in inversions:
            # A reader who takes the median, shares and index as computed from the exact
            # counts; and one who believes the documentation (from the rounded counts).
            inversions[key] = (invert(shown, method, aware=False),
                               invert(shown, method, aware=True),
                               invert(shown, method, aware=True, derived=False))
        naive, doubting, believing = inversions[key]
        enumerated += doubting.enumerated
        histograms += doubting.histograms
        sound = [allows(shown, exact, method, aware=True),
                 allows(shown, exact, method, aware=True, derived=False)]
        told = fitting(shown, exact) - fitting(shown, shown) if who == "read" else set()
        if told:
            from_exact.append(f"{cell} {sorted(told)}: shown {shown}, exact {exact}")
        for target in targets:
            truth = float(exact[target] or 0)
            naively = naive.values[target] == {truth}
            outcomes = [verdict(naively, feasible.values[target], truth, holds)
                        for feasible, holds in zip((doubting, believing), sound, strict=True)]
            aware = any(o.aware for o in outcomes)
            tallies[target].add(
                Outcome(naively, aware, not aware and any(o.chance for o in outcomes),
                        any(o.wrong for o in outcomes)),
                f"{cell} {target} = {exact[target]}: shown {shown}")
    note = (f"{enumerated} cells enumerated histogram by histogram, {histograms} histograms "
            f"tried; {len(from_exact)} cells show a median or a share of steps or activities "
            "that fits their exact counts and not the counts they show"
            + "".join(f"\n  {line}" for line in from_exact[:3]))
    return tallies, note


# ---- The same cell, asked for in every way ------------------------------------------------

Seen = dict[Cell, dict[str, dict[str, float | None]]]


def _api_view(row: Mapping[str, Any]) -> dict[str, float | None]:
    shown: dict[str, float | None] = dict(figures(row))
    for name in (*DERIVED, "hours"):
        shown[f"{name} suppressed"] = float(name in (row.get("suppressed") or []))
    return shown


def _number(text: str) -> float | None:
    text = text.strip()
    if text in ("", "–", "suppressed"):
        return None
    return float(text[:-1]) / 100 if text.endswith("%") else float(text.replace(",", ""))


def _csv_view(row: Mapping[str, str]) -> dict[str, float | None]:
    shown: dict[str, float | None] = {name: _number(row[name]) for name in COUNTS + DERIVED
                                      if name in row}
    for name in (*DERIVED, "hours"):
        shown[f"{name} suppressed"] = float(name in (row.get("suppressed") or "").split())
    return shown


def _page_view(cells: Mapping[str, str]) -> dict[str, float | None]:
    shown: dict[str, float | None] = {}
    for name, text in cells.items():
        name = name.replace("steps.", "step_")
        shown[name] = _number(text)
        if name in (*DERIVED, "hours") and text.strip() in ("–", "suppressed"):
            shown[f"{name} suppressed"] = float(text.strip() == "suppressed")
    return shown


def _label(heading: str) -> tuple[int, int]:
    """A dashboard row heading as months: Jan 2025, Q2 2025, 2025 or Whole range."""
    word = heading.split()[0]
    if word in MONTH_NAMES:
        return MONTH_NAMES[word], MONTH_NAMES[word]
    if word.startswith("Q"):
        return span(f"x-{word}")
    return 1, 12


def _tables(page: str, caption: str, area: str, unit: str,
            into: Seen, source: str) -> None:
    found = re.search(rf'<caption id="{caption}">.*?</thead>', page, re.S)
    assert found, f"no table {caption}"
    names = [HEADINGS.get(h) for h in re.findall(r'<th scope="col">(.*?)</th>', found.group(0))]
    for heading, cells in table(page, caption):
        if caption == "units-caption":
            cell: Cell = (area, heading, 1, 12)
        else:
            cell = (area, unit, *_label(heading))
        view = _page_view({n: c for n, c in zip(names[1:], cells, strict=False) if n})
        into[cell].setdefault(source, {}).update(view)


def _dashboard(audit: Audit, into: Seen) -> None:
    board = Dashboard(audit.ledger.base, audit.ledger.tokens["read"])
    year = {"from": day(1), "to": month_end(12), "period": "month"}
    whole = board.page("/dashboard", **year)
    for area, cells in side_by_side(whole).items():
        into[(area, "*", 1, 12)]["dashboard, all areas"] = _page_view(cells)
    for area in AREAS:
        for unit in ["*", *units(area)]:
            unit_filter = {} if unit == "*" else {"org_unit": unit}
            page = board.page(f"/dashboard/areas/{area}", **year, **unit_filter)
            source = f"dashboard {area} {unit}"
            into[(area, unit, 1, 12)][source] = _page_view(headline(page))
            for caption in ("trend-caption", "people-caption"):
                _tables(page, caption, area, unit, into, source)
            if unit == "*":
                _tables(page, "units-caption", area, unit, into, source + " units")


def _exports(audit: Audit, into: Seen) -> None:
    for area in AREAS:
        for a, b in SPANS["quarter"] + SPANS["year"]:
            for row in audit.ledger.export("read", **range_query(area, a, b)):
                unit = "*" if row["period"] == "total" else row["org_unit"]
                into[(area, unit, a, b)][f"export {a}-{b}"] = _csv_view(row)
        for kind in SPANS:
            for row in audit.ledger.export("read", **series_query(area, "*", kind)):
                cell = (area, "*", *(span(row["period"]) if row["period"] != "total" else (1, 12)))
                into[cell][f"export by {kind}"] = _csv_view(row)
    for row in audit.ledger.export("read", **areas_query("year", 1, 12)):
        into[(row["area"], "*", 1, 12)]["export of the areas"] = _csv_view(row)


def _releases(audit: Audit, into: Seen) -> None:
    for release in audit.releases:
        answer = requests.get(f"{audit.ledger.base}/v1/releases/{release}/figures.csv",
                              timeout=20)
        assert answer.status_code == 200, answer.text
        for row in auditing.csv_rows(answer.text):
            unit = "*" if row["org_unit"] == "all" else row["org_unit"]
            into[(row["area"], unit, *span(row["period"]))][f"release {release}"] = (
                _csv_view(row))


def _conflicts(seen: Seen) -> list[str]:
    found = []
    for cell, sources in seen.items():
        names = {name for view in sources.values() for name in view}
        for name in sorted(names):
            values = {source: view[name] for source, view in sources.items() if name in view}
            coarse = name in SHARES and any(s.startswith("dashboard") for s in values)
            first = next(iter(values.values()))
            if any(not _equal(first, v, coarse) for v in values.values()):
                found.append(f"{cell} {name}: {values}")
    return found


def _equal(a: float | None, b: float | None, coarse: bool) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= (0.0005 + 1e-9 if coarse else 1e-9)


def test_a_cell_shows_the_same_figures_however_it_is_asked_for(audit: Audit) -> None:
    seen: Seen = defaultdict(dict)
    for cell, sources in audit.rows("read").items():
        for source, row in sources.items():
            seen[cell][source] = _api_view(row)
    # The same questions again, in another order of arguments.
    for area in AREAS:
        for a, b in SPANS["quarter"]:
            query = dict(reversed(list(range_query(area, a, b).items())))
            again = audit.ledger.get("read", "/v1/metrics", **query).json()
            seen[(area, "*", a, b)]["asked again"] = _api_view(again["total"])
            for row in again["rows"]:
                seen[(area, row["org_unit"], a, b)]["asked again"] = _api_view(row)
    _exports(audit, seen)
    _dashboard(audit, seen)
    _releases(audit, seen)
    conflicts = _conflicts(seen)
    exact: Seen = defaultdict(dict)
    for cell, sources in audit.rows("admin").items():
        for source, row in sources.items():
            exact[cell][source] = dict(figures(row))
    exact_conflicts = _conflicts(exact)
    views = sum(len(s) for s in seen.values())
    report = (f"consistency on {audit.backend}: {len(conflicts)} figures differ between the "
              f"{views} views of {len(seen)} cells (API, repeated, CSV exports, dashboard, "
              f"releases {audit.releases or 'none: ' + '; '.join(audit.publish_errors)}); "
              f"{len(exact_conflicts)} differ among the admin's exact figures")
    audit.say(report + "".join(f"\n  {c}" for c in (conflicts + exact_conflicts)[:12]))
    assert audit.releases, f"no release could be published: {audit.publish_errors}"
    assert not conflicts and not exact_conflicts, (
        report + "".join(f"\n  {c}" for c in (conflicts + exact_conflicts)[:12]))


def test_a_cell_shown_as_zero_never_says_whether_it_is_empty(audit: Audit) -> None:
    """The method promises that a 0 may stand for 1 to 4 without saying which. So nothing
    shown beside a cell whose counts all show 0 (the unit being listed at all, a figure
    suppressed rather than shown) may tell an empty cell from one holding 1 to 4; more
    generally, what is suppressed may depend only on the counts shown."""
    listed: list[str] = []
    hours: dict[str, list[bool]] = {"suppressed": [], "shown": []}  # does the cell hold any?
    patterns: dict[tuple[Value, ...], set[tuple[Any, ...]]] = defaultdict(set)
    for cell, sources in audit.rows("read").items():
        exact = audit.truth(cell)
        holds = any(exact[n] for n in COUNTS)
        for source, row in sources.items():
            shown = figures(row)
            counts = tuple(shown[n] for n in COUNTS if n != "hours")
            patterns[counts].add((tuple(sorted(row["suppressed"])),
                                  tuple(shown[n] is None for n in (*DERIVED, "hours"))))
            if any(counts):
                continue
            hours["suppressed" if shown["hours"] is None else "shown"].append(holds)
            if source == f"range {cell[2]}-{cell[3]}":  # a unit's row in group_by=org_unit
                listed.append(f"{cell} is listed, every count 0; it holds "
                              f"{ {n: exact[n] for n in COUNTS if exact[n]} }")
    split = {counts: sorted(p) for counts, p in patterns.items() if len(p) > 1}
    report = (
        f"cells shown as zero on {audit.backend}: {len(listed)} units listed by "
        f"group_by=org_unit in a range where every count they show is 0 (the admin lists the "
        f"same units: none is empty); of the views whose every count shows 0, "
        f"{len(hours['suppressed'])} suppress hours ({sum(hours['suppressed'])} of those cells "
        f"hold involvements) and {len(hours['shown'])} show hours 0.0 "
        f"({len(hours['shown']) - sum(hours['shown'])} of those are empty); {len(split)} sets of "
        f"shown counts come with more than one suppression pattern")
    details = listed[:3] + [f"counts {c}: {p}" for c, p in list(split.items())[:2]]
    audit.say(report + "".join(f"\n  {line}" for line in details))
    assert not listed and not split, report + "".join(f"\n  {line}" for line in details)


# ---- Entry-level content, out of the read tier's reach -------------------------------------

ENTRY_ROUTES = ("/v1/entries", "/v1/exports/entries", "/ct/v1/get-entries",
                "/ct/v1/get-proof-by-hash")


def _needles(audit: Audit) -> set[str]:
    """What only an entry holds: pseudonyms, activity, involvement and event ids."""
    found = set(audit.sent.pseudonyms | audit.sent.activity_ids | audit.sent.involvement_ids)
    for entry in audit.ledger.entries("admin"):
        event = entry["event"]
        found.add(str(event["id"]))
        found |= {str(v) for k, v in event["data"].items()
                  if v and (k.endswith("_id") and k != "course_id" or k == "pseudonym")}
    found |= audit.sent.citizen_refs  # never leave the area services at all
    return found


def _query_for(path: str, tree_size: int) -> dict[str, str]:
    plausible = {"area": "recruitment", "group_by": "org_unit", "period": "quarter",
                 "from": day(1), "to": month_end(12), "after": "0", "limit": "1000",
                 "first": "1", "second": str(tree_size), "start": "0", "end": "50",
                 "hash": "A" * 43 + "=", "tree_size": str(tree_size), "format": "csv",
                 "since": day(1), "org_unit": units("recruitment")[-1],
                 "type": "org.ladder.involvement.recorded"}
    if path.startswith("/v1/releases"):
        plausible["period"] = str(auditing.YEAR)
    return plausible


def _routes(audit: Audit) -> list[tuple[str, str, str, str | None, dict[str, str]]]:
    """(service, path, url, x-scope, query) of every GET in every OpenAPI document."""
    tree_size = requests.get(audit.ledger.base + "/ct/v1/get-sth", timeout=20).json()["tree_size"]
    ids = {"release_id": str(audit.releases[0] if audit.releases else 1),
           "id": next(iter(sorted(audit.sent.activity_ids)))}
    found = []
    for service in SERVICES:
        base = audit.stack.url(service)
        spec = requests.get(base + "/openapi.json", timeout=20).json()
        for path, item in spec["paths"].items():
            operation = item.get("get")
            if operation is None:
                continue
            declared = {p["name"] for p in [*item.get("parameters", []),
                                            *operation.get("parameters", [])]
                        if p["in"] == "query"}
            concrete = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "1"), path)
            query = {k: v for k, v in _query_for(path, tree_size).items() if k in declared}
            found.append((service, path, base + concrete, operation.get("x-scope"), query))
    return found


def test_a_read_token_reaches_no_entry_content_on_any_route(audit: Audit) -> None:
    needles = _needles(audit)
    token = audit.ledger.tokens["read"]
    bodies: dict[str, str] = {}
    unexpected = []
    for service, path, url, scope, query in _routes(audit):
        answer = requests.get(url, params=query, timeout=30,
                              headers={"Authorization": f"Bearer {token}"})
        bodies[f"{service} GET {path}"] = answer.text + json.dumps(dict(answer.headers))
        if service != "ledger":
            expected = {200} if scope is None else {401}
        elif scope in (None, "read"):
            expected = {200, 404} if "{" in path else {200}
        else:
            expected = {403}
        if answer.status_code not in expected:
            unexpected.append((service, path, answer.status_code, answer.text[:200]))
    board = Dashboard(audit.ledger.base, token)
    year = {"from": day(1), "to": month_end(12)}
    pages = ["/dashboard", *[f"/dashboard/areas/{a}" for a in AREAS]]
    for page in pages:
        bodies[page] = board.page(page, **year)
    for area in AREAS:
        for unit in units(area):
            bodies[f"/dashboard/areas/{area} {unit}"] = board.page(
                f"/dashboard/areas/{area}", **year, org_unit=unit)
    leaks = sorted({(where, needle) for where, body in bodies.items() for needle in needles
                    if needle in body})
    report = (f"entry content on {audit.backend}: {len(bodies)} answers to the read token "
              f"searched for {len(needles)} pseudonyms, ids and citizen references: "
              f"{len(leaks)} found; {len(unexpected)} unexpected statuses")
    audit.say(report + "".join(f"\n  {leak}" for leak in leaks[:10])
              + "".join(f"\n  {u}" for u in unexpected[:10]))
    assert not leaks and not unexpected, (report, leaks[:10], unexpected[:10])


def test_entry_level_routes_refuse_a_read_token_in_the_error_shape(audit: Audit) -> None:
    size = requests.get(audit.ledger.base + "/ct/v1/get-sth", timeout=20).json()["tree_size"]
    # A real leaf's hash (RFC 9162: SHA-256 of 0x00 and the leaf input, which in log
    # format 2 is the SHA-256 of the entry's salted line, an NDJSON export line).
    line = audit.ledger.get("inspect", "/v1/exports/entries", format="ndjson").content.split(
        b"\n")[0]
    leaf = hashlib.sha256(line).digest() if "salt" in json.loads(line) else line
    leaf_hash = base64.b64encode(hashlib.sha256(b"\x00" + leaf).digest())
    queries = {"/v1/entries": {"after": "0", "limit": "10"},
               "/v1/exports/entries": {"format": "ndjson"},
               "/ct/v1/get-entries": {"start": "0", "end": "9"},
               "/ct/v1/get-proof-by-hash": {"hash": leaf_hash.decode(),
                                            "tree_size": str(size)}}
    assert set(queries) == set(ENTRY_ROUTES)
    refusals = {}
    for path, query in queries.items():
        answer = audit.ledger.get("read", path, **query)
        body = answer.json() if answer.headers.get("Content-Type", "").startswith(
            "application/json") else answer.text
        refusals[path] = (answer.status_code, body)
        # The same question is answered to the inspect tier: the route is there.
        assert audit.ledger.get("inspect", path, **query).status_code == 200, path
    wrong = {path: r for path, r in refusals.items() if r[0] != 403 or not isinstance(r[1], dict)
             or set(r[1]) != {"code", "status", "message", "errors"} or r[1]["code"] != 403}
    audit.say(f"entry-level routes on {audit.backend}: {len(refusals) - len(wrong)} of "
              f"{len(refusals)} refuse the read token with 403 in the error shape")
    assert not wrong, wrong


# ---- The access log ----------------------------------------------------------------------

def _access_log(audit: Audit, who: str) -> tuple[list[dict[str, Any]], str]:
    rows: list[dict[str, Any]] = []
    texts = []
    after: int | None = 0
    while after is not None:
        page = audit.ledger.get(who, "/v1/access-log", after=str(after), limit="1000")
        assert page.status_code == 200, page.text
        texts.append(page.text)
        rows += page.json()["items"]
        after = page.json()["next_after"]
    return rows, "".join(texts)


def test_the_access_log_tells_a_reader_who_read_when_but_never_what_was_searched(
        audit: Audit) -> None:
    small = next(a for a in audit.activities if a.unit == units(a.area)[-1])
    searched = audit.ledger.get("admin", "/v1/entries", pseudonym=_pseudonym_of(audit, small))
    assert searched.status_code == 200 and searched.json()["items"], searched.text
    pseudonym = searched.json()["items"][0]["pseudonym"]
    inspected = audit.ledger.get("inspect", "/v1/entries", area=small.area, limit="5")
    assert inspected.status_code == 200, inspected.text

    rows, text = _access_log(audit, "read")
    reads = [r for r in rows if r["path"] == "/v1/entries" and r["token_name"] == "ops"]
    assert reads, "the read token sees that the admin read entries"
    assert all(r["at"] and r["method"] == "GET" and r["status"] == 200 for r in reads)
    assert pseudonym not in text and "pseudonym=" not in text
    redacted = {"remote_addr", "user_agent", "purpose"}
    unredacted = [r for r in rows if "?" in r["path"] or any(r[k] is not None for k in redacted)]
    assert not unredacted, unredacted[:5]

    rows, text = _access_log(audit, "inspect")
    assert any(r["path"] == f"/v1/entries?pseudonym={pseudonym}" for r in rows), (
        "an inspect token sees what was searched")
    purposes = {r["purpose"] for r in rows if r["token_name"] == "cqc"}
    assert purposes == {PURPOSE}, purposes
    audit.say(f"access log on {audit.backend}: {len(rows)} rows; the read token saw the admin's "
              f"{len(reads)} reads of /v1/entries without their query; the inspect token saw "
              "the pseudonym searched for and its own purpose")


def _pseudonym_of(audit: Audit, activity: Activity) -> str:
    """The pseudonym of the citizen in the unit with a single involvement."""
    for entry in audit.ledger.entries("admin", area=activity.area, org_unit=activity.unit,
                                      type="org.ladder.involvement.recorded"):
        return str(entry["pseudonym"])
    raise AssertionError(f"no involvement of {activity.unit} in the ledger")

