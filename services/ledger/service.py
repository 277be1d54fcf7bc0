"""The ledger's use cases: append a batch, read entries."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from services.ledger import leaves, tree
from services.ledger.domain import (
    AcceptedEvent,
    EventRejected,
    accept,
    claimed_key,
    escaped_json,
    key_digest,
)
from services.ledger.models import Entry, Erasure, Head, Rejected
from services.ledger.signing import Signer
from services.ledger.upserts import rows_with_keys
from shared import text
from shared.db import Database, executemany, table_insert
from shared.times import naive_utcnow

log = logging.getLogger(__name__)
# Core, not the ORM's bulk insert: the rows are plain data already.
ENTRIES = cast(sa.Table, Entry.__table__)
REJECTED = cast(sa.Table, Rejected.__table__)


@dataclass(frozen=True)
class BatchResult:
    appended: int
    # Events the log already holds, or that `rejected` already keeps: sent again.
    duplicates: int
    # Events newly kept in `rejected`.
    rejected: int
    size: int

    def as_dict(self) -> dict[str, int]:
        return {"appended": self.appended, "duplicates": self.duplicates,
                "rejected": self.rejected, "size": self.size}

    def __add__(self, later: BatchResult) -> BatchResult:
        return BatchResult(self.appended + later.appended, self.duplicates + later.duplicates,
                           self.rejected + later.rejected, max(self.size, later.size))


def append_batch(db: Database, raw_events: Any, signer: Signer) -> BatchResult:
    """Validate, dedupe on (source, id), sequence, append and sign, in one transaction.

    The locked head row makes this the single writer: batches integrate one after
    another, whatever number of workers run, into one tree with no gaps. Nothing else
    runs here: the measures and the webhooks follow the log (services/ledger/followers.py).
    """
    now = naive_utcnow()
    if not isinstance(raw_events, list):
        raw_events = [raw_events]
    accepted: list[AcceptedEvent] = []
    rejected: list[Rejected] = []
    for raw in raw_events:
        try:
            accepted.append(accept(raw, now))
        except EventRejected as exc:
            log.warning("ledger rejected an event: %s", exc)
            rejected.append(rejection(raw, str(exc), now))
    with db.writing() as session:
        # The head row is the single writer's lock: sequence numbers come from it.
        head = session.execute(sa.select(Head).where(Head.id == 1).with_for_update()).scalar_one()
        fresh = _unseen(session, accepted)
        seq = head.size
        entries: list[dict[str, Any]] = []
        for event in fresh:
            seq += 1
            entries.append(
                {"seq": seq, "source": event.source, "event_id": event.id, "type": event.type,
                 "subject": event.subject, "area": event.area, "org_unit": event.org_unit,
                 "pseudonym": event.pseudonym, "time": event.time, "received_at": now,
                 "event": event.canonical, "salt": leaves.new_salt()}
            )
        if entries:
            inputs = [leaves.leaf_input(leaves.line(e["seq"], now, e["event"], e["salt"]))
                      for e in entries]
            for entry, leaf in zip(entries, tree.append_leaves(session, head, inputs),
                                   strict=True):
                entry["leaf_hash"] = leaf
            executemany(session.connection(), table_insert(ENTRIES), entries)
            head.size = seq
            head.updated_at = now
            tree.sign_head(session, head, signer, int(time.time() * 1000))
        kept = _unrecorded(session, rejected)
        session.add_all(kept)
    # A refusal `rejected` already held is an event sent again, as a duplicate is.
    return BatchResult(len(entries), len(accepted) - len(fresh) + len(rejected) - len(kept),
                       len(kept), seq)


def append_in_parts(db: Database, raw_events: Any, signer: Signer,
                    transient: tuple[type[BaseException], ...]
                    ) -> BatchResult:
    """:func:`append_batch`; a batch that fails for a reason not ``transient`` is split.

    One event no check foresaw (a value the database itself refuses) must not take
    the rest of its batch with it: the halves are appended on their own, and so on
    down to the event that fails alone, which is kept in ``rejected`` with the error.
    Halves append in order, so the log keeps the batch's order. A transient error
    propagates at any depth; the retried batch finds what was appended already.
    """
    events = raw_events if isinstance(raw_events, list) else [raw_events]
    try:
        return append_batch(db, events, signer)
    except transient:
        raise
    except Exception as exc:
        if len(events) > 1:
            log.warning("a batch of %d events failed to append (%r); appending it in halves",
                        len(events), exc)
            middle = len(events) // 2
            return (append_in_parts(db, events[:middle], signer, transient)
                    + append_in_parts(db, events[middle:], signer, transient))
        log.exception("an event failed to append; it is kept as rejected")
        kept = reject_batch(db, events, f"append failed: {exc!r}")
        return BatchResult(0, 1 - kept, kept, -1)


def _held_keys(session: sa.orm.Session, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (source, id) pairs the ledger holds: each looked up through the unique index
    on (source, event_id), whatever the planner knows of the table (rows_with_keys)."""
    storable = [key for key in keys if not (text.problem(key[0]) or text.problem(key[1]))]
    # Text no column can hold is not in the log (see rejected_keys).
    return {(source, event_id) for source, event_id in
            rows_with_keys(session, ENTRIES, ("source", "event_id"), storable, ())}


def _unseen(session: sa.orm.Session, events: list[AcceptedEvent]) -> list[AcceptedEvent]:
    """Drop events the ledger already holds, and repeats within the batch."""
    if not events:
        return []
    held = _held_keys(session, sorted({e.key for e in events}))
    fresh = []
    for event in events:
        if event.key not in held:
            held.add(event.key)
            fresh.append(event)
    return fresh


def _rejected_keys(session: sa.orm.Session,
                   keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (source, id) pairs the ledger has refused, and keeps in ``rejected``."""
    digests = {key_digest(*key): key for key in keys}
    return {digests[d] for d in _kept_digests(session, digests)}


def _kept_digests(session: sa.orm.Session, digests: Iterable[str]) -> set[str]:
    """Which of these (source, id) digests ``rejected`` holds."""
    return {digest for digest, in rows_with_keys(session, REJECTED, ("key_digest",),
                                                 [(d,) for d in sorted(digests)], ())}


def held(db: Database, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (source, id) pairs the ledger has settled: appended to the log,
    or refused and kept in ``rejected`` with the reason. Sending either again changes
    nothing, so the relay stops there."""
    unique = sorted(set(keys))
    with db.reading() as session:
        found = _held_keys(session, unique)
        return found | _rejected_keys(session, [k for k in unique if k not in found])


REASON_LIMIT = 2000


def _unrecorded(session: sa.orm.Session, rows: list[Rejected]) -> list[Rejected]:
    """The refusals ``rejected`` does not hold yet: an event sent again (the relay
    publishes again what it has not seen settled) is refused again, and kept once. One
    with no (source, id) to know it by is kept each time."""
    kept = _kept_digests(session, {row.key_digest for row in rows if row.key_digest})
    new = []
    for row in rows:
        if row.key_digest is None or row.key_digest not in kept:
            new.append(row)
            if row.key_digest is not None:
                kept.add(row.key_digest)
    return new


def rejection(raw: Any, reason: str, now: datetime) -> Rejected:
    """The row that keeps an event the ledger refused: whole, storable, with the reason."""
    key = claimed_key(raw)
    return Rejected(received_at=now, reason=text.shown(reason)[:REASON_LIMIT],
                    payload=escaped_json(raw),
                    source=text.shown(key[0])[:512] if key else None,
                    event_id=text.shown(key[1])[:512] if key else None,
                    key_digest=key_digest(*key) if key else None)


@dataclass(frozen=True)
class EntryQuery:
    after: int = 0
    limit: int | None = 100
    area: str | None = None
    type: str | None = None
    org_unit: str | None = None
    pseudonym: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None


def entries_statement(query: EntryQuery, columns: tuple[Any, ...] = (Entry,)) -> sa.Select[Any]:
    stmt = sa.select(*columns).where(Entry.seq > query.after)
    for column, value in ((Entry.area, query.area), (Entry.type, query.type),
                          (Entry.org_unit, query.org_unit), (Entry.pseudonym, query.pseudonym)):
        if value:
            stmt = stmt.where(column == value)
    if query.time_from:
        stmt = stmt.where(Entry.time >= query.time_from)
    if query.time_to:
        stmt = stmt.where(Entry.time < query.time_to)
    stmt = stmt.order_by(Entry.seq)
    return stmt.limit(query.limit) if query.limit else stmt


def list_entries(db: Database, query: EntryQuery) -> list[dict[str, Any]]:
    with db.reading() as session:
        rows = list(session.scalars(entries_statement(query)))
        gone = [row.seq for row in rows if row.event is None]
        erasures = {e.seq: e for e in session.scalars(
            sa.select(Erasure).where(Erasure.seq.in_(gone)))} if gone else {}
        return [_entry(row, erasures.get(row.seq)) for row in rows]


def count_entries(db: Database, query: EntryQuery) -> int:
    stmt = entries_statement(EntryQuery(**{**query.__dict__, "limit": None}),
                             columns=(Entry.seq,)).order_by(None)
    with db.reading() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0)


def _entry(row: Entry, erasure: Erasure | None) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "area": row.area,
        "org_unit": row.org_unit,
        "pseudonym": row.pseudonym,
        "received_at": row.received_at,
        "event": None if row.event is None else json.loads(row.event),
        "salt": None if row.salt is None else row.salt.hex(),
        "leaf_hash": base64.b64encode(row.leaf_hash or b"").decode(),
        "erased": None if erasure is None else {"ground": erasure.ground,
                                                "erased_at": erasure.erased_at},
    }


def list_rejected(db: Database, after: int, limit: int) -> list[dict[str, Any]]:
    with db.reading() as session:
        rows = session.scalars(sa.select(Rejected).where(Rejected.id > after)
                               .order_by(Rejected.id).limit(limit))
        return [{"id": r.id, "received_at": r.received_at, "reason": r.reason,
                 "source": r.source, "event_id": r.event_id, "payload": r.payload}
                for r in rows]


def counts(db: Database) -> dict[str, int]:
    with db.reading() as session:
        size = session.scalar(sa.select(Head.size).where(Head.id == 1)) or 0
        rejected = session.scalar(sa.select(sa.func.count()).select_from(Rejected)) or 0
    return {"size": int(size), "rejected": int(rejected)}


def gauges(db: Database) -> list[tuple[str, str, float]]:
    """The ledger's size and its rejected events, as metrics read at each scrape."""
    now = counts(db)
    return [("ladder_ledger_entries", "Entries in the ledger (the tree size)", now["size"]),
            ("ladder_ledger_rejected_events", "Events the ledger could not accept, kept in "
             "the rejected table with the reason", now["rejected"])]


def reject_batch(db: Database, raw_events: Any, reason: str) -> int:
    """Keep a batch that could not be appended, whole, with the reason; return how many
    of its events were not kept already."""
    now = naive_utcnow()
    events = raw_events if isinstance(raw_events, list) else [raw_events]
    with db.writing() as session:
        # Under the head row's lock, as every append: two workers never keep one twice.
        session.execute(sa.select(Head).where(Head.id == 1).with_for_update()).scalar_one()
        kept = _unrecorded(session, [rejection(e, reason, now) for e in events])
        session.add_all(kept)
    return len(kept)
