"""The relay: it publishes pending outbox rows to the ledger, and reconciles.

The relay, a process of its own, publishes pending rows as one Celery task per batch
and then marks them published. Anything still pending (Redis was down, the relay
crashed between publishing and marking) is simply published again on the next pass:
the ledger ignores an event whose (source, id) it already holds.

Redis acknowledging a publish is not the end of the road: a broker can still lose a
message (a worker killed between taking it and recording it as unacknowledged, or a
Redis restarted without its data). So the relay also reconciles: it asks the ledger
which rows published long ago it has settled, confirms those, and publishes the
others again. A row is done only when the ledger is seen to hold it.

The relay never opens the ledger's database: both ways of reaching the ledger are
functions handed to it (shared/outbox/ledger.py makes them from Celery tasks).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from shared.db import Database
from shared.outbox.held import hold
from shared.outbox.staging import request_ids
from shared.outbox.tables import OutboxMixin
from shared.times import naive_utcnow

log = logging.getLogger(__name__)

# One question to the ledger asks about this many rows, whatever size the batches were
# published in: it is one round trip and one query on the ledger's side.
QUESTION_SIZE = 1000


class Unpublishable(Exception):
    """The transport cannot carry these events at all (it cannot serialise them):
    sending them again would fail again. Anything else a publish raises is taken
    as the broker being away, and retried."""


class Unanswered(Exception):
    """The ledger did not say in time which events it has settled: reconcile stops
    there and asks again on its next round."""


Publish = Callable[[list[dict[str, Any]]], None]
# Given (source, id) pairs, which of them has the ledger settled (appended, or kept
# in ``rejected`` with the reason)?
Settled = Callable[[list[tuple[str, str]]], set[tuple[str, str]]]


def _pending(model: type[OutboxMixin]) -> sa.Select[int, str]:
    """The next batch of pending rows: built once for each outbox, since an idle relay
    asks for it several times a second and mostly finds none."""
    found = _PENDING.get(model)
    if found is None:
        found = _PENDING[model] = (
            sa.select(model.id, model.payload)
            .where(model.published_at.is_(None), model.held_at.is_(None))
            .order_by(model.id)
            .limit(sa.bindparam("batch_size")))
    return found


_PENDING: dict[type[OutboxMixin], sa.Select[int, str]] = {}


def relay_once(db: Database, model: type[OutboxMixin], publish: Publish, batch_size: int) -> int:
    """Publish up to one batch of pending rows; return how many were published.

    A row that is not a CloudEvent with a source and an id, or that the transport
    cannot serialise, is held (``held_at``, with the reason in ``last_error``) so
    that it never blocks the rows behind it; the batch is split to find it.
    """
    with db.looking_up() as connection:
        rows = connection.execute(_pending(model), {"batch_size": batch_size}).all()
    if not rows:
        return 0
    batch: list[tuple[int, dict[str, Any]]] = []
    unreadable: dict[int, str] = {}
    for row in rows:
        try:
            event = json.loads(row.payload)
            _event_key(event)
        except (ValueError, TypeError, KeyError) as exc:
            unreadable[row.id] = f"not a CloudEvent with a source and an id: {exc!r}"
        else:
            batch.append((row.id, event))
    if unreadable:
        hold(db, model, unreadable)
    published = _publish(db, model, publish, batch)
    log.info("published %d events to the ledger queue", published,
             extra={"events": published, "request_ids": request_ids(e for _, e in batch)})
    return published


def _publish(db: Database, model: type[OutboxMixin], publish: Publish,
             batch: list[tuple[int, dict[str, Any]]]) -> int:
    """Publish ``batch`` and mark it published; split it to hold what cannot go."""
    if not batch:
        return 0
    ids = [row_id for row_id, _ in batch]
    try:
        publish([event for _, event in batch])
    except Unpublishable as exc:
        if len(batch) == 1:
            hold(db, model, {ids[0]: f"the transport cannot carry it: {exc}"})
            return 0
        middle = len(batch) // 2
        return (_publish(db, model, publish, batch[:middle])
                + _publish(db, model, publish, batch[middle:]))
    except Exception as exc:
        log.warning("outbox publish failed for %d events, will retry: %s", len(ids), exc)
        with db.writing() as session:
            session.execute(
                sa.update(model)
                .where(model.id.in_(ids))
                .values(attempts=model.attempts + 1, last_error=repr(exc)[:1000])
            )
        raise
    with db.writing() as session:
        session.execute(
            sa.update(model).where(model.id.in_(ids))
            .values(published_at=naive_utcnow(), last_error=None)
        )
    return len(ids)


def reconcile_once(db: Database, model: Any, settled: Settled, older_than: datetime,
                   batch_size: int) -> tuple[int, int]:
    """Confirm rows the ledger has settled; put back to pending those it still lacks.

    Returns (confirmed, republished).
    """
    with db.reading() as session:
        rows = session.execute(
            sa.select(model.id, model.payload)
            .where(model.confirmed_at.is_(None), model.published_at < older_than,
                   model.held_at.is_(None))
            .order_by(model.published_at)
            .limit(batch_size)
        ).all()
    if not rows:
        return 0, 0
    keys = {row.id: _key(row.payload) for row in rows}
    found = settled(list(keys.values()))
    confirmed = [i for i, key in keys.items() if key in found]
    missing = [i for i, key in keys.items() if key not in found]
    with db.writing() as session:
        if confirmed:
            session.execute(sa.update(model).where(model.id.in_(confirmed))
                            .values(confirmed_at=naive_utcnow()))
        if missing:
            log.warning("%d published events are not in the ledger; publishing again",
                        len(missing))
            session.execute(sa.update(model).where(model.id.in_(missing))
                            .values(published_at=None))
    return len(confirmed), len(missing)


def _key(payload: str) -> tuple[str, str]:
    return _event_key(json.loads(payload))


def _event_key(event: Any) -> tuple[str, str]:
    """An event's (source, id); KeyError or TypeError if it has none."""
    source, event_id = event["source"], event["id"]
    if not isinstance(source, str) or not isinstance(event_id, str):
        raise TypeError("source and id must be strings")
    return source, event_id


class Relay:
    """Drains the outboxes of one or more services, forever or until told to stop."""

    def __init__(
        self,
        outboxes: Sequence[tuple[str, Database, type[OutboxMixin]]],
        publish: Publish,
        settled: Settled | None = None,
        batch_size: int = 500,
        interval: float = 0.2,
        max_backoff: float = 5.0,
        republish_after: float = 600.0,
        on_pass: Callable[[], None] = lambda: None,
    ) -> None:
        self.outboxes = outboxes
        self.publish = publish
        self.settled = settled
        self.republish_after = republish_after
        self._next_reconcile = 0.0
        self.batch_size = batch_size
        self.interval = interval
        self.max_backoff = max_backoff
        self.on_pass = on_pass
        self.running = True

    def run_once(self) -> tuple[int, bool]:
        """One pass over every outbox: (events published, whether any publish failed)."""
        published, failed = 0, False
        for name, db, model in self.outboxes:
            try:
                published += relay_once(db, model, self.publish, self.batch_size)
            except Exception:
                log.exception("relay pass failed for %s", name)
                failed = True
        if self.settled is not None and time.monotonic() >= self._next_reconcile:
            self._next_reconcile = time.monotonic() + min(self.republish_after / 4, 30.0)
            self.reconcile()
        return published, failed

    def reconcile(self) -> None:
        assert self.settled is not None
        cutoff = naive_utcnow() - timedelta(seconds=self.republish_after)
        for name, db, model in self.outboxes:
            try:
                while reconcile_once(db, model, self.settled, cutoff, QUESTION_SIZE) != (0, 0):
                    pass
            except Unanswered as exc:
                # The other outboxes would wait for the same silence: try again next round.
                log.warning("relay reconcile stopped at %s: %s", name, exc)
                return
            except Exception:
                log.exception("relay reconcile failed for %s", name)

    def run(self) -> None:
        backoff = self.interval
        while self.running:
            published, failed = self.run_once()
            self.on_pass()
            if failed:
                time.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            backoff = self.interval
            if published == 0:
                time.sleep(self.interval)
