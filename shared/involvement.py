"""What every area's involvement carries, and the ladder it is measured on.

Plain Python: no Flask, no database. docs/rubrics.md argues for every row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

RECOGNITION = ("payment", "voucher", "time_credit", "expenses_only", "declined", "none")
# The ordered facts run from least to most: more of any of them never lowers the step.
DECISION_POWER = ("none", "advisory", "equal_vote", "lead")
# What the citizen did.
PARTS = ("required_to_attend", "shown_how_it_works", "told", "asked_for_views",
         "contributed_experience", "designed", "decided", "led")
# Did their contribution demonstrably change the outcome?
INFLUENCE = ("no", "unknown", "yes")
# The most hours one involvement can record: the areas accept no more, and the ledger
# refuses more from anyone, so that no sum of them leaves the range of a float.
MAX_HOURS = 1000

# TLAP / National Co-production Advisory Group (2016).
LADDER = {
    1: "coercion",
    2: "educating",
    3: "informing",
    4: "consultation",
    5: "engagement",
    6: "co-design",
    7: "co-production",
}

# The rubric every area applies to new involvements and to corrections. Version 1
# (docs/rubrics.md, "History") is kept by the events derived under it, not here.
RUBRIC_VERSION = 2


@dataclass(frozen=True)
class Facts:
    """The observable facts the step is derived from."""

    stage: str
    role: str
    part: str
    influence: str
    decision_power: str
    from_start: bool
    feedback_given: bool
    recognition: str

    def did_at_least(self, part: str) -> bool:
        return PARTS.index(self.part) >= PARTS.index(part)

    @property
    def influenced(self) -> bool:
        # Influence counts when it is shown; "unknown" weighs as "no".
        return self.influence == "yes"

    @property
    def shares_decision(self) -> bool:
        return self.decision_power in ("equal_vote", "lead")

    @property
    def gave_views(self) -> bool:
        # Advisory power means their views were asked for, whatever else was recorded.
        return self.did_at_least("asked_for_views") or self.decision_power != "none"

    @property
    def recognition_offered(self) -> bool:
        # "declined" was offered and turned down: it still counts as offered.
        return self.recognition != "none"

    def as_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict, which deep-copies every value: these are all flat,
        # and the intake asks once per involvement.
        return {name: getattr(self, name) for name in FACT_NAMES}


FACT_NAMES = tuple(f.name for f in fields(Facts))


@dataclass(frozen=True)
class Source:
    """The words a row implements, and where they were read."""

    title: str
    quote: str
    url: str


@dataclass(frozen=True)
class Row:
    """One row of a rubric: if ``when`` holds, the involvement is at ``step``."""

    id: str
    step: int
    rule: str
    when: Callable[[Facts], bool]
    source: Source

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "step": self.step, "rung": LADDER[self.step],
                "rule": self.rule, "source": asdict(self.source)}


@dataclass(frozen=True)
class Rubric:
    """An area's versioned rubric; the first matching row decides the step."""

    area: str
    version: str
    rows: tuple[Row, ...]
    # Citizens at one of these stages were there from the start by definition.
    design_stages: tuple[str, ...]
    # Present to learn how it is done, not to decide.
    observer_roles: tuple[str, ...]
    # Roles that say nothing of what the citizen did: a request must say ``part``.
    open_roles: tuple[str, ...]

    def row(self, facts: Facts) -> Row:
        for row in self.rows:
            if row.when(facts):
                return row
        raise AssertionError("a rubric ends with a row that always matches")

    def step(self, facts: Facts) -> tuple[int, str]:
        row = self.row(facts)
        return row.step, row.id

    def default_part(self, stage: str, role: str, decision_power: str,
                     from_start: bool) -> str | None:
        """What a request that does not say ``part`` (a version-1 request) is read as.

        None when the role does not tell: the request must say it.
        """
        if decision_power == "lead":
            return "led"
        if decision_power == "equal_vote":
            return "decided"
        if decision_power == "advisory":
            return "designed" if from_start or stage in self.design_stages else "asked_for_views"
        if role in self.observer_roles:
            return "shown_how_it_works"
        if role in self.open_roles:
            return None
        # Every other role is a contributing one (a panel member, an educator, an Expert
        # by Experience): with no power to decide, what they gave is their experience.
        return "contributed_experience"


_NORFOLK = "https://www.norfolk.gov.uk/article/39266/What-do-we-mean-by-co-production"
_TLAP_DIFFERENT = ("https://www.thinklocalactpersonal.org.uk/co-production-in-commissioning-"
                   "tool/co-production/In-more-detail/what-makes-co-production-different/")


def _ladder(step: int, quote: str) -> Source:
    return Source(f"TLAP / NCAG ladder of co-production, step {step}: {LADDER[step]} "
                  "(as Norfolk County Council reproduces it)", quote, _NORFOLK)


# The definition each step's rows implement, word for word.
DEFINITIONS = {
    1: _ladder(1, "People attend an event about services as passive recipients. Their "
               "views are not considered important and are not taken into account."),
    2: _ladder(2, "Service providers help those who use their services understand their "
               "design and delivery. This is so they gain relevant knowledge about it."),
    3: _ladder(3, "The people responsible for services tell people about them and explain "
               "how they work. This may include telling people what decisions they have "
               "made and why."),
    4: _ladder(4, "Service providers ask service users to fill in surveys or attend "
               "meetings. But service users may think this step is a token gesture if they "
               "do not have the power to influence or affect change."),
    5: _ladder(5, "Compared to the previous step, service users get more opportunities to "
               "give their views. They may also be able to influence some decisions. But "
               "this depends on what the service providers will allow."),
    6: _ladder(6, "Service users help design those services, based on their experiences and "
               "ideas. They have genuine influence but are not involved in ‘seeing it "
               "through’."),
    7: Source("TLAP, What makes co-production different?",
              "Co-production is different because it also needs people's actions. [...] "
              "Co-production means that power is shared more equally between those who use "
              "services and those who provide them.", _TLAP_DIFFERENT),
}


def ladder_rubric(area: str, *, design_stages: tuple[str, ...],
                  observer_roles: tuple[str, ...], open_roles: tuple[str, ...]) -> Rubric:
    """The ladder, read from the facts, with an area's own stages and roles.

    Every condition only ever holds more as a fact rises (PARTS, INFLUENCE and
    DECISION_POWER in order; from the start, feedback and recognition over none), and
    the rows fall in step: so the step is monotone in every fact.
    """
    version = f"{area}-{RUBRIC_VERSION}"

    def start(f: Facts) -> bool:
        return f.from_start or f.stage in design_stages

    def row(key: str, step: int, rule: str, when: Callable[[Facts], bool]) -> Row:
        # "recruitment-2.7": the version in the id, so no id of version 1 ("recruitment-7")
        # can be read as one of these.
        return Row(f"{version}.{key}", step, rule, when, DEFINITIONS[step])

    return Rubric(area, version, (
        row("7", 7, "shares the decision (equal vote or lead), from the start, with "
            "recognition offered; being told the outcome is not needed",
            lambda f: f.shares_decision and start(f) and f.recognition_offered),
        row("6a", 6, "shares the decision, but not from the start, or with nothing "
            "offered in return",
            lambda f: f.shares_decision),
        row("6b", 6, "designed or led, and their contribution demonstrably changed the "
            "outcome; the decision was not theirs",
            lambda f: f.did_at_least("designed") and f.influenced),
        row("5a", 5, "gave views or experience that demonstrably changed the outcome, as "
            "far as the organisation allowed",
            lambda f: f.gave_views and f.influenced),
        row("5b", 5, "designed or led (ran a panel, a session), with no influence shown "
            "and no share in the decision",
            lambda f: f.did_at_least("designed")),
        row("4", 4, "asked for views, or their experience was the content, with no "
            "influence shown",
            lambda f: f.gave_views),
        row("3", 3, "told about it, or told the outcome and why; views not sought",
            lambda f: f.did_at_least("told") or f.feedback_given),
        row("2", 2, "shown how it works, to learn; views not sought",
            lambda f: f.did_at_least("shown_how_it_works")),
        row("1", 1, "required to attend: views not sought, nothing shown or told",
            lambda f: True),
    ), design_stages, observer_roles, open_roles)


def said(stage: str, role: str, power: str = "none", *, part: str | None = None,
         influence: str | None = None, start: bool = False, feedback: bool = False,
         recognition: str = "none") -> dict[str, Any]:
    """The facts of an involvement as a recorder posts them (``part`` and ``influence``
    only if given, as a version-1 request leaves them out)."""
    facts: dict[str, Any] = {"stage": stage, "role": role, "decision_power": power,
                             "from_start": start, "feedback_given": feedback,
                             "recognition": recognition}
    if part is not None:
        facts["part"] = part
    if influence is not None:
        facts["influence"] = influence
    return facts


@dataclass(frozen=True)
class WorkedCase:
    """A situation of an area, the row of its rubric that reads it ("5b"), and the facts
    posted for it: an area declares them beside its rubric."""

    row: str
    what: str
    facts: dict[str, Any]
