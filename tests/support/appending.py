"""Appending in the test's own process, as the ledger worker does, then letting the
followers of the log catch up, as the follower process does: what an integration test
reads next (figures, webhook messages) is then there. And the measures as a clean
replay of the whole log makes them, to hold a follower's work against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from services.ledger import followers, service
from services.ledger.models import FollowerPosition
from services.ledger.signing import Signer
from services.ledger.webhooks.settings import Settings
from shared.db import Database


@dataclass(frozen=True)
class Appended:
    result: service.BatchResult
    # The webhook messages the followers wrote for it.
    messages: tuple[str, ...]


def follow(db: Database, settings: Settings | None = None) -> tuple[str, ...]:
    """Every follower caught up; the webhook messages they wrote."""
    steps = followers.catch_up(db, settings or Settings.defaults())
    return tuple(message for step in steps for message in step.messages)


def append(db: Database, events: Any, signer: Signer,
           settings: Settings | None = None) -> service.BatchResult:
    """The append, then the followers."""
    result = service.append_batch(db, events, signer)
    follow(db, settings)
    return result


# What the measures follower writes.
MEASURES = ("aggregates", "citizen_years", "activity_states", "involvement_states",
            "cell_histograms", "alert_states")
# Counters a step can leave at 0 (a unit an activity moved from), where one step over the
# same entries writes no row: the same figures.
COUNTERS = ("aggregates", "citizen_years", "cell_histograms")


def measures(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Each table of the measures' rows, sorted; counters' rows of nothing but 0 left out."""
    found = {}
    with db.reading() as session:
        for table in MEASURES:
            rows = [tuple(row) for row in session.execute(sa.text(f"SELECT * FROM {table}"))]
            if table in COUNTERS:
                rows = [row for row in rows if any(
                    isinstance(v, int | float) and not isinstance(v, bool) and v
                    for v in row)]
            found[table] = sorted(rows, key=repr)
    return found


def replayed(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """The measures as one follower step over the whole log makes them: the projection
    emptied, its position back to 0, caught up in one step. No follower may be running."""
    with db.writing() as session:
        for table in MEASURES:
            session.execute(sa.text(f"DELETE FROM {table}"))
        session.execute(sa.update(FollowerPosition).where(
            FollowerPosition.name == followers.MEASURES).values(position=0))
    assert followers.step(db, followers.MEASURES, Settings.defaults(),
                          limit=1_000_000).applied
    return measures(db)
