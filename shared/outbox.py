"""The transactional outbox and its relay.

A use case adds its events to the outbox in the same transaction as the domain
write. The relay, a separate process, publishes pending rows to the ``ledger``
queue as one Celery task per batch and then marks them published. Anything
still pending (Redis was down, the relay crashed between publishing and
marking) is simply published again on the next pass: the ledger ignores an
event whose (source, id) it already holds.

Redis acknowledging a publish is not the end of the road: a broker can still
lose a message (a worker killed between taking it and recording it as
unacknowledged, or a Redis restarted without its data). So the relay also
reconciles: a row published long ago and still not in the ledger is published
again. A row is done only when the ledger is seen to hold it.

An event caused by an HTTP request carries that request's id as the CloudEvent
extension attribute ``requestid``: it travels with the event through the relay
and the Celery task into the ledger worker's log lines, and stays in the ledger
entry, so an entry leads back to the request that made it (shared/logs.py).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

from shared import logs
from shared.db import Database, stage

log = logging.getLogger(__name__)

LEDGER_QUEUE = "ledger"
APPEND_BATCH_TASK = "ledger.append_batch"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class OutboxMixin:
    """Columns of a service's ``outbox`` table."""

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    payload: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    # Set when the relay cannot publish the row at all (see ``Unpublishable``): it is
    # left out of every pass until an admin deals with it, and counted meanwhile.
    held_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)

    @declared_attr.directive
    @classmethod
    def __table_args__(cls) -> tuple[sa.Index, ...]:
        # The relay's two scans: rows still to publish, and published rows the ledger is
        # not yet seen to hold.
        return (
            sa.Index("ix_outbox_pending", "id",
                     sqlite_where=sa.text("published_at IS NULL"),
                     postgresql_where=sa.text("published_at IS NULL")),
            sa.Index("ix_outbox_unconfirmed", "published_at",
                     sqlite_where=sa.text("confirmed_at IS NULL"),
                     postgresql_where=sa.text("confirmed_at IS NULL")),
        )


def create_outbox_table() -> None:
    """Alembic operations that create the outbox, for each service's first migration."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("published_at", sa.DateTime, nullable=True),
        sa.Column("confirmed_at", sa.DateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index(
        "ix_outbox_unconfirmed",
        "outbox",
        ["published_at"],
        sqlite_where=sa.text("confirmed_at IS NULL"),
        postgresql_where=sa.text("confirmed_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["id"],
        sqlite_where=sa.text("published_at IS NULL"),
        postgresql_where=sa.text("published_at IS NULL"),
    )


REQUEST_ID_ATTRIBUTE = "requestid"


def add(session: Session, model: Any, events: Iterable[dict[str, Any]]) -> None:
    """Stage events in the caller's transaction; they commit with the domain write."""
    now = utcnow()
    request_id = logs.current_request_id()
    stamp = {REQUEST_ID_ATTRIBUTE: request_id} if request_id else {}
    for e in events:
        stage(session, model.__table__, {
            "event_id": e["id"], "payload": json.dumps({**e, **stamp}, separators=(",", ":")),
            "created_at": now, "published_at": None, "confirmed_at": None, "attempts": 0,
            "last_error": None})


def request_ids(events: Iterable[Any]) -> list[str]:
    """The distinct request ids that caused these events, in order."""
    seen: dict[str, None] = {}
    for event in events:
        value = event.get(REQUEST_ID_ATTRIBUTE) if isinstance(event, dict) else None
        if isinstance(value, str):
            seen.setdefault(value)
    return list(seen)


class Unpublishable(Exception):
    """The transport cannot carry these events at all (it cannot serialise them):
    sending them again would fail again. Anything else a publish raises is taken
    as the broker being away, and retried."""


Publish = Callable[[list[dict[str, Any]]], None]
# Given (source, id) pairs, which of them does the ledger hold?
Held = Callable[[list[tuple[str, str]]], set[tuple[str, str]]]


def relay_once(db: Database, model: type[OutboxMixin], publish: Publish, batch_size: int) -> int:
    """Publish up to one batch of pending rows; return how many were published.

    A row that is not a CloudEvent with a source and an id, or that the transport
    cannot serialise, is held (``held_at``, with the reason in ``last_error``) so
    that it never blocks the rows behind it; the batch is split to find it.
    """
    with db.reading() as session:
        rows = session.execute(
            sa.select(model.id, model.payload)
            .where(model.published_at.is_(None), model.held_at.is_(None))
            .order_by(model.id)
            .limit(batch_size)
        ).all()
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
            sa.update(model).where(model.id.in_(ids)).values(published_at=utcnow(), last_error=None)
        )
    return len(ids)


def hold(db: Database, model: type[OutboxMixin], reasons: dict[int, str]) -> None:
    """Take rows out of the relay's passes, each with the reason, for an admin to see."""
    log.error("%d outbox rows cannot be published and are held: %s", len(reasons),
              "; ".join(f"{i}: {why}" for i, why in sorted(reasons.items())))
    now = utcnow()
    with db.writing() as session:
        for row_id, why in reasons.items():
            session.execute(sa.update(model).where(model.id == row_id)
                            .values(held_at=now, last_error=why[:1000]))


def list_held(db: Database, model: type[OutboxMixin], after: int,
              limit: int) -> list[dict[str, Any]]:
    """Held rows, oldest first: what an admin must look at."""
    with db.reading() as session:
        rows = session.scalars(sa.select(model).where(model.held_at.is_not(None),
                                                      model.id > after)
                               .order_by(model.id).limit(limit))
        return [{"id": r.id, "event_id": r.event_id, "created_at": r.created_at,
                 "held_at": r.held_at, "reason": r.last_error, "payload": r.payload}
                for r in rows]


def reconcile_once(db: Database, model: Any, held: Held, older_than: datetime,
                   batch_size: int) -> tuple[int, int]:
    """Confirm rows the ledger holds; put back to pending those it still lacks.

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
    found = held(list(keys.values()))
    confirmed = [i for i, key in keys.items() if key in found]
    missing = [i for i, key in keys.items() if key not in found]
    with db.writing() as session:
        if confirmed:
            session.execute(sa.update(model).where(model.id.in_(confirmed))
                            .values(confirmed_at=utcnow()))
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


def pending_count(db: Database, model: type[OutboxMixin]) -> int:
    with db.reading() as session:
        return int(
            session.scalar(
                sa.select(sa.func.count()).select_from(model)
            .where(model.published_at.is_(None), model.held_at.is_(None))
            )
            or 0
        )


def backlog(db: Database, model: type[OutboxMixin]) -> list[tuple[str, str, float]]:
    """The outbox's backlog, as metrics: what waits to be published, and to be confirmed."""
    with db.reading() as session:
        pending, oldest = session.execute(
            sa.select(sa.func.count(), sa.func.min(model.created_at))
            .where(model.published_at.is_(None), model.held_at.is_(None))).one()
        unconfirmed = session.scalar(
            sa.select(sa.func.count()).select_from(model)
            .where(model.confirmed_at.is_(None), model.published_at.is_not(None)))
        held = session.scalar(sa.select(sa.func.count()).select_from(model)
                              .where(model.held_at.is_not(None)))
    age = (utcnow() - oldest).total_seconds() if oldest is not None else 0.0
    return [
        ("ladder_outbox_pending_events", "Events waiting for the relay to publish them",
         float(pending or 0)),
        ("ladder_outbox_unconfirmed_events",
         "Events published but not yet seen in the ledger", float(unconfirmed or 0)),
        ("ladder_outbox_oldest_pending_seconds",
         "Age of the oldest event waiting to be published (0 when none waits)", max(0.0, age)),
        ("ladder_outbox_held_events",
         "Events the relay cannot publish at all, held for an admin (GET /v1/outbox/held)",
         float(held or 0)),
    ]


class Relay:
    """Drains the outboxes of one or more services, forever or until told to stop."""

    def __init__(
        self,
        outboxes: Sequence[tuple[str, Database, type[OutboxMixin]]],
        publish: Publish,
        held: Held | None = None,
        batch_size: int = 500,
        interval: float = 0.2,
        max_backoff: float = 5.0,
        republish_after: float = 600.0,
        on_pass: Callable[[], None] = lambda: None,
    ) -> None:
        self.outboxes = outboxes
        self.publish = publish
        self.held = held
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
        if self.held is not None and time.monotonic() >= self._next_reconcile:
            self._next_reconcile = time.monotonic() + min(self.republish_after / 4, 30.0)
            self.reconcile()
        return published, failed

    def reconcile(self) -> None:
        assert self.held is not None
        cutoff = utcnow() - timedelta(seconds=self.republish_after)
        for name, db, model in self.outboxes:
            try:
                while reconcile_once(db, model, self.held, cutoff, self.batch_size) != (0, 0):
                    pass
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
