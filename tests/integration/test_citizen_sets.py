"""The citizens of each unit and month as sets, against counting every citizen by hand:
any moves in and out of any cells, read over any months, by unit or all units together,
give the same distinct and returning citizens and the same sums of record keys."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ledger import citizen_sets
from services.ledger.disclosure import Reach, citizen_key
from services.ledger.models import CitizenId, CitizenKeyBit, CitizenMonth
from shared.db import Database

UNITS = ("north", "south", "*")
MONTHS = tuple(f"2026-{m:02d}" for m in range(1, 7))
# Real pseudonyms are p_ and 32 hex digits; the ledger takes any text, and a digit that
# is not hex reads as -1, so keys can be negative.
PSEUDONYMS = st.one_of(
    st.text("0123456789abcdef", min_size=32, max_size=32).map(lambda h: f"p_{h}"),
    st.sampled_from(["p_ffffff", "p_000000", "x", "", "p_zzzzzz", "p_\u00e9\u00e9", "p_0f"]))

# One involvement (+1) or one withdrawn (-1) of a citizen in a unit and month.
STEPS = st.lists(st.lists(st.tuples(st.integers(0, 7), st.sampled_from(UNITS),
                                    st.sampled_from(MONTHS), st.sampled_from([1, 1, -1])),
                          max_size=12), min_size=1, max_size=4)


def _by_hand(counts: Counter[tuple[str, str, str]], unit: str | None, months: list[str],
             by_unit: bool) -> dict[str, Reach]:
    per: dict[str, Counter[str]] = {}
    for (pseudonym, org_unit, month), n in counts.items():
        if n and month in months and (org_unit == unit if unit else org_unit != "*"):
            per.setdefault(org_unit if by_unit else "area", Counter())[pseudonym] += n
    return {group: Reach(len(ns), sum(1 for n in ns.values() if n >= 2),
                         sum(citizen_key(p) for p in ns),
                         sum(citizen_key(p) for p, n in ns.items() if n >= 2))
            for group, ns in per.items()}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(people=st.lists(PSEUDONYMS, min_size=8, max_size=8), steps=STEPS,
       first=st.integers(0, 5), last=st.integers(0, 5))
def test_sets_count_as_citizens_counted_one_by_one(
        ledger_db: Database, people: list[str], steps: list[list[tuple[int, str, str, int]]],
        first: int, last: int) -> None:
    with ledger_db.writing() as session:
        for table in (CitizenMonth, CitizenKeyBit, CitizenId):
            session.execute(sa.delete(table))
    counts: Counter[tuple[str, str, str]] = Counter()
    for step in steps:
        moves: dict[citizen_sets.Cell, citizen_sets.Moves] = {}
        before = counts.copy()
        for who, unit, month, sign in step:
            key = (people[who], unit, month)
            if counts[key] + sign >= 0:
                counts[key] += sign
        for (pseudonym, unit, month), n in counts.items():
            was = before[(pseudonym, unit, month)]
            sets = moves.setdefault(("recruitment", unit, month), citizen_sets.Moves())
            for least in (1, 2):
                if (was >= least) != (n >= least):
                    sets.flip(pseudonym, least, n >= least)
        with ledger_db.writing() as session:
            citizen_sets.move(session, moves)
    months = list(MONTHS[min(first, last):max(first, last) + 1])
    with ledger_db.reading() as session:
        for unit, by_unit in (("*", False), (None, False), (None, True), ("north", True)):
            got = citizen_sets.reach(session, "recruitment", [unit] if unit else None,
                                     months, by_unit)
            expected = _by_hand(counts, unit, months, by_unit)
            if not by_unit and expected:
                expected = {"recruitment": expected["area"]}
            assert got == expected, (unit, by_unit)
        # A cell no citizen is left in is gone, not kept empty.
        left = {(u, m) for (_, u, m), n in counts.items() if n}
        assert {(u, m) for u, m in session.execute(
            sa.select(CitizenMonth.org_unit, CitizenMonth.month))} == left
        # Numbers are dense, from 0.
        ids = session.scalars(sa.select(CitizenId.id).order_by(CitizenId.id)).all()
        assert all(b == a + 1 for a, b in pairwise(ids)) and (not ids or ids[0] == 0)
