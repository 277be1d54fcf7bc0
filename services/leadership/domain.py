"""Leadership: citizens supporting local leaders in driving culture change.

Its activities are the meetings where that leadership happens: of boards and their
committees, of strategy and service-change programmes, of co-production groups, and
of leadership development cohorts. Each meeting counts in the denominator, with or
without citizens, so coverage says how much of the organisation's leadership people
with lived experience were part of.

The stages follow NHS England's statutory guidance "Working in partnership with people
and communities" (2022), which asks that people's voices be at the centre of
decision-making and governance, that they be involved from the start in developing
and considering proposals for change and in the decisions, and that they be told how
their involvement influenced them. The roles follow NHS England's patient and public
voice (PPV) partner roles, from a member of a working group that meets regularly to
senior roles of strategic, accountable leadership, and TLAP's co-production resources
(co-chaired groups, a lived-experience member beside every other).
"""

from __future__ import annotations

from shared.area import Area
from shared.involvement import WorkedCase, ladder_rubric, said

STAGES = (
    # What the group or programme is for, its remit and membership: its design.
    "terms_of_reference",
    "agenda_setting",
    # Lived experience and community insight brought to the table (a board's story).
    "insight",
    "options_development",
    "deliberation",
    "decision",
    # Putting it into practice, co-delivering a leadership programme among it.
    "delivery",
    # Whether it changed what it set out to, and telling people what came of it.
    "review",
)
# An attendee (of a board's meeting held in public, say) is there with no part of their
# own, which the involvement must then say.
ROLES = ("ppv_partner", "lived_experience_board_member", "co_chair", "member", "educator",
         "adviser", "observer", "attendee")
FORUM_TYPES = ("board", "committee", "strategy_programme", "service_change_programme",
               "co_production_group", "leadership_development")

RUBRIC = ladder_rubric(
    "leadership",
    # Setting the terms of reference is shaping the work before it starts.
    design_stages=("terms_of_reference",),
    observer_roles=("observer",),
    open_roles=("attendee",),
)

AREA = Area(
    name="leadership",
    activity_kind="meeting",
    activity_path="meetings",
    stages=STAGES,
    roles=ROLES,
    rubric=RUBRIC,
)


# Situations of this area, each with the row of the rubric that reads it, as
# docs/rubrics.md argues (tests/unit/test_rubric.py holds the rubric to them): one or
# more for every row.
WORKED_CASES: tuple[WorkedCase, ...] = tuple(WorkedCase(*case) for case in (
    ("7", "co-chairs the co-production group from its terms of reference, with an "
          "equal vote; paid",
     said("decision", "co_chair", "equal_vote", start=True, recognition="payment")),
    ("6a", "a lived-experience board member votes on a decision, not in its making",
     said("decision", "lived_experience_board_member", "equal_vote",
            recognition="payment")),
    ("6b", "a PPV partner drew up the options, and the board chose one of them",
     said("options_development", "ppv_partner", "advisory", part="designed",
            influence="yes", recognition="payment")),
    ("5a", "a patient's story at the board changed what it decided",
     said("insight", "member", part="contributed_experience", influence="yes",
            recognition="voucher")),
    ("5b", "leads a session of a leadership development programme",
     said("delivery", "educator", part="led", recognition="payment")),
    ("4", "asked for views in the deliberation; the decision went another way",
     said("deliberation", "member", "advisory", influence="no", feedback=True,
            recognition="time_credit")),
    ("3", "at a board meeting held in public, told what was decided and why",
     said("decision", "attendee", part="told")),
    ("2", "observes a committee to learn how it works",
     said("deliberation", "observer")),
    ("1", "required to attend a review meeting; views not sought",
     said("review", "attendee", part="required_to_attend")),
))
