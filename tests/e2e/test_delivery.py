"""Nothing is lost and nothing counts twice: kill the worker, stop Redis, publish twice.

The tests share one stack per backend (a start costs about 10 s of CPU). Each leaves it as
it found it: Redis answering, every process running, the broker idle and every outbox event
in the ledger exactly once, which each test asserts of the whole outbox, not only of what it
sent.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import redis
import requests
import sqlalchemy as sa

from services.ledger import followers
from services.ledger.models import Entry, FollowerPosition
from services.recruitment.models import Outbox
from shared.db import Database
from tests.e2e.conftest import WRITE_PATH, Stack, module_stack
from tests.support import appending
from tests.support.client import record_involvements, record_vacancy

# One event per task, so that a kill lands while the worker holds unacknowledged work; one
# entry per step of a follower, so that a kill lands part-way through the log.
shared = module_stack("shared", "recruitment", *WRITE_PATH, LADDER_RELAY_BATCH_SIZE="1",
                      LADDER_FOLLOW_BATCH_SIZE="1")


@pytest.fixture
def stack(shared: Stack) -> Iterator[Stack]:
    """The module's stack, put back together after a test that failed part-way, so that the
    next one starts as the others do."""
    yield shared
    shared.revive("recruitment", *WRITE_PATH)


def _outbox_ids(stack: Stack) -> set[str]:
    db = Database(stack.env["RECRUITMENT_DATABASE_URL"])
    with db.reading() as session:
        ids = set(session.scalars(sa.select(Outbox.event_id)))
    db.dispose()
    return ids


def _appended(ledger: Database) -> int:
    with ledger.reading() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(Entry)) or 0


def _wait_for_appended(ledger: Database, count: int, timeout: float = 30) -> None:
    """Poll the ledger's own table, cheaply and often, so a kill lands soon after ``count``."""
    deadline = time.monotonic() + timeout
    while _appended(ledger) < count:
        assert time.monotonic() < deadline, f"the ledger holds {_appended(ledger)} of {count}"
        time.sleep(0.01)


def _wait_until(condition: Callable[[], object], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)


def _broker_idle(stack: Stack) -> bool:
    """No ledger batch queued, nor held by a worker (or a killed one) unacknowledged: none
    can be delivered again."""
    broker = redis.Redis(port=stack.redis.port)
    try:
        return not broker.llen("ledger") and not broker.hlen("unacked")
    finally:
        broker.close()


def _assert_exactly_once(stack: Stack, expected: set[str], timeout: float = 180) -> None:
    """Every expected event once, in sequence; each wait ends as soon as its condition holds,
    so the generous timeouts cost nothing unless the machine is very busy."""
    entries = stack.wait_for_entries(len(expected), timeout=timeout)
    # Every batch a killed worker held has come back and been taken again (and would have
    # appended again, wrongly, by now).
    _wait_until(lambda: _broker_idle(stack), "the broker holds no ledger batch", timeout)
    entries = stack.entries()
    counts = Counter(e["event"]["id"] for e in entries)
    assert set(counts) == expected, (len(counts), len(expected), stack.log("ledger-worker"))
    assert max(counts.values()) == 1
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(stack: Stack) -> None:
    base = stack.url("recruitment")
    earlier = _outbox_ids(stack)
    ledger = Database(stack.env["LEDGER_DATABASE_URL"])
    start = _appended(ledger)
    stack.kill("ledger-worker")
    vacancy_id = record_vacancy(base, stack.auth("recruitment"))
    # Enough that each of the three kills lands part-way (5 or more settled each time, and
    # the worker is killed as soon as they are); every event is a task of its own.
    record_involvements(base, stack.auth("recruitment"), vacancy_id, 80)
    expected = _outbox_ids(stack)
    assert len(expected - earlier) == 81
    broker = redis.Redis(port=stack.redis.port)
    # Every event is queued before the worker first starts.
    _wait_until(lambda: broker.llen("ledger") >= 81, "the relay publishes them all")
    held_unacked = []
    settled_at_kill = []
    for _ in range(3):
        # Start it, wait until it is part-way through the queue, and SIGKILL it.
        before = _appended(ledger)
        stack.start("ledger-worker")
        _wait_for_appended(ledger, before + 5)
        # ...and holds a batch it has not acknowledged: a kill between two tasks leaves
        # Redis nothing to hand back. Since the worker only sequences its tasks are
        # short, and once all three kills landed between tasks.
        _wait_until(lambda: broker.hlen("unacked"), "the worker holds a batch", 10)
        stack.kill("ledger-worker")
        held_unacked.append(broker.hlen("unacked"))
        settled_at_kill.append(_appended(ledger) - start)
    ledger.dispose()
    # Each kill landed part-way: after the worker had settled some events, before it had
    # settled them all.
    assert all(0 < n < 81 for n in settled_at_kill), settled_at_kill
    stack.start("ledger-worker")
    _assert_exactly_once(stack, expected)
    # The kills caught the worker holding messages that Redis later handed back.
    assert any(held_unacked), held_unacked


def test_a_batch_published_twice_is_appended_once(stack: Stack) -> None:
    base = stack.url("recruitment")
    auth = stack.auth("recruitment")
    earlier = _outbox_ids(stack)
    record_involvements(base, auth, record_vacancy(base, auth), 10)
    expected = _outbox_ids(stack)
    _assert_exactly_once(stack, expected)
    logged = len(stack.log_lines("ledger-worker"))
    # Make the relay publish this test's rows again, as after a crash before it marked them.
    db = Database(stack.env["RECRUITMENT_DATABASE_URL"])
    with db.writing() as session:
        republished = session.execute(
            sa.update(Outbox).where(Outbox.event_id.in_(expected - earlier))
            .values(published_at=None)).rowcount
    assert republished == 11
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with db.reading() as session:
            if not session.scalar(sa.select(sa.func.count()).select_from(Outbox)
                                  .where(Outbox.published_at.is_(None))):
                break
        time.sleep(0.2)
    db.dispose()
    _wait_until(lambda: any(line.get("duplicates")
                            for line in stack.log_lines("ledger-worker")[logged:]),
                "the worker reports the republished batch as duplicates")
    _assert_exactly_once(stack, expected)


def test_requests_succeed_while_redis_is_down_and_arrive_when_it_returns(stack: Stack) -> None:
    base = stack.url("recruitment")
    vacancy_id = record_vacancy(base, stack.auth("recruitment"))
    # Settled before Redis stops: a batch a worker held then would come back only after
    # the visibility timeout, which is another test's (make chaos, fault 2).
    _assert_exactly_once(stack, _outbox_ids(stack))
    relay_log = stack.logs / "relay.log"
    logged = relay_log.stat().st_size
    stack.redis.stop()
    record_involvements(base, stack.auth("recruitment"), vacancy_id, 20)
    ready = requests.get(base + "/readyz", timeout=10)
    assert ready.status_code == 503
    assert ready.json()["errors"]["checks"]["broker"] == "unreachable"
    # The relay has tried, and failed, to publish them while Redis was down.
    _wait_until(lambda: "outbox publish failed" in relay_log.read_bytes()[logged:].decode(),
                "the relay fails to publish")
    stack.redis.start()
    _assert_exactly_once(stack, _outbox_ids(stack))


def test_events_the_broker_lost_are_published_again(stack: Stack) -> None:
    base = stack.url("recruitment")
    stack.kill("ledger-worker")
    auth = stack.auth("recruitment")
    record_involvements(base, auth, record_vacancy(base, auth), 5)
    expected = _outbox_ids(stack)
    broker = redis.Redis(port=stack.redis.port)
    deadline = time.monotonic() + 10
    while not broker.llen("ledger") and time.monotonic() < deadline:
        time.sleep(0.1)
    # Redis loses the queued batches, as a Redis without its append-only file would.
    assert broker.delete("ledger") == 1
    stack.start("ledger-worker")
    _assert_exactly_once(stack, expected)


def _position(ledger: Database, follower: str) -> int:
    with ledger.reading() as session:
        return int(session.scalar(sa.select(FollowerPosition.position).where(
            FollowerPosition.name == follower)) or 0)


def test_a_killed_follower_applies_every_entry_once(stack: Stack) -> None:
    base, auth = stack.url("recruitment"), stack.auth("recruitment")
    ledger = Database(stack.env["LEDGER_DATABASE_URL"])
    stack.kill("ledger-follower")
    record_involvements(base, auth, record_vacancy(base, auth), 100)
    size = len(stack.wait_for_entries(len(_outbox_ids(stack)), timeout=120))
    measured = [_position(ledger, followers.MEASURES)]
    assert size - measured[0] >= 101
    for _ in range(3):
        # Start it, wait until it has applied a few entries, one a transaction, and
        # SIGKILL it.
        stack.start("ledger-follower")
        _wait_until(lambda: _position(ledger, followers.MEASURES) >= measured[-1] + 5,
                    "the follower applies entries")
        stack.kill("ledger-follower")
        measured.append(_position(ledger, followers.MEASURES))
    # Each kill landed part-way through the log.
    assert measured == sorted(measured) and measured[-1] < size, (measured, size)
    stack.start("ledger-follower")
    _wait_until(stack.followed, "the followers catch up with the log", timeout=120)
    assert _position(ledger, followers.WEBHOOKS) == size
    # Held against a clean replay of the whole log, with no follower running beside it.
    stack.kill("ledger-follower")
    try:
        assert appending.measures(ledger) == appending.replayed(ledger)
    finally:
        ledger.dispose()
        stack.start("ledger-follower")
