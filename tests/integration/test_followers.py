"""The followers of the log, on a real database: the append only sequences; each follower
applies the entries after its position and moves it in the same transaction, so its
effect happens once, whatever its steps, failures or rivals."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.cli.run import follow
from services.ledger import followers, service
from services.ledger.models import Aggregate, Entry, FollowerPosition, WebhookMessage
from services.ledger.signing import Signer
from services.ledger.webhooks.settings import Settings
from shared.db import Database, make_engine
from shared.migrations import upgrade
from shared.times import naive_utcnow
from tests.integration.conftest import INSPECT_GRANT, Hooks, MakeApp
from tests.support import appending
from tests.support import events as ev
from tests.support.appending import measures, replayed
from tests.support.databases import contents, database
from tests.support.scenario import events as scenario

SIGNER = Signer(Ed25519PrivateKey.generate())
SETTINGS = Settings.defaults()
def _events(seed: int = 3) -> list[dict[str, Any]]:
    """The demo scenario (records, corrections, withdrawals, a unit moved, a cancellation,
    impacts), then involvements spread over units, months and citizens seen again."""
    rng = random.Random(seed)
    events = scenario()
    activities = [ev.activity("inspection", f"unit-{n}", time=f"2026-0{n + 1}-02T09:00:00Z")
                  for n in range(4)]
    events += activities
    for _ in range(60):
        a = rng.choice(activities)
        events.append(ev.involvement("inspection", rng.randint(1, 7),
                                     activity_id=a["data"]["activity_id"],
                                     org_unit=a["data"]["org_unit"],
                                     pseudonym=f"p_{rng.randint(0, 20):06x}",
                                     time=f"2026-{rng.randint(5, 9):02d}-11T09:00:00Z"))
    return events


def _lags(db: Database) -> dict[str, int]:
    return {p.follower: p.lag for p in followers.positions(db)}


def _seqs_messaged(db: Database, sub_id: str) -> Counter[int]:
    """How many entries messages name each seq, for one subscription."""
    with db.reading() as session:
        rows = session.scalars(sa.select(WebhookMessage.seqs).where(
            WebhookMessage.subscription_id == sub_id))
        return Counter(int(seq) for seqs in rows for seq in (seqs or "").split(",") if seq)


def test_the_append_only_sequences_and_the_followers_apply_what_follows(
        make_app: MakeApp) -> None:
    db: Database = make_app("ledger").extensions["db"]
    before = measures(db)
    result = service.append_batch(db, _events(), SIGNER)
    assert result.appended == len(_events())
    # Signed and in the log, but nothing has followed yet.
    assert measures(db) == before
    assert _lags(db) == dict.fromkeys(followers.FOLLOWERS, result.size)
    steps = list(followers.catch_up(db, SETTINGS, limit=40))
    assert {s.follower for s in steps} == set(followers.FOLLOWERS)
    assert sum(s.applied for s in steps if s.follower == followers.MEASURES) == result.size
    assert _lags(db) == dict.fromkeys(followers.FOLLOWERS, 0)
    assert measures(db)["aggregates"]


@pytest.mark.parametrize("limit", [1, 7, 1000])
def test_the_figures_do_not_depend_on_how_the_follower_steps_through_the_log(
        make_app: MakeApp, limit: int) -> None:
    db: Database = make_app("ledger").extensions["db"]
    events = _events()
    # Appended in batches of other sizes than the follower's steps.
    for start in range(0, len(events), 13):
        service.append_batch(db, events[start:start + 13], SIGNER)
    while followers.step(db, followers.MEASURES, SETTINGS, limit).applied:
        pass
    stepped = measures(db)
    assert stepped == replayed(db)


def test_a_follower_that_fails_part_way_writes_nothing_and_then_applies_each_entry_once(
        hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = hooks.subscribe("/all", **INSPECT_GRANT)
    db = hooks.db
    result = service.append_batch(db, _events(), SIGNER)
    effects = dict(followers.FOLLOWERS)
    calls = Counter[str]()

    def failing(name: str) -> followers.Effect:
        def effect(*args: Any) -> list[str]:
            calls[name] += 1
            written = effects[name](*args)  # the effect is written, then the step fails
            if calls[name] == 3:
                raise RuntimeError(f"the {name} follower dies part-way")
            return written
        return effect

    for name in followers.FOLLOWERS:
        monkeypatch.setitem(followers.FOLLOWERS, name, failing(name))
    for name in followers.FOLLOWERS:
        for _ in range(2):
            followers.step(db, name, SETTINGS, limit=5)
    before = contents(db)
    for name in followers.FOLLOWERS:
        with pytest.raises(RuntimeError, match="dies part-way"):
            followers.step(db, name, SETTINGS, limit=5)
    # Nothing of the failed steps stayed: not their effect, not their position.
    assert contents(db) == before
    assert _lags(db) == {name: result.size - 10 for name in followers.FOLLOWERS}
    monkeypatch.undo()
    list(followers.catch_up(db, SETTINGS, limit=5))
    assert _lags(db) == dict.fromkeys(followers.FOLLOWERS, 0)
    # Every entry in exactly one message, and the figures as one clean run makes them.
    assert _seqs_messaged(db, sub["id"]) == Counter(range(1, result.size + 1))
    assert measures(db) == replayed(db)


def test_two_copies_of_the_followers_at_once_apply_each_entry_once(hooks: Hooks) -> None:
    sub = hooks.subscribe("/all", **INSPECT_GRANT)
    db = hooks.db
    result = service.append_batch(db, _events() + _events(seed=4), SIGNER)
    failures: list[BaseException] = []

    def copy() -> None:
        try:
            list(followers.catch_up(db, SETTINGS, limit=3))
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=copy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert _lags(db) == dict.fromkeys(followers.FOLLOWERS, 0)
    assert _seqs_messaged(db, sub["id"]) == Counter(range(1, result.size + 1))
    assert measures(db) == replayed(db)


def test_the_followers_lag_is_a_metric_and_a_stuck_one_makes_the_ledger_unready(
        make_app: MakeApp) -> None:
    app = make_app("ledger", FOLLOW_STUCK_AFTER=0.0)
    db: Database = app.extensions["db"]
    http = app.test_client()
    assert http.get("/readyz").json["checks"]["followers"] == "ok"
    size = service.append_batch(db, _events(), SIGNER).size
    text = http.get("/metrics").get_data(as_text=True)
    for name in followers.FOLLOWERS:
        assert (f'ladder_ledger_follower_lag_entries{{follower="{name}",service="ledger"}} '
                f"{float(size)}") in text
    ready = http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["errors"]["checks"]["followers"] == (
        f"stuck: measures ({size} behind), tiles ({size} behind), webhooks ({size} behind)")
    list(followers.catch_up(db, SETTINGS))
    assert http.get("/readyz").status_code == 200
    text = http.get("/metrics").get_data(as_text=True)
    assert 'follower="measures",service="ledger"} 0.0' in text


def test_a_follower_that_is_behind_but_moving_is_not_stuck(make_app: MakeApp) -> None:
    app = make_app("ledger", FOLLOW_STUCK_AFTER=3600.0)
    service.append_batch(app.extensions["db"], _events(), SIGNER)
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 200, ready.json


def test_the_migration_starts_every_follower_at_the_logs_size(backend: str,
                                                              tmp_path: Path) -> None:
    # Before 0011, the measures and the webhook messages were written with each append:
    # every entry already had its effect.
    with database(backend, tmp_path, "ledger") as url:
        upgrade("ledger", url, "0010")
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE ledger_head SET size = 41 WHERE id = 1"))
        upgrade("ledger", url)
        with engine.connect() as connection:
            found = dict(connection.execute(sa.text(
                "SELECT name, position FROM follower_positions")).all())
        engine.dispose()
    # The tiles follower (0018) starts at the beginning: it writes the tiles of the log
    # the ledger already holds.
    assert found == {followers.MEASURES: 41, followers.WEBHOOKS: 41, followers.TILES: 0}


def test_a_follower_idle_for_long_is_not_stuck_when_an_entry_arrives(make_app: MakeApp) -> None:
    # Stuck means an entry has waited too long, not that the position is old: a
    # follower idle for two hours has an old position the moment a new entry comes.
    app = make_app("ledger", FOLLOW_STUCK_AFTER=60.0)
    db: Database = app.extensions["db"]
    with db.writing() as session:
        session.execute(sa.update(FollowerPosition).values(
            updated_at=naive_utcnow() - timedelta(hours=2)))
    service.append_batch(db, _events(), SIGNER)
    http = app.test_client()
    ready = http.get("/readyz")
    assert ready.status_code == 200, ready.json
    text = http.get("/metrics").get_data(as_text=True)
    waited = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
              if line.startswith('ladder_ledger_follower_lag_seconds{follower="measures"')]
    assert len(waited) == 1 and 0 <= waited[0] < 60


HOSTILE = st.one_of(
    st.sampled_from([10 ** 400, -(10 ** 400), 2 ** 63, -(2 ** 63) - 1, 2 ** 31, 1e308, -0.0,
                     5e-324, "", "\x00", "\ud800", "9" * 500]),
    st.integers(min_value=-(10 ** 400), max_value=10 ** 400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2))


def _hostile_events(draw: Any) -> list[dict[str, Any]]:
    """An activity and an involvement in it, and an event of any type about them whose
    data has a field or two replaced, or added, with a value of any kind."""
    first = ev.activity("training", "ward-1", time="2026-03-02T09:00:00Z")
    activity_id = first["data"]["activity_id"]
    joined = ev.involvement("training", activity_id=activity_id, org_unit="ward-1",
                            time="2026-03-03T09:00:00Z")
    involvement_id = joined["data"]["involvement_id"]
    kinds = {
        "activity": lambda: ev.activity("training", "ward-1", time="2026-03-02T09:00:00Z"),
        "updated": lambda: ev.activity_updated("training", activity_id, "ward-2"),
        "cancelled": lambda: ev.activity_cancelled("training", activity_id, "ward-1"),
        "involvement": lambda: ev.involvement("training", activity_id=activity_id,
                                              org_unit="ward-1"),
        "corrected": lambda: ev.involvement("training", activity_id=activity_id,
                                            involvement_id=involvement_id, corrected=True),
        "withdrawn": lambda: ev.withdrawn("training", activity_id, involvement_id),
        "impact": lambda: ev.impact("training", activity_id, involvement_id=involvement_id,
                                    told_on="2026-04-01"),
        "activity impact": lambda: ev.impact("training", activity_id, told_on="2026-04-01"),
    }
    hostile = kinds[draw(st.sampled_from(sorted(kinds)))]()
    names = sorted(hostile["data"]) + ["extra"]
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
        hostile["data"][name] = draw(HOSTILE)
    return [first, joined, hostile]


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_what_the_sequencer_accepts_every_follower_can_apply(ledger_db: Database,
                                                             data: st.DataObject) -> None:
    """An entry a follower cannot apply would hold it, and every entry after, for good:
    the sequencer must refuse it. (An involvement of 10**400 hours once got in: float()
    of it raised in the measures, on every try.)"""
    batch = _hostile_events(data.draw)
    result = appending.append(ledger_db, batch, SIGNER)
    assert result.appended + result.rejected == len(batch)
    assert {p.follower: p.lag for p in followers.positions(ledger_db)} == dict.fromkeys(
        followers.FOLLOWERS, 0)


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A follower tries again after a failure at once, not after a second."""
    monkeypatch.setattr(followers, "RETRY_AFTER", 0.01)


def _run_followers(db: Database, until: Any, skip_after: int, messages: list[str]) -> None:
    """The follower process's loop in a thread, until ``until()`` holds (at most 20 s)."""
    deadline = naive_utcnow() + timedelta(seconds=20)
    thread = threading.Thread(target=followers.run, kwargs={
        "db": db, "settings": SETTINGS, "handed": messages.extend, "limit": 50,
        "interval": 0.01, "skip_after": skip_after,
        "running": lambda: not until() and naive_utcnow() < deadline})
    thread.start()
    thread.join()


def _poisoned(db: Database) -> tuple[int, int]:
    """Three involvements appended; the middle one's entry then holds 10**400 hours, as an
    earlier version of the append let in. Its seq and the log's size."""
    first = ev.activity("training", "ward-1", time="2026-03-02T09:00:00Z")
    joined = [ev.involvement("training", activity_id=first["data"]["activity_id"],
                             org_unit="ward-1", pseudonym=f"p{n}", hours=2,
                             time="2026-03-03T09:00:00Z") for n in range(3)]
    result = service.append_batch(db, [first, *joined], SIGNER)
    with db.writing() as session:
        seq = session.scalar(sa.select(Entry.seq).where(
            Entry.event_id == joined[1]["id"]))
        session.execute(sa.update(Entry).where(Entry.seq == seq).values(
            event=sa.func.replace(Entry.event, '"hours":2,', f'"hours":{10 ** 400},')))
    return int(seq), result.size


def test_an_entry_a_follower_cannot_apply_is_gone_past_and_recorded(hooks: Hooks) -> None:
    db = hooks.db
    sub = hooks.subscribe("/all", **INSPECT_GRANT)
    seq, size = _poisoned(db)
    messages: list[str] = []
    _run_followers(db, lambda: set(_lags(db).values()) == {0}, 2, messages)
    assert _lags(db) == dict.fromkeys(followers.FOLLOWERS, 0)
    [gone] = followers.skipped(db)
    assert (gone.follower, gone.seq) == (followers.MEASURES, seq)
    assert gone.reason.startswith("ValueError") or gone.reason.startswith("OverflowError")
    # The other entries' figures are there; the webhook follower, which reads no event
    # text, applied every entry, the poisoned one too.
    with db.reading() as session:
        involvements = session.scalar(sa.select(Aggregate.involvements).where(
            Aggregate.area == "training", Aggregate.org_unit == "*",
            Aggregate.kind == "year", Aggregate.period == "2026"))
    assert involvements == 2
    assert _seqs_messaged(db, sub["id"]) == Counter(range(1, size + 1))
    gauges = {(name, labels["follower"]): value
              for name, _, value, labels in followers.gauges(db)}
    assert gauges[("ladder_ledger_follower_skipped_entries", followers.MEASURES)] == 1
    assert gauges[("ladder_ledger_follower_skipped_entries", followers.WEBHOOKS)] == 0
    listed = CliRunner().invoke(follow, ["--skipped"], env={
        "LEDGER_DATABASE_URL": db.engine.url.render_as_string(hide_password=False)})
    assert listed.exit_code == 0
    assert f"measures  seq {seq}  {gone.reason}" in listed.stdout


def test_a_follower_told_never_to_skip_waits_at_the_entry(ledger_db: Database) -> None:
    seq, _ = _poisoned(ledger_db)
    started = naive_utcnow()
    # Until the follower has reached the entry it cannot apply, and has had time to try
    # it again and again (a busy machine can take most of a second for the first step).
    _run_followers(ledger_db, lambda: naive_utcnow() - started > timedelta(seconds=0.8)
                   and _lags(ledger_db)[followers.MEASURES] <= 2, 0, [])
    assert followers.skipped(ledger_db) == []
    assert _lags(ledger_db)[followers.MEASURES] == 2
    assert {p.follower: p.position for p in followers.positions(ledger_db)}[
        followers.MEASURES] == seq - 1


def test_a_step_that_fails_now_and_then_is_never_skipped(
        hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    # Each entry's first try fails, as a database that drops a connection might make it;
    # the next succeeds. Nothing is gone past, and each entry is applied once.
    db = hooks.db
    sub = hooks.subscribe("/all", **INSPECT_GRANT)
    result = service.append_batch(db, _events()[:40], SIGNER)
    effects = dict(followers.FOLLOWERS)
    tried: set[tuple[str, int]] = set()

    def flaky(name: str) -> followers.Effect:
        def effect(session: Any, rows: list[Any], *args: Any) -> list[str]:
            if (name, rows[0].seq) not in tried:
                tried.add((name, rows[0].seq))
                raise RuntimeError("the connection dropped")
            return effects[name](session, rows, *args)
        return effect

    for name in followers.FOLLOWERS:
        monkeypatch.setitem(followers.FOLLOWERS, name, flaky(name))
    # Skipped after two failures in a row, of which there are none.
    _run_followers(db, lambda: set(_lags(db).values()) == {0}, 2, [])
    monkeypatch.undo()
    assert followers.skipped(db) == []
    assert _lags(db) == dict.fromkeys(followers.FOLLOWERS, 0)
    assert _seqs_messaged(db, sub["id"]) == Counter(range(1, result.size + 1))
    assert measures(db) == replayed(db)


def test_a_database_that_stays_locked_never_makes_a_follower_skip(
        ledger_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # The same "database is locked" four times in a row, applied alone: that is the
    # database's state, not the entry's fault. The follower waits it out.
    result = service.append_batch(ledger_db, _events()[:10], SIGNER)
    effect = followers.FOLLOWERS[followers.MEASURES]
    tries = Counter[int]()

    def locked(session: Any, rows: list[Any], *args: Any) -> list[str]:
        if any(row.seq == 5 for row in rows):
            tries[5] += 1
        if tries[5] <= 4 and any(row.seq == 5 for row in rows):
            raise sa.exc.OperationalError("UPDATE ...", {}, Exception("database is locked"))
        return effect(session, rows, *args)

    monkeypatch.setitem(followers.FOLLOWERS, followers.MEASURES, locked)
    _run_followers(ledger_db, lambda: _lags(ledger_db)[followers.MEASURES] == 0, 2, [])
    monkeypatch.undo()
    assert followers.skipped(ledger_db) == []
    assert _lags(ledger_db)[followers.MEASURES] == 0
    assert tries[5] == 5
    assert result.size == 10


# What a list's text form on PostgreSQL gives meaning to: braces, commas, quotes, a
# backslash, spaces at either end, the word NULL; and text outside the BMP.
ARRAY_SYNTAX = (' {ward "7"}, \\north\\ ', "NULL", "", "{}", "a,b", '"', "\\", "🏥 ward")


@pytest.mark.parametrize("name", ARRAY_SYNTAX)
def test_a_unit_or_citizen_written_like_array_syntax_is_counted_under_that_very_name(
        make_app: MakeApp, name: str) -> None:
    """The measures send each column of a step's rows as one array (on PostgreSQL in the
    binary format): a unit or pseudonym must come back as itself, not parsed as an array's
    text. One citizen, twice in the unit: one distinct citizen, one returning."""
    db: Database = make_app("ledger").extensions["db"]
    unit = f"unit {name}"
    activity = ev.activity("training", unit, time="2026-03-02T09:00:00Z")
    twice = [ev.involvement("training", activity_id=activity["data"]["activity_id"],
                            org_unit=unit, pseudonym=f"p {name}", hours=2,
                            time=f"2026-03-0{day}T09:00:00Z") for day in (3, 4)]
    assert appending.append(db, [activity, *twice], SIGNER).appended == 3
    with db.reading() as session:
        month = session.execute(sa.select(Aggregate).where(
            Aggregate.area == "training", Aggregate.org_unit == unit,
            Aggregate.kind == "month", Aggregate.period == "2026-03")).scalar_one()
        pseudonyms = set(session.scalars(sa.text(
            "SELECT pseudonym FROM citizen_years WHERE org_unit = :unit"), {"unit": unit}))
    assert (month.involvements, month.citizens, month.returning_citizens) == (2, 1, 1)
    assert pseudonyms == {f"p {name}"}


def test_idle_followers_are_woken_by_one_watcher_and_apply_what_is_appended_later(
        ledger_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # An idle follower never looks for itself here: only the watcher's wake-up can bring
    # it to the entries appended while it waits, and only the stop's can end it.
    monkeypatch.setattr(followers, "_idle_look", lambda _interval: 3600.0)
    looks: Counter[str] = Counter()
    sizes: list[int | None] = []
    behind, size = followers._behind, followers._size

    def counted_behind(db: Database, follower: str) -> int | None:
        looks[follower] += 1
        return behind(db, follower)

    def counted_size(db: Database) -> int | None:
        sizes.append(size(db))
        return sizes[-1]

    monkeypatch.setattr(followers, "_behind", counted_behind)
    monkeypatch.setattr(followers, "_size", counted_size)
    stop = threading.Event()
    thread = threading.Thread(target=followers.run, kwargs={
        "db": ledger_db, "settings": SETTINGS, "handed": lambda _: None, "limit": 50,
        "interval": 0.01, "running": lambda: not stop.is_set()})
    thread.start()
    try:
        _wait(lambda: len(sizes) >= 20)  # idle: the watcher has read the size 20 times
        idle = looks.copy()
        service.append_batch(ledger_db, _events(), SIGNER)
        _wait(lambda: set(_lags(ledger_db).values()) == {0})
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    # Each looked at its start, and again if the watcher's first read came after that,
    # then not again while the log stood still.
    assert set(idle) == set(followers.FOLLOWERS) and max(idle.values()) <= 2, idle
    assert measures(ledger_db) == replayed(ledger_db)


def _wait(condition: Any, timeout: float = 20) -> None:
    deadline = naive_utcnow() + timedelta(seconds=timeout)
    while not condition():
        assert naive_utcnow() < deadline, "timed out"
        time.sleep(0.01)


def test_a_stop_wakes_idle_followers_at_once(ledger_db: Database,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Idle followers wait to be woken for an hour at most here: the stop must wake them.
    monkeypatch.setattr(followers, "_idle_look", lambda _interval: 3600.0)
    stop = threading.Event()
    thread = threading.Thread(target=followers.run, kwargs={
        "db": ledger_db, "settings": SETTINGS, "handed": lambda _: None, "limit": 50,
        "interval": 0.01, "running": lambda: not stop.is_set()})
    thread.start()
    stop.wait(0.3)  # idle by now: the log is empty
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
