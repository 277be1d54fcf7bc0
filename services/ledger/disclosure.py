"""Disclosure control for every figure a reader below admin sees: plain Python.

The method is the cell key method (ABS; ONS for the 2021 Census flexible tables) with
a random-rounding perturbation table (Stats NZ's random rounding, unbiased, to a
base): each cell's counts are rounded to a multiple of the base, up or down, with
the probabilities that keep the expected value the true one, and a cell key decides
which way, so that the same cell always shows the same value. docs/metrics.md says
why, and what risk remains.

What makes it hold against a reader who subtracts:

- **The finest cells are the only ones perturbed.** Counts are rounded per area,
  org unit and calendar month; every coarser figure (all units, a quarter, a year,
  any range of months, an area) is the sum of those rounded cells, never a rounding
  of its own. A total minus its visible parts is then exactly the rounded value of
  the rest, which is what that rest shows anyway: subtraction finds nothing new,
  in any dimension, over any range.
- **One draw per cell.** A cell's counts share one draw, so rounding keeps their
  order (activities involved never exceed activities, no step exceeds the
  involvements). What the involvements hold is rounded as a share of the rounded
  involvements, so nothing of a cell shows it is not empty when they show 0.
- **Distinct counts** (citizens, returning citizens) do not add up, so each figure
  is rounded on its own, its draw keyed by the set of citizens it counts (the sum
  of their keys): the same citizens give the same draw in whatever query.
- **Derived figures** (shares, median, index, hours) are computed from rounded
  counts only, and shown only when the rounded count under them reaches the
  threshold: the decision, too, depends on nothing but rounded counts.

The draws are keyed by ``LADDER_DISCLOSURE_KEY``: without it no one can tell which
way a cell was rounded.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from services.ledger.measures import Counts, measures

METHOD = "cell key random rounding"
EXACT = "exact"
# Which figures rest on which rounded count: hidden while that count is under the threshold.
NEEDS = {
    "coverage": ("activities",),
    "median_step": ("involvements",),
    "co_design_or_higher": ("involvements",),
    "co_production": ("involvements",),
    "hours": ("involvements",),
    "recognition_rate": ("involvements",),
    "decision_vote_share": ("involvements",),
    "feedback_rate": ("involvements",),
    "told_rate": ("involvements",),
    "change_rate": ("involvements",),
    "median_days_to_feedback": ("told",),
    # Recognised is not shown on its own: the share hides with the involvements.
    "non_financial_share": ("involvements",),
    "index": ("activities", "involvements"),
}


@dataclass(frozen=True)
class Control:
    """The method's parameters: the secret its draws are keyed by, the base, the threshold."""

    key: bytes
    base: int
    threshold: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Control:
        return cls(key=str(config["DISCLOSURE_KEY"]).encode(),
                   base=int(config["DISCLOSURE_BASE"]),
                   threshold=int(config["SUPPRESSION_THRESHOLD"]))

    def label(self) -> dict[str, Any]:
        """How the figures of an answer were made, for the answer itself."""
        return {"method": METHOD, "base": self.base, "threshold": self.threshold}

    def draw(self, *parts: object) -> float:
        """A number in [0, 1), the same for the same parts, unpredictable without the key."""
        message = "\x1f".join(str(part) for part in parts).encode()
        digest = hmac.new(self.key, message, hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") / 2.0 ** 64

    def rounded(self, value: float, u: float) -> float:
        """``value`` at one of the two multiples of the base around it, unbiased.

        With ``u`` uniform on [0, 1) the expected result is ``value``; a multiple of the
        base stays as it is. For a fixed ``u`` it never decreases as ``value`` grows.
        """
        low = math.floor(value / self.base) * self.base
        return low + self.base if u < (value - low) / self.base else low

    def count(self, value: int, u: float) -> int:
        return int(self.rounded(value, u))


# The additive counters of a cell, in the order ``cell`` takes and gives them: the
# activities, the involvements and their steps, then what the involvements hold
# (``OF_INVOLVEMENTS``).
ADDITIVE = ("activities", "activities_involved", "involvements",
            *(f"step_{n}" for n in range(1, 8)),
            "hours", "recognised", "votes", "feedback", "told", "changed", "non_financial")
INVOLVEMENTS = ADDITIVE.index("involvements")
STEPS = slice(3, 10)
OF_INVOLVEMENTS = slice(10, 17)


# A cell rounds the same way for as long as it holds the same counts: each process keeps
# the cells it rounded lately rather than drawing them again on every query.
@lru_cache(maxsize=1 << 14)
def cell(control: Control, area: str, org_unit: str, month: str,
         values: tuple[float, ...]) -> tuple[float, ...]:
    """One finest cell (area, org unit, month), rounded: the ``ADDITIVE`` counters.

    The activities, the involvements and each step share one draw, so that a part never
    exceeds its whole (the steps are rounded each on its own, so their sum need not be
    the involvements shown).
    What the involvements hold (hours, recognised, votes, feedback, told, changed,
    non-financial) is rounded as a share of the rounded involvements, each with a draw
    of its own: unbiased still, never above the involvements, and 0 whenever they
    round to 0, so that nothing of a cell shows it is not empty when its involvements
    show 0. Distinct citizens are not additive: they are rounded per figure (``reach``).
    """
    cell_key = ("cell", area, org_unit, month, *(f"{v:.2f}" for v in values))
    u = control.draw(*cell_key)
    counts = [control.rounded(v, u) for v in values[:OF_INVOLVEMENTS.start]]
    involvements, shown = values[INVOLVEMENTS], counts[INVOLVEMENTS]
    for name, value in zip(ADDITIVE[OF_INVOLVEMENTS], values[OF_INVOLVEMENTS], strict=True):
        share = value * shown / involvements if involvements else 0.0
        counts.append(control.rounded(share, control.draw(*cell_key, name)))
    return tuple(counts)


def part(values: tuple[float, ...] | list[float], name: str) -> float:
    """One counter of a cell's ``ADDITIVE`` values."""
    return float(values[ADDITIVE.index(name)])


def counts(values: list[float]) -> Counts:
    """Counts from summed rounded ``ADDITIVE`` values."""
    steps = [int(n) for n in values[STEPS]]
    hours, *held = values[OF_INVOLVEMENTS]
    recognised, votes, feedback, told, changed, non_financial = (int(n) for n in held)
    return Counts(activities=int(values[0]), activities_involved=int(values[1]),
                  involvements=int(values[INVOLVEMENTS]), steps=steps, hours=hours,
                  recognised=recognised, votes=votes, feedback=feedback, told=told,
                  changed=changed, non_financial=non_financial)


HEX = "0123456789abcdef"


@lru_cache(maxsize=1 << 16)
def citizen_key(pseudonym: str) -> int:
    """A citizen's record key: the first 24 bits of their pseudonym, an HMAC, so uniform.

    Written so that SQL computes the same (services.ledger.metrics.CITIZEN_RECORD_KEY):
    each of the six digits after ``p_`` is its hex value, -1 if it is not one.
    """
    return sum(HEX.find(pseudonym[2 + i:3 + i]) * 16 ** (5 - i) for i in range(6))


@dataclass(frozen=True)
class Reach:
    """The distinct citizens of one figure, and the sums of their keys (the cell keys)."""

    citizens: int = 0
    returning: int = 0
    citizens_key: int = 0
    returning_key: int = 0


def reach(control: Control, area: str, found: Reach) -> tuple[int, int]:
    """Citizens and returning citizens, each rounded with a draw keyed by who they are.

    Returning citizens are a subset of citizens: shown as no more than them.
    """
    citizens = control.count(found.citizens, control.draw(
        "citizens", area, found.citizens_key, found.citizens))
    returning = control.count(found.returning, control.draw(
        "returning", area, found.returning_key, found.returning))
    return citizens, min(returning, citizens)


def figures(control: Control, counts: Counts) -> dict[str, Any]:
    """The published figures of rounded ``counts``, with those resting on too few hidden.

    ``counts`` must already be rounded (sums of ``cell`` and ``reach``): every figure
    here, and every decision to hide one, depends on rounded counts alone.
    """
    shown = measures(counts)
    hidden = [name for name, under in NEEDS.items()
              if any(0 < getattr(counts, count) < control.threshold for count in under)]
    if counts.involvements == 0:
        # Not divided by anything, hours would show even with no involvements shown:
        # rounded up in cells whose involvements rounded down, they would tell that such
        # a cell is not empty. Hidden on the rounded involvements alone, they tell nothing.
        hidden.append("hours")
    for name in hidden:
        shown[name] = None
    return {**shown, "suppressed": hidden}
