"""The worked example of docs/metrics.md: a year of involvement in three areas.

26 events, with an activity moved to another unit, a cancellation, a correction
and a withdrawal. The figures they produce are computed by hand in the docs.
"""

from __future__ import annotations

from typing import Any

from tests.support import events as ev


def _inv(area: str, iid: str, aid: str, unit: str, who: str, step: int, hours: float,
         recognition: str, power: str, feedback: bool, day: str,
         corrected: bool = False) -> dict[str, Any]:
    return ev.involvement(area, step, activity_id=aid, involvement_id=iid, pseudonym=who,
                          org_unit=unit, hours=hours, recognition=recognition,
                          decision_power=power, feedback_given=feedback,
                          time=f"{day}T10:00:00Z", corrected=corrected)


def _act(area: str, aid: str, unit: str, day: str) -> dict[str, Any]:
    return ev.activity(area, unit, activity_id=aid, time=f"{day}T09:00:00Z")


def events() -> list[dict[str, Any]]:
    r, t, n = "recruitment", "training", "inspection"
    return [
        _act(r, "R1", "east", "2026-01-10"),
        _inv(r, "I1", "R1", "east", "pA", 7, 3, "payment", "equal_vote", True, "2026-01-12"),
        _inv(r, "I2", "R1", "east", "pB", 5, 2, "voucher", "advisory", True, "2026-01-12"),
        _act(t, "T1", "academy", "2026-01-20"),
        _inv(t, "I8", "T1", "academy", "pF", 7, 3, "payment", "lead", True, "2026-01-20"),
        _act(n, "N1", "north", "2026-02-01"),
        _act(r, "R2", "east", "2026-02-05"),
        _inv(r, "I3", "R2", "east", "pA", 4, 1.5, "none", "advisory", False, "2026-02-06"),
        _inv(n, "I11", "N1", "north", "pH", 4, 6, "payment", "advisory", False, "2026-02-03"),
        ev.activity_updated(r, "R2", "west", time="2026-02-10T09:00:00Z"),
        _act(r, "R3", "west", "2026-02-20"),
        _inv(r, "I4", "R3", "west", "pC", 6, 4, "time_credit", "lead", False, "2026-02-21"),
        _inv(r, "I4", "R3", "west", "pC", 7, 4, "time_credit", "lead", True, "2026-03-01",
             corrected=True),
        _act(t, "T2", "academy", "2026-03-11"),
        _inv(t, "I9", "T2", "academy", "pF", 6, 3, "payment", "equal_vote", False,
             "2026-03-11"),
        _inv(t, "I10", "T2", "academy", "pG", 5, 2, "voucher", "advisory", True, "2026-03-11"),
        _act(t, "T3", "academy", "2026-03-25"),
        _act(r, "R4", "east", "2026-04-02"),
        _inv(r, "I5", "R4", "east", "pB", 3, 1, "expenses_only", "none", True, "2026-04-03"),
        _inv(r, "I6", "R4", "east", "pD", 6, 2.5, "payment", "equal_vote", True, "2026-04-03"),
        ev.withdrawn(r, "R4", "I5", time="2026-04-10T09:00:00Z"),
        _act(r, "R5", "west", "2026-05-15"),
        _inv(r, "I7", "R5", "west", "pE", 2, 1, "none", "none", False, "2026-05-16"),
        ev.activity_cancelled(r, "R5", "west", time="2026-05-20T09:00:00Z"),
        _act(n, "N2", "north", "2026-06-10"),
        _inv(n, "I12", "N2", "north", "pH", 5, 6, "payment", "advisory", True, "2026-06-11"),
    ]
