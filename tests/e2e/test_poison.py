"""Poison that gets past the door costs only itself: the rest of its batch is appended, it is
kept in ``rejected`` with the reason, and the relay stops sending it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests
import sqlalchemy as sa
from celery import Celery

from services.ledger.models import Entry, Rejected
from services.recruitment.models import Outbox
from shared.db import Database
from shared.outbox import APPEND_BATCH_TASK, LEDGER_QUEUE
from tests.e2e.conftest import WRITE_PATH, Stack, module_stack
from tests.support.events import activity

# One stack for the module: the two batches of a thousand sent straight to the ledger's
# queue (not through the relay), then the relay's poison. The relay sends again what the
# ledger has not confirmed after 1 s, so that the relay's test sees it do so.
poisoned = module_stack("poisoned", "recruitment", *WRITE_PATH, LADDER_REPUBLISH_AFTER="1")


def _publish(stack: Stack, events: list[dict[str, Any]]) -> None:
    """Send one batch straight to the ledger's queue, as the relay would."""
    app = Celery("poison-test", broker=stack.redis.url)
    app.conf.update(task_serializer="json", broker_connection_retry_on_startup=True)
    app.send_task(APPEND_BATCH_TASK, args=[events], queue=LEDGER_QUEUE)
    app.close()


def _wait(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _count(db: Database, model: Any) -> int:
    with db.reading() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(model)) or 0)


def _rejected(db: Database) -> list[Rejected]:
    with db.reading() as session:
        return list(session.scalars(sa.select(Rejected).order_by(Rejected.id)))


def _good_batch(size: int) -> list[dict[str, Any]]:
    return [activity("inspection", f"unit-{n % 7}", location=f"L{n}") for n in range(size)]


def test_one_poison_event_among_999_good_ones_costs_only_itself(poisoned: Stack) -> None:
    stack, ledger = poisoned, Database(poisoned.env["LEDGER_DATABASE_URL"])
    entries_before, rejected_before = _count(ledger, Entry), _count(ledger, Rejected)
    events = _good_batch(999)
    poison = activity("inspection", "north-region", location="R\ud800")
    events.insert(500, poison)
    _publish(stack, events)
    _wait(lambda: _count(ledger, Entry) >= entries_before + 999
          and _count(ledger, Rejected) >= rejected_before + 1)
    time.sleep(1)  # a second append of anything would show now
    rejected = _rejected(ledger)[rejected_before:]
    assert len(rejected) == 1
    assert "data.location" in rejected[0].reason and "surrogate" in rejected[0].reason
    # Kept whole: the stored payload loads back to exactly the event that came.
    assert json.loads(rejected[0].payload) == poison
    assert (rejected[0].source, rejected[0].event_id) == (poison["source"], poison["id"])
    assert _entry_ids(ledger)[entries_before:] == [e["id"] for e in events if e is not poison]
    metrics = requests.get(stack.url("ledger") + "/metrics", timeout=10).text
    assert (f'ladder_ledger_rejected_events{{service="ledger"}} {rejected_before + 1}.0'
            in metrics)
    ledger.dispose()


def _entry_ids(db: Database) -> list[str]:
    with db.reading() as session:
        return list(session.scalars(sa.select(Entry.event_id).order_by(Entry.seq)))


def _refuse_one_event_id(db: Database, event_id: str) -> None:
    """Make the database itself refuse one row, as no check of Ladder's foresees."""
    with db.writing() as session:
        if session.bind.dialect.name == "sqlite":  # type: ignore[union-attr]
            session.execute(sa.text(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON entries "
                f"WHEN NEW.event_id = '{event_id}' "
                "BEGIN SELECT RAISE(ABORT, 'this row is refused'); END"))
        else:
            session.execute(sa.text(
                "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.event_id = '{event_id}' THEN "
                "RAISE EXCEPTION 'this row is refused' USING ERRCODE = 'check_violation'; "
                "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"))
            session.execute(sa.text("CREATE TRIGGER refuse_one BEFORE INSERT ON entries "
                                    "FOR EACH ROW EXECUTE FUNCTION refuse_one()"))


def test_an_event_the_database_refuses_is_found_by_splitting_its_batch(
        poisoned: Stack) -> None:
    stack, ledger = poisoned, Database(poisoned.env["LEDGER_DATABASE_URL"])
    entries_before, rejected_before = _count(ledger, Entry), _count(ledger, Rejected)
    events = _good_batch(1000)
    poison = events[737]
    # It refuses this event alone: the other test's batch, before or after, goes in.
    _refuse_one_event_id(ledger, poison["id"])
    _publish(stack, events)
    _wait(lambda: _count(ledger, Entry) >= entries_before + 999
          and _count(ledger, Rejected) >= rejected_before + 1)
    time.sleep(1)
    rejected = _rejected(ledger)[rejected_before:]
    assert len(rejected) == 1
    assert rejected[0].reason.startswith("append failed:")
    assert "this row is refused" in rejected[0].reason
    assert json.loads(rejected[0].payload) == poison
    assert _entry_ids(ledger)[entries_before:] == [e["id"] for e in events if e is not poison]
    # The tree over them all still verifies: the halves were sequenced one after another.
    sth = requests.get(stack.url("ledger") + "/ct/v1/get-sth", headers=stack.auth("ledger"),
                       timeout=10).json()
    assert sth["tree_size"] == entries_before + 999
    ledger.dispose()


def _outbox_row(db: Database, payload: str, event_id: str) -> int:
    with db.writing() as session:
        return int(session.execute(sa.insert(Outbox).values(
            event_id=event_id, payload=payload, created_at=sa.func.now(), attempts=0)
            .returning(Outbox.id)).scalar_one())


def _republished(stack: Stack) -> int:
    """How many events the relay has sent again, by its log."""
    return sum(int(line["message"].split()[0]) for line in stack.log_lines("relay")
               if "publishing again" in line.get("message", ""))


def _outbox(db: Database, row_id: int) -> Any:
    with db.reading() as session:
        return session.execute(sa.select(Outbox).where(Outbox.id == row_id)).scalar_one()


def test_the_relay_holds_what_it_cannot_read_and_settles_what_the_ledger_refused(
    poisoned: Stack,
) -> None:
    stack = poisoned
    area = Database(stack.env["RECRUITMENT_DATABASE_URL"])
    ledger = Database(stack.env["LEDGER_DATABASE_URL"])
    entries_before, rejected_before = _count(ledger, Entry), _count(ledger, Rejected)
    # A row no relay can read, one the ledger will refuse, and a good one after both.
    unreadable = _outbox_row(area, '{"id": "x", not json', "unreadable")
    refused_event = activity("recruitment", "ward-1", role="R", opened_on="2026-01-01")
    refused_event["data"]["area"] = "nowhere"
    refused = _outbox_row(area, json.dumps(refused_event), refused_event["id"])
    good_event = activity("recruitment", "ward-1", role="R", opened_on="2026-01-01")
    good = _outbox_row(area, json.dumps(good_event), good_event["id"])
    _wait(lambda: _outbox(area, good).confirmed_at is not None
          and _outbox(area, refused).confirmed_at is not None)
    # Only the relay's reconcile confirms, and it logs a send before it commits, so every
    # send there will ever be for these rows is already in the log.
    sends = _republished(stack)
    assert [e["event"]["id"] for e in stack.entries()[entries_before:]] == [good_event["id"]]
    assert [r.event_id for r in _rejected(ledger)[rejected_before:]] == [refused_event["id"]]
    held = _outbox(area, unreadable)
    assert held.held_at is not None and held.published_at is None
    assert "not a CloudEvent" in (held.last_error or "")
    # Reconcile found the refused event in `rejected` and stopped. Under load it may have
    # sent both again before the ledger answered (REPUBLISH_AFTER is 1 s here), and the
    # ledger kept each once; once settled, nothing is sent again.
    time.sleep(3)
    assert len(_rejected(ledger)) == rejected_before + 1
    assert [e["event"]["id"] for e in stack.entries()[entries_before:]] == [good_event["id"]]
    assert _republished(stack) == sends
    # An admin sees the held row, and the metric counts it.
    base = stack.url("recruitment")
    listed = requests.get(base + "/v1/outbox/held", headers=stack.auth("recruitment"),
                          timeout=10).json()
    assert [item["id"] for item in listed["items"]] == [unreadable]
    assert listed["items"][0]["reason"].startswith("not a CloudEvent")
    assert 'ladder_outbox_held_events{service="recruitment"} 1.0' in requests.get(
        base + "/metrics", timeout=10).text
    area.dispose()
    ledger.dispose()
