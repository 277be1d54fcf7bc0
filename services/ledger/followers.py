"""The followers of the log: what follows from an entry, done after it is appended.

The append (services/ledger/service.py) only sequences: entries, tree nodes and the
signed head, under the head's lock. Each follower reads the entries after its own
stored position and writes its effect and its new position in one transaction, so an
effect happens exactly once, and a follower that is killed resumes where it stopped.

- ``measures``: the projection (services/ledger/projection.py), and the alerts, whose
  conditions read the figures exactly as the entries just applied left them.
- ``webhooks``: the webhook messages that tell subscribers of new entries.
- ``tiles``: each full tile of level 0 (c2sp.org/tlog-tiles) as one row, so that serving
  it reads one row rather than its 256 entries.

A follower's row in ``follower_positions`` is its lock: two copies of one follower
never apply the same entries, and a subscription's change waits for it.

An entry a follower cannot apply (one an earlier version of the append let in) would
hold it, and every entry after, for good. After a step fails, the follower applies its
entries one at a time; one that fails alone ``LADDER_FOLLOW_SKIP_AFTER`` times in a row
while the database answers is gone past without its effect, and ``follower_skips``
records which and why.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.ledger import tree
from services.ledger.domain import AcceptedEvent
from services.ledger.models import Entry, FollowerPosition, FollowerSkip, Head
from services.ledger.projection import Projector
from services.ledger.signing import TreeHead
from services.ledger.webhooks import fanout
from services.ledger.webhooks.settings import Settings
from shared.db import Database
from shared.times import naive_utcnow

log = logging.getLogger(__name__)

MEASURES, WEBHOOKS, TILES = "measures", "webhooks", "tiles"
# Seconds a follower waits after a failure before it tries again.
RETRY_AFTER = 1.0
ENTRIES = cast(sa.Table, Entry.__table__)
COLUMNS = (ENTRIES.c.seq, ENTRIES.c.source, ENTRIES.c.event_id, ENTRIES.c.type,
           ENTRIES.c.subject, ENTRIES.c.area, ENTRIES.c.org_unit, ENTRIES.c.pseudonym,
           ENTRIES.c.time, ENTRIES.c.event)

# (session, entries as rows, the newest signed head, now, settings) -> webhook message ids
Effect = Callable[[Session, list[Any], TreeHead, datetime, Settings], list[str]]


def _event(row: sa.Row[Any]) -> AcceptedEvent:
    """An entry as the projection reads it: the columns the append wrote from it, and
    its data from the canonical event the log holds."""
    return AcceptedEvent(source=row.source, id=row.event_id, type=row.type,
                         subject=row.subject, area=row.area, org_unit=row.org_unit,
                         pseudonym=row.pseudonym, time=row.time, canonical=row.event,
                         data=json.loads(row.event)["data"])


def _measures(session: Session, rows: list[Any], head: TreeHead, now: datetime,
              settings: Settings) -> list[str]:
    projector = Projector(session)
    # An entry erased before the measures reached it counts no more (docs/reliability.md).
    projector.apply([_event(row) for row in rows if row.event is not None])
    return fanout.alert_messages(session, projector.touched, head, now, settings)


def _webhooks(session: Session, rows: list[Any], head: TreeHead, now: datetime,
              settings: Settings) -> list[str]:
    entries = [{"seq": row.seq, "type": row.type, "area": row.area} for row in rows]
    return fanout.entry_messages(session, entries, head, now, settings)


def _tiles(session: Session, rows: list[Any], head: TreeHead, now: datetime,
           settings: Settings) -> list[str]:
    tree.write_leaf_tiles(session, rows[0].seq - 1, rows[-1].seq)
    return []


FOLLOWERS: dict[str, Effect] = {MEASURES: _measures, WEBHOOKS: _webhooks, TILES: _tiles}
# What each reads of an entry: the fan-out needs no event text, the tiles only the seqs.
READS = {MEASURES: COLUMNS, WEBHOOKS: (ENTRIES.c.seq, ENTRIES.c.type, ENTRIES.c.area),
         TILES: (ENTRIES.c.seq,)}


@dataclass(frozen=True)
class Step:
    """What one follower did in one transaction."""

    follower: str
    applied: int
    position: int
    # Webhook messages written with the effect, for the broker once it has committed.
    messages: tuple[str, ...] = ()


def step(db: Database, follower: str, settings: Settings,
         limit: int = 2000) -> Step:
    """Apply up to ``limit`` entries after ``follower``'s position, and move it past them,
    in one transaction."""
    effect = FOLLOWERS[follower]
    # Only the follower's own tables and its position: not the writers' lock on
    # PostgreSQL, so that it runs beside the append. Its position row serialises it.
    with db.writing(exclusive=False) as session:
        mark = session.execute(sa.select(FollowerPosition).where(
            FollowerPosition.name == follower).with_for_update()).scalar_one_or_none()
        if mark is None:
            raise LookupError(f"no position for the follower {follower!r}: run `ladder "
                              "migrate`")
        # Seqs are gapless, so the next entries are a range of the primary key: bounded
        # on both sides, PostgreSQL reads it through the index even while its statistics
        # of a fast-growing table are stale (with only a lower bound it chose a parallel
        # scan of the whole table).
        rows = list(session.execute(sa.select(*READS[follower]).where(
            ENTRIES.c.seq > mark.position, ENTRIES.c.seq <= mark.position + limit)
            .order_by(ENTRIES.c.seq)))
        if not rows:
            return Step(follower, 0, mark.position)
        # Entries commit with the signed head that covers them, so this one covers rows.
        head = cast(TreeHead, tree.latest_head(session.connection()))
        now = naive_utcnow()
        messages = effect(session, rows, head, now, settings)
        mark.position, mark.updated_at = rows[-1].seq, now
        return Step(follower, len(rows), mark.position, tuple(messages))


def skip(db: Database, follower: str, seq: int, reason: str) -> bool:
    """Move ``follower`` past the entry ``seq`` without its effect, and record why, in one
    transaction; False if ``seq`` is not the next entry it would apply."""
    with db.writing(exclusive=False) as session:
        mark = session.execute(sa.select(FollowerPosition).where(
            FollowerPosition.name == follower).with_for_update()).scalar_one()
        if mark.position != seq - 1:
            return False
        now = naive_utcnow()
        session.add(FollowerSkip(follower=follower, seq=seq, reason=reason[:2000],
                                 skipped_at=now))
        mark.position, mark.updated_at = seq, now
    log.error("the %s follower of the log went past entry %d without its effect: %s",
              follower, seq, reason)
    return True


def skipped(db: Database) -> list[FollowerSkip]:
    """Every entry a follower went past without its effect, oldest first."""
    with db.reading() as session:
        found = list(session.scalars(sa.select(FollowerSkip).order_by(
            FollowerSkip.skipped_at, FollowerSkip.follower, FollowerSkip.seq)))
        session.expunge_all()
        return found


def catch_up(db: Database, settings: Settings, limit: int = 2000,
             followers: tuple[str, ...] = tuple(FOLLOWERS)) -> Iterator[Step]:
    """Every follower's steps until none has anything left to apply."""
    busy = True
    while busy:
        busy = False
        for follower in followers:
            done = step(db, follower, settings, limit)
            if done.applied:
                busy = True
                yield done


@dataclass(frozen=True)
class Position:
    follower: str
    position: int
    # The log's size when the position was read.
    size: int
    # When the oldest entry the follower has not applied was appended; None if none.
    waiting_since: datetime | None

    @property
    def lag(self) -> int:
        return max(self.size - self.position, 0)

    def lag_seconds(self, now: datetime) -> float:
        """How long the oldest entry it has not applied has waited for it."""
        if self.waiting_since is None:
            return 0.0
        return max((now - self.waiting_since).total_seconds(), 0.0)

    def stuck(self, now: datetime, after: float) -> bool:
        """An entry has waited more than ``after`` seconds for it. (Not "its position
        has not moved for that long": one idle for an hour is not stuck the moment an
        entry arrives.)"""
        return self.lag_seconds(now) > after


def positions(db: Database) -> list[Position]:
    with db.reading() as session:
        size = int(session.scalar(sa.select(Head.size).where(Head.id == 1)) or 0)
        marks = dict(session.execute(sa.select(FollowerPosition.name,
                                               FollowerPosition.position)).all())
        waiting = dict(session.execute(
            sa.select(Entry.seq, Entry.received_at)
            .where(Entry.seq.in_(sorted({p + 1 for p in marks.values() if p < size}))))
            .all())
    return [Position(name, position, size, waiting.get(position + 1))
            for name, position in sorted(marks.items())]


def gauges(db: Database) -> list[tuple[str, str, float, dict[str, str]]]:
    """Each follower's lag behind the log, in entries and in seconds, as metrics read at
    each scrape."""
    now = naive_utcnow()
    found = positions(db)
    with db.reading() as session:
        skips = dict(session.execute(sa.select(FollowerSkip.follower, sa.func.count())
                                     .group_by(FollowerSkip.follower)).all())
    return [*(("ladder_ledger_follower_skipped_entries", "Entries a follower went past "
               "without their effect, because applying each failed again and again "
               "(follower_skips says why)", skips.get(p.follower, 0),
               {"follower": p.follower}) for p in found),
            *(("ladder_ledger_follower_lag_entries", "Entries the log holds that a follower "
               "(the measures, the webhook fan-out) has not applied yet", p.lag,
               {"follower": p.follower}) for p in found),
            *(("ladder_ledger_follower_lag_seconds", "How long the oldest entry a follower "
               "has not applied yet has waited for it", p.lag_seconds(now),
               {"follower": p.follower}) for p in found)]


def readiness(db: Database, after: float) -> str:
    """"ok", or which followers have left an entry waiting more than ``after`` seconds:
    the ledger's /readyz check."""
    now = naive_utcnow()
    stuck = [f"{p.follower} ({p.lag} behind)" for p in positions(db) if p.stuck(now, after)]
    return f"stuck: {', '.join(stuck)}" if stuck else "ok"


def run(db: Database, settings: Settings, handed: Callable[[list[str]], Any],
        limit: int, interval: float, running: Callable[[], bool],
        on_pass: Callable[[], Any] = lambda: None, skip_after: int = 3) -> None:
    """The follower process: each follower in a thread of its own, so that neither waits
    for the other's steps, and a watcher of the log that wakes them (``_watch``), until
    ``running()`` turns false; ``on_pass`` beats while every thread lives."""
    woken = {follower: threading.Event() for follower in FOLLOWERS}
    threads = [threading.Thread(target=_follow, name=f"follow-{follower}", daemon=True,
                                args=(db, follower, settings, handed, limit, interval, running,
                                      skip_after, woken[follower]))
               for follower in FOLLOWERS]
    threads.append(threading.Thread(target=_watch, name="follow-watch", daemon=True,
                                    args=(db, list(woken.values()), interval, running)))
    for thread in threads:
        thread.start()
    while running() and all(thread.is_alive() for thread in threads):
        on_pass()
        time.sleep(min(interval * IDLE_INTERVALS, 1.0))
    # Each follower looks at running() after it clears its event: none sleeps through this.
    for event in woken.values():
        event.set()
    for thread in threads:
        thread.join()


# How many intervals apart an idle follower looks for itself, and the heartbeat beats
# (at most and at least once a second).
IDLE_INTERVALS = 20
SIZE = sa.text("SELECT size FROM ledger_head WHERE id = 1")
WHERE = sa.text("SELECT h.size, p.position FROM ledger_head AS h, follower_positions AS p "
                "WHERE h.id = 1 AND p.name = :name")


def _watch(db: Database, woken: list[threading.Event], interval: float,
           running: Callable[[], bool]) -> None:
    """The followers' watcher: it reads the log's size every ``interval`` seconds and wakes
    each follower when the size has changed. An idle follower looks for itself only every
    ``_idle_look(interval)`` seconds, so an idle process makes one small read
    ``1/interval`` times a second, not one for each follower."""
    seen: int | None = None
    while running():
        try:
            size = _size(db)
        except Exception:
            # Each follower finds the database away for itself, and logs it.
            size = None
        if size != seen:
            seen = size
            for event in woken:
                event.set()
        time.sleep(interval)


def _idle_look(interval: float) -> float:
    """How long an idle follower waits to be woken before it looks at the log itself:
    every 20 intervals, and no more often than once a second."""
    return max(interval * IDLE_INTERVALS, 1.0)


def _size(db: Database) -> int | None:
    """The log's size: the watcher's one read (in autocommit on PostgreSQL)."""
    with db.looking_up() as connection:
        size = connection.execute(SIZE).scalar()
    return None if size is None else int(size)


def _behind(db: Database, follower: str) -> int | None:
    """The follower's position if the log holds entries it has not applied, else None:
    one read, no write lock."""
    with db.looking_up() as connection:
        size, position = connection.execute(WHERE, {"name": follower}).one()
    return int(position) if size > position else None


def _follow(db: Database, follower: str, settings: Settings,
            handed: Callable[[list[str]], Any], limit: int, interval: float,
            running: Callable[[], bool], skip_after: int, woken: threading.Event) -> None:
    """One follower's loop: a step, its messages handed to the broker, and again at once
    while there were entries to apply; else it waits to be ``woken`` (``_watch``), or
    ``_idle_look(interval)`` seconds at most.

    A step that fails is logged and tried again: its effect did not commit, so nothing
    is lost or doubled. Until the follower is past the entries of the step that failed,
    it steps one entry at a time; an entry that fails alone ``skip_after`` times in a
    row, the same way each time, while the database answers, is gone past (``skip``).
    A follower whose database does not answer waits, and its lag and the ledger's
    /readyz show it.
    """
    careful_until = 0
    # The same failure of the same entry, applied alone, in a row.
    failed: tuple[int, str] | None = None
    failures = 0
    while True:
        # Cleared before the look, and before running() is asked: a wake-up for an entry
        # appended after the look, or for the stop, is kept.
        woken.clear()
        if not running():
            return
        try:
            position = _behind(db, follower)
            if position is None:
                woken.wait(_idle_look(interval))
                continue
        except Exception:
            log.exception("the %s follower of the log cannot read its position; it tries "
                          "again", follower)
            time.sleep(max(interval, RETRY_AFTER))
            continue
        alone = position < careful_until
        try:
            done = step(db, follower, settings, 1 if alone else limit)
        except Exception as error:
            log.exception("the %s follower of the log failed after entry %d; it tries "
                          "again", follower, position)
            careful_until = max(careful_until, position + limit)
            reason = f"{type(error).__name__}: {error}"
            # A lock that timed out or a connection that dropped says nothing of the entry.
            counted = alone and not _transient(error)
            failures = failures + 1 if counted and failed == (position, reason) else int(counted)
            failed = (position, reason)
            if skip_after and failures >= skip_after:
                try:
                    skip(db, follower, position + 1, reason)
                except Exception:
                    log.exception("the %s follower of the log could not go past entry %d",
                                  follower, position + 1)
                failures, failed = 0, None
            time.sleep(max(interval, RETRY_AFTER))
            continue
        failures, failed = 0, None
        if done.messages:
            handed(list(done.messages))
        if not done.applied:
            time.sleep(interval)


def _transient(error: Exception) -> bool:
    """An error of the database's state, not of what was asked of it: a lock or a statement
    that timed out, a connection lost, a serialisation failure."""
    return isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError
                      | sa.exc.TimeoutError) or (isinstance(error, sa.exc.DBAPIError)
                                                  and error.connection_invalidated)

