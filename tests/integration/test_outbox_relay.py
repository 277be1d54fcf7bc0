"""The outbox relay: it publishes pending rows in batches, and keeps them when it cannot."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from services.recruitment.domain import AREA
from shared import outbox
from shared.area import service
from shared.area.models import Outbox
from shared.times import naive_utcnow
from tests.integration.conftest import MakeApp


@pytest.fixture
def app(make_app: MakeApp) -> Flask:
    """The recruitment service with five vacancies waiting in its outbox."""
    app = make_app("recruitment")
    for n in range(5):
        service.record_activity(app.extensions["db"], AREA, {
            "role": f"role {n}", "org_unit": "u", "opened_on": "2026-01-01"})
    return app


def test_pending_rows_go_out_as_one_task_per_batch(app: Flask) -> None:
    db = app.extensions["db"]
    batches: list[list[dict[str, Any]]] = []
    assert outbox.relay_once(db, Outbox, batches.append, batch_size=3) == 3
    assert outbox.relay_once(db, Outbox, batches.append, batch_size=3) == 2
    assert outbox.relay_once(db, Outbox, batches.append, batch_size=3) == 0
    assert [len(b) for b in batches] == [3, 2]
    assert outbox.pending_count(db, Outbox) == 0


def test_a_failed_publish_leaves_rows_pending_with_the_error(app: Flask) -> None:
    db = app.extensions["db"]

    def broker_down(_: list[dict[str, Any]]) -> None:
        raise ConnectionError("redis is down")

    with pytest.raises(ConnectionError):
        outbox.relay_once(db, Outbox, broker_down, batch_size=10)
    assert outbox.pending_count(db, Outbox) == 5
    relay = outbox.Relay([("recruitment", db, Outbox)], broker_down, batch_size=10)
    assert relay.run_once() == (0, True)
    with db.reading() as session:
        rows = session.query(Outbox).all()
    assert {r.attempts for r in rows} == {2} and "redis is down" in (rows[0].last_error or "")
    published: list[list[dict[str, Any]]] = []
    relay.publish = published.append
    assert relay.run_once() == (5, False)
    assert outbox.pending_count(db, Outbox) == 0


def test_published_rows_the_ledger_lacks_go_back_to_pending(app: Flask) -> None:
    from datetime import timedelta

    db = app.extensions["db"]
    sent: list[list[dict[str, Any]]] = []
    outbox.relay_once(db, Outbox, sent.append, batch_size=10)
    keys = [(e["source"], e["id"]) for e in sent[0]]
    in_ledger = set(keys[:3])
    later = naive_utcnow() + timedelta(seconds=1)
    confirmed, republished = outbox.reconcile_once(
        db, Outbox, lambda ks: in_ledger & set(ks), older_than=later, batch_size=10)
    assert (confirmed, republished) == (3, 2)
    assert outbox.pending_count(db, Outbox) == 2
    # Rows published recently are left alone: the ledger may simply not have got there yet.
    outbox.relay_once(db, Outbox, sent.append, batch_size=10)
    assert outbox.reconcile_once(db, Outbox, lambda ks: set(), older_than=naive_utcnow()
                                 - timedelta(seconds=60), batch_size=10) == (0, 0)


def _held(db: Any) -> list[Outbox]:
    with db.reading() as session:
        return list(session.query(Outbox).filter(Outbox.held_at.is_not(None))
                    .order_by(Outbox.id))


def test_a_row_the_transport_cannot_carry_is_held_and_the_rest_go(app: Flask) -> None:
    db = app.extensions["db"]
    with db.reading() as session:
        poison_id = session.query(Outbox).order_by(Outbox.id).all()[3].event_id
    sent: list[list[dict[str, Any]]] = []

    def publish(events: list[dict[str, Any]]) -> None:
        if any(e["id"] == poison_id for e in events):
            raise outbox.Unpublishable("cannot serialise")
        sent.append(events)

    assert outbox.relay_once(db, Outbox, publish, batch_size=10) == 4
    assert sorted(e["id"] for b in sent for e in b) == sorted(
        r.event_id for r in _all(db) if r.event_id != poison_id)
    [held] = _held(db)
    assert held.event_id == poison_id and "cannot serialise" in (held.last_error or "")
    # Held rows are out of every pass: nothing pending, nothing to publish again.
    assert outbox.pending_count(db, Outbox) == 0
    assert outbox.relay_once(db, Outbox, publish, batch_size=10) == 0
    gauges = {name: value for name, _, value in outbox.backlog(db, Outbox)}
    assert gauges["ladder_outbox_held_events"] == 1
    assert gauges["ladder_outbox_pending_events"] == 0
    [listed] = outbox.list_held(db, Outbox, 0, 10)
    assert listed["event_id"] == poison_id


def _all(db: Any) -> list[Outbox]:
    with db.reading() as session:
        return list(session.query(Outbox).order_by(Outbox.id))


@pytest.mark.parametrize("payload", ['{"id": "x", not json', "[]", '{"id": "x"}',
                                     '{"id": 1, "source": "/s"}'])
def test_a_row_that_is_not_a_cloudevent_is_held_and_never_retried(app: Flask,
                                                                  payload: str) -> None:
    db = app.extensions["db"]
    with db.writing() as session:
        first = session.query(Outbox).order_by(Outbox.id).first()
        assert first is not None
        first.payload = payload
    sent: list[list[dict[str, Any]]] = []
    assert outbox.relay_once(db, Outbox, sent.append, batch_size=10) == 4
    [held] = _held(db)
    assert held.payload == payload and "not a CloudEvent" in (held.last_error or "")
    from datetime import timedelta
    later = naive_utcnow() + timedelta(seconds=1)
    # Reconcile neither chokes on it nor sends it back to pending.
    assert outbox.reconcile_once(db, Outbox, lambda ks: set(ks), older_than=later,
                                 batch_size=10) == (4, 0)
    assert outbox.relay_once(db, Outbox, sent.append, batch_size=10) == 0
    assert len(_held(db)) == 1
