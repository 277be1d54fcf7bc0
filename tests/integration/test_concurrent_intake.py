"""Requests at the same time that create the same row: each gets the answer it would get
alone, never a 500, and the row is made once.

On SQLite a write transaction has the database to itself. On PostgreSQL two transactions
can both find a new citizen (a webhook id, an activity id) absent and both insert it:
unless writes are serialised, the second fails on the primary key.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from shared.envelope import new_event
from tests.integration.conftest import AreaClient
from tests.support.areas import ACTIVITIES, PATHS, involvement


@pytest.fixture
def area(shared_area: AreaClient) -> AreaClient:
    """The area's app and database that the tests here share, on each backend: each test
    uses ids, citizens and a webhook of its own, and counts only what it added."""
    return shared_area


THREADS = 4
ROUNDS = 6
PEOPLE = 5  # few, so that the threads keep meeting the same new citizens


def _together(work: Callable[[int], list[int]]) -> list[int]:
    """Run ``work(thread)`` on THREADS threads at once: every status they collected."""
    start = threading.Barrier(THREADS)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            statuses.extend(work(n))
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    return statuses


def test_new_citizens_sent_at_once_are_made_once(area: AreaClient) -> None:
    activity = area.activity()
    people = [f"CIT-{uuid.uuid4().hex[:8]}" for _ in range(PEOPLE)]

    def send(n: int) -> list[int]:
        http = area.app.test_client()
        statuses = []
        for r in range(ROUNDS):
            batch = [new_event(type="org.ladder.involvement.recorded", source=f"/lms/{n}",
                               subject=activity, data={"activity_id": activity,
                                                       **involvement(area.area, person)})
                     for person in people[r % 2:] + people[:r % 2]]
            statuses.append(http.post("/v1/events", data=json.dumps(batch), headers={
                **area.headers(), "Content-Type": "application/cloudevents-batch+json"}
            ).status_code)
            statuses.append(http.post(
                f"/v1/{PATHS[area.area]}/{activity}/involvements", headers=area.headers(),
                json=involvement(area.area, people[(n + r) % PEOPLE])).status_code)
        return statuses

    assert _together(send) == [202] * (THREADS * ROUNDS * 2)
    with area.app.extensions["db"].reading() as session:
        pseudonyms = session.scalars(sa.text(
            "SELECT DISTINCT pseudonym FROM involvements WHERE activity_id = :a"),
            {"a": activity}).all()
        involvements = session.scalar(sa.text(
            "SELECT count(*) FROM involvements WHERE activity_id = :a"), {"a": activity})
    assert len(pseudonyms) == PEOPLE
    assert involvements == THREADS * ROUNDS * (PEOPLE + 1)


def test_one_webhook_delivered_at_once_is_applied_once(area: AreaClient) -> None:
    name, secret = area.integration()
    body = json.dumps({"type": "activity.recorded",
                       "data": {**ACTIVITIES[area.area], "id": f"HR-{uuid.uuid4().hex[:8]}"}})
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(secret).sign(msg_id, now, body),
               "Content-Type": "application/json"}

    def deliver(_: int) -> list[int]:
        return [area.app.test_client().post(f"/v1/webhooks/{name}", data=body.encode(),
                                            headers=headers).status_code]

    before = area.count("receipts")
    assert _together(deliver) == [202] * THREADS
    assert area.count("receipts") == before + 1


def test_one_activity_id_sent_at_once_is_recorded_once(area: AreaClient) -> None:
    chosen = f"ACT-{uuid.uuid4().hex[:8]}"

    def record(_: int) -> list[int]:
        return [area.app.test_client().post(
            f"/v1/{PATHS[area.area]}", headers=area.headers(),
            json={**ACTIVITIES[area.area], "id": chosen}).status_code]

    assert sorted(_together(record)) == [202] + [409] * (THREADS - 1)
    with area.app.extensions["db"].reading() as session:
        assert session.scalar(sa.text("SELECT count(*) FROM activities WHERE id = :i"),
                              {"i": chosen}) == 1

