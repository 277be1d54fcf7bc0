"""What a reader can infer from disclosure-controlled figures: the arithmetic of the attacks.

Pure functions, no HTTP. A *hidden* figure is a count whose exact value is 1 to 4 (what
NHS and ONS rules never publish; for hours, more than 0 and under 5). An attack
*recovers* it when its estimate equals the exact value, or when the set of values
consistent with everything shown collapses to that value. Two readers are modelled:

- the **naive** reader takes every figure shown as exact;
- the **method-aware** reader knows the documented method: a count rounded to base *b*
  lies within *b* - 1 of what is shown and is never below 0 (hours, not a count,
  within *b*); a null count is under the threshold *t*. It reads the median, shares
  and index twice: as computed from the exact counts (distrusting the documentation)
  and as computed from the rounded ones (as documented, which adds nothing).

A method-aware recovery counts only when the exact figures meet the reader's
assumptions. A set that collapses while they do not is luck, which the reader cannot
tell from a set that collapses onto a wrong value; both are counted apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

STEPS = tuple(f"step_{k}" for k in range(1, 8))
COUNTS = ("activities", "activities_involved", "involvements", *STEPS, "citizens",
          "returning_citizens", "hours")
DISTINCT = ("citizens", "returning_citizens")  # not sums: a citizen can be in two cells
DERIVED = ("coverage", "median_step", "co_design_or_higher", "co_production",
           "recognition_rate", "decision_vote_share", "feedback_rate", "index")
# Counts behind the shares, recovered by inverting them.
SHARE_COUNTS = {"recognised": "recognition_rate", "feedback": "feedback_rate",
                "votes": "decision_vote_share"}
TARGETS = ("activities", "activities_involved", "involvements", *STEPS, *SHARE_COUNTS)

Value = float | None
Figures = dict[str, Value]
# (area or "*", org unit or "*", first month, last month)
Cell = tuple[str, str, int, int]


def figures(row: Mapping[str, Any]) -> Figures:
    """A metrics row (or total) as flat figures: steps as step_1 .. step_7."""
    flat: Figures = {name: row.get(name) for name in COUNTS + DERIVED if name not in STEPS}
    for k in range(1, 8):
        flat[f"step_{k}"] = row["steps"][str(k)] if row.get("steps") else None
    return flat


def exact_share_counts(row: Figures) -> dict[str, int]:
    """recognised, feedback and votes from an exact (admin) row: share x involvements."""
    involvements = row["involvements"] or 0
    return {name: round((row[share] or 0) * involvements) for name, share in SHARE_COUNTS.items()}


def hidden(value: Value) -> bool:
    return value is not None and 0 < value < 5


def same(a: Value, b: Value) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) < 1e-9


@dataclass(frozen=True)
class Method:
    """What the answers say of their disclosure control."""

    base: int
    threshold: int

    @classmethod
    def of(cls, disclosure: Mapping[str, Any]) -> Method:
        return cls(int(disclosure.get("base", 1)), int(disclosure.get("threshold", 1)))

    def interval(self, shown: Value, name: str = "count") -> tuple[float, float]:
        """The values the method allows behind what is shown."""
        if shown is None:
            return 0.0, float(max(self.threshold - 1, 0))
        spread = self.base if name == "hours" and self.base > 1 else self.base - 1
        return max(0.0, shown - spread), shown + spread


@dataclass(frozen=True)
class Outcome:
    """One attack on one hidden figure."""

    naive: bool = False   # the naive reader's estimate is the exact value
    aware: bool = False   # the method-aware reader is left with the exact value alone
    # Left with the exact value alone, but by reasoning the cell contradicts (the exact
    # figures lie outside what the reader assumed): luck a reader cannot tell from ...
    chance: bool = False
    # ... being left with one value that is not the exact one.
    wrong: bool = False


def verdict(naive: bool, values: set[int] | set[float], truth: float, sound: bool) -> Outcome:
    """What the method-aware reader's feasible values amount to."""
    only = next(iter(values)) if len(values) == 1 else None
    on_truth = only is not None and abs(only - truth) < 1e-9
    return Outcome(naive, on_truth and sound, on_truth and not sound,
                   only is not None and not on_truth)


@dataclass
class Tally:
    """Hidden figures attacked, and how each reader fared, with examples."""

    attempts: int = 0
    naive: int = 0
    aware: int = 0
    chance: int = 0
    wrong: int = 0
    recoveries: int = 0  # by either reader
    examples: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome, what: str) -> None:
        self.attempts += 1
        self.recoveries += outcome.naive or outcome.aware
        self.naive += outcome.naive
        self.aware += outcome.aware
        self.chance += outcome.chance
        self.wrong += outcome.wrong
        if (outcome.naive or outcome.aware) and len(self.examples) < 3:
            self.examples.append(what)

    def merge(self, other: Tally) -> None:
        self.attempts += other.attempts
        self.recoveries += other.recoveries
        self.naive += other.naive
        self.aware += other.aware
        self.chance += other.chance
        self.wrong += other.wrong
        self.examples += other.examples[:max(0, 3 - len(self.examples))]

    def __str__(self) -> str:
        more = f"; e.g. {self.examples}" if self.examples else ""
        luck = (f" (besides, left with one value {self.chance + self.wrong} times by "
                f"reasoning the cell contradicts: {self.chance} the exact value, "
                f"{self.wrong} another)") if self.chance + self.wrong else ""
        return (f"{self.attempts} hidden figures attacked, {self.naive} recovered naively, "
                f"{self.aware} by a method-aware reader{luck}{more}")


def _values(lo: float, hi: float, integral: bool) -> set[float]:
    if integral:
        return {float(v) for v in range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1)}
    return {lo} if abs(lo - hi) < 1e-9 else {lo, hi} if lo < hi else set()


def _within(method: Method, shown: Value, exact: float, name: str) -> bool:
    lo, hi = method.interval(shown, name)
    return lo - 1e-9 <= exact <= hi + 1e-9


def subtract(total: Value, parts: Sequence[Value], own: Value, name: str, method: Method,
             exact_total: float, exact_parts: Sequence[float], truth: float) -> Outcome:
    """A total minus the parts beside the target.

    For a sum the target is the total minus the others; for distinct citizens the
    total is at most the sum of its parts, so the target is at least that difference.
    """
    naive = (total is not None and all(p is not None for p in parts)
             and same(total - sum(p for p in parts if p is not None), truth))
    lo, hi = method.interval(own, name)
    t_lo, t_hi = method.interval(total, name)
    bounds = [method.interval(p, name) for p in parts]
    lo = max(lo, t_lo - sum(b[1] for b in bounds))
    if name not in DISTINCT:
        hi = min(hi, t_hi - sum(b[0] for b in bounds))
    sound = (_within(method, own, truth, name) and _within(method, total, exact_total, name)
             and all(_within(method, p, e, name)
                     for p, e in zip(parts, exact_parts, strict=True)))
    return verdict(naive, _values(lo, hi, name != "hours"), truth, sound)


def difference(bigger: Value, smaller: Value, own: Value, name: str, method: Method,
               exact: tuple[float, float, float], truth: float) -> Outcome:
    """Two ranges a month apart, the bigger minus the smaller: the month between them.

    For a sum the difference is that month's figure (shown on its own as ``own``); new
    citizens are at most the month's citizens; returning citizens only grow. ``exact``
    holds the exact bigger, smaller and month's figures.
    """
    naive = bigger is not None and smaller is not None and same(bigger - smaller, truth)
    b_lo, b_hi = method.interval(bigger, name)
    s_lo, s_hi = method.interval(smaller, name)
    lo, hi = max(0.0, b_lo - s_hi), b_hi - s_lo
    o_lo, o_hi = method.interval(own, name)
    if name == "citizens":
        hi = min(hi, o_hi)
    elif name not in DISTINCT:
        lo, hi = max(lo, o_lo), min(hi, o_hi)
    sound = all(_within(method, shown, value, name)
                for shown, value in zip((bigger, smaller, own), exact, strict=True))
    return verdict(naive, _values(lo, hi, name != "hours"), truth, sound)


# ---- Inverting the derived statistics of one cell ---------------------------------------

SHARE_TOLERANCE = 0.5e-4 + 1e-9  # shares are rounded to 4 places
INDEX_TOLERANCE = 0.05 + 0.006   # to 0.1, from a coverage itself rounded to 4 places


def _share_matches(shown: Value, numerator: int, denominator: int) -> bool:
    if shown is None:
        return True
    if denominator == 0:
        return False
    return abs(min(1.0, numerator / denominator) - shown) <= SHARE_TOLERANCE


def median(histogram: Sequence[int]) -> float:
    """The median step of a histogram of involvements at steps 1..7."""
    n = sum(histogram)

    def at(i: int) -> int:  # the step of the i-th involvement (0-based), steps ascending
        seen = 0
        for step, count in enumerate(histogram, start=1):
            seen += count
            if i < seen:
                return step
        raise IndexError(i)

    return float(at(n // 2)) if n % 2 else (at(n // 2 - 1) + at(n // 2)) / 2


@dataclass
class Feasible:
    """For each target, the values consistent with a cell as shown."""

    values: dict[str, set[int]] = field(default_factory=dict)
    enumerated: bool = False
    histograms: int = 0


def _compositions(total: int, bounds: Sequence[tuple[int, int]]) -> Iterator[tuple[int, ...]]:
    """Every way to write ``total`` as parts within their bounds."""
    if not bounds:
        if total == 0:
            yield ()
        return
    (lo, hi), rest = bounds[0], bounds[1:]
    rest_lo, rest_hi = sum(b[0] for b in rest), sum(b[1] for b in rest)
    for v in range(max(lo, total - rest_hi), min(hi, total - rest_lo) + 1):
        for tail in _compositions(total - v, rest):
            yield (v, *tail)


def _int_bounds(interval: tuple[float, float]) -> tuple[int, int]:
    return math.ceil(interval[0] - 1e-9), math.floor(interval[1] + 1e-9)


def invert(shown: Figures, method: Method, aware: bool, derived: bool = True,
           joint_limit: int = 30, limit: int = 400_000) -> Feasible:
    """Every step histogram, count of recognised, feedback and votes, and count of
    activities (involved) that a cell's shown figures allow.

    With ``derived``, the median, shares and index are taken as computed from the exact
    counts, as a reader who distrusts the documentation would take them: if they were,
    this is where they would give a small count away. Without it they are taken as the
    documentation says, computed from the rounded counts, which tells nothing more. Steps
    are enumerated together up to ``joint_limit`` involvements; above it each constraint
    narrows its own figures (a superset of the joint answer).
    """
    use = method if aware else Method(1, method.threshold)
    bounds = [_int_bounds(use.interval(shown[s])) for s in STEPS]
    n_lo, n_hi = _int_bounds(use.interval(shown["involvements"]))
    n_lo, n_hi = max(n_lo, sum(b[0] for b in bounds)), min(n_hi, sum(b[1] for b in bounds))
    result = Feasible()
    activities = _int_bounds(use.interval(shown["activities"]))
    involved = _int_bounds(use.interval(shown["activities_involved"]))
    coverage = shown["coverage"] if derived else None
    pairs = [(a, i) for a in range(activities[0], activities[1] + 1)
             for i in range(involved[0], min(involved[1], a) + 1)
             if _share_matches(coverage, i, a)]
    result.values["activities"] = {a for a, _ in pairs}
    result.values["activities_involved"] = {i for _, i in pairs}
    informative = derived and any(shown[d] is not None for d in DERIVED if d != "coverage")
    if not informative or n_hi > joint_limit:
        for k, name in enumerate(STEPS):
            others_lo = sum(b[0] for j, b in enumerate(bounds) if j != k)
            others_hi = sum(b[1] for j, b in enumerate(bounds) if j != k)
            result.values[name] = set(range(max(bounds[k][0], n_lo - others_hi),
                                            min(bounds[k][1], n_hi - others_lo) + 1))
        result.values["involvements"] = set(range(n_lo, n_hi + 1))
        sizes = range(max(n_lo, 0), n_hi + 1)
        if derived:
            result.values["step_7"] = {s for s in result.values["step_7"] if any(
                _share_matches(shown["co_production"], s, n) for n in sizes)}
            result.values["step_6"] = {s for s in result.values["step_6"] if any(
                _share_matches(shown["co_design_or_higher"], s + s7, n)
                for n in sizes for s7 in result.values["step_7"])}
        for name, share in SHARE_COUNTS.items():
            result.values[name] = {c for n in sizes for c in range(n + 1)
                                   if _share_matches(shown[share] if derived else None, c, n)}
        return result
    result.enumerated = True
    for name in (*STEPS, "involvements", *SHARE_COUNTS):
        result.values[name] = set()
    for n in range(n_lo, n_hi + 1):
        counts = {name: [c for c in range(n + 1) if _share_matches(shown[share], c, n)]
                  for name, share in SHARE_COUNTS.items()}
        if not all(counts.values()):
            continue
        sevens = [s for s in range(bounds[6][0], bounds[6][1] + 1)
                  if _share_matches(shown["co_production"], s, n)]
        for s7 in sevens:
            for s6 in range(bounds[5][0], bounds[5][1] + 1):
                if not _share_matches(shown["co_design_or_higher"], s6 + s7, n):
                    continue
                for low in _compositions(n - s6 - s7, bounds[:5]):
                    histogram = (*low, s6, s7)
                    result.histograms += 1
                    if result.histograms > limit:
                        raise OverflowError(f"more than {limit} histograms: {shown}")
                    if shown["median_step"] is not None and (
                            n == 0 or abs(median(histogram) - shown["median_step"]) > 1e-9):
                        continue
                    kept = _with_index(shown["index"], shown["coverage"], histogram, n, counts)
                    if kept is None:
                        continue
                    for k, name in enumerate(STEPS):
                        result.values[name].add(histogram[k])
                    result.values["involvements"].add(n)
                    for name, found in kept.items():
                        result.values[name] |= found
    return result


def _with_index(index: Value, coverage: Value, histogram: Sequence[int], n: int,
                counts: Mapping[str, list[int]]) -> dict[str, set[int]] | None:
    """The counts of recognised and feedback (and votes) the index leaves possible."""
    if index is None or coverage is None or n == 0:
        return {name: set(found) for name, found in counts.items()}
    depth = (sum(k * c for k, c in enumerate(histogram, start=1)) / n - 1) / 6
    pairs = [(r, f) for r in counts["recognised"] for f in counts["feedback"]
             if abs(100 * coverage * (0.7 * depth + 0.3 * (r + f) / (2 * n)) - index)
             <= INDEX_TOLERANCE]
    if not pairs:
        return None
    return {"recognised": {r for r, _ in pairs}, "feedback": {f for _, f in pairs},
            "votes": set(counts["votes"])}


def allows(shown: Figures, exact: Mapping[str, Value], method: Method, aware: bool,
           derived: bool = True) -> bool:
    """Whether the exact cell is among those ``invert`` reasons about: the reader's
    assumptions hold for it. A feasible set that collapses while they do not is luck."""
    use = method if aware else Method(1, method.threshold)
    ints = {name: int(exact[name] or 0) for name in TARGETS}
    if not all(_within(use, shown[name], ints[name], name)
               for name in ("activities", "activities_involved", "involvements", *STEPS)):
        return False
    if not derived:
        return True
    histogram = [ints[s] for s in STEPS]
    n = ints["involvements"]
    checks = [_share_matches(shown["coverage"], ints["activities_involved"], ints["activities"]),
              _share_matches(shown["co_production"], histogram[6], n),
              _share_matches(shown["co_design_or_higher"], histogram[5] + histogram[6], n),
              *(_share_matches(shown[share], ints[name], n)
                for name, share in SHARE_COUNTS.items()),
              shown["median_step"] is None or (
                  n > 0 and abs(median(histogram) - shown["median_step"]) < 1e-9)]
    counts = {name: [ints[name]] for name in SHARE_COUNTS}
    return all(checks) and _with_index(shown["index"], shown["coverage"], histogram, n,
                                       counts) is not None


def fitting(shown: Figures, counts: Mapping[str, Value]) -> set[str]:
    """The median and the shares made of steps and activities alone that ``counts``
    (exact or shown) give as shown."""
    ints = {name: int(counts[name] or 0) for name in
            ("activities", "activities_involved", "involvements", *STEPS)}
    histogram = [ints[s] for s in STEPS]
    # Shares of steps are of the steps' own total, as documented: for exact counts that
    # is the involvements; rounded, each step and the involvements round on their own.
    n = sum(histogram)
    checks = {
        "coverage": _share_matches(shown["coverage"], ints["activities_involved"],
                                   ints["activities"]),
        "co_production": _share_matches(shown["co_production"], histogram[6], n),
        "co_design_or_higher": _share_matches(shown["co_design_or_higher"],
                                              histogram[5] + histogram[6], n),
        "median_step": sum(histogram) > 0
        and abs(median(histogram) - (shown["median_step"] or 0)) < 1e-9,
    }
    return {name for name, fits in checks.items() if shown[name] is not None and fits}
