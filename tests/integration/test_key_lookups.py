"""Rows looked up by their keys are each found through the table's index, whatever the
planner knows of the table: the sequencer's duplicate check and the projection's reads
of the rows a batch moves must not read every row of a source or an area.

PostgreSQL plans a condition ``source = ? AND event_id IN (...)`` from the table's
statistics. Without them (autovacuum off, a database just restored, a table that has
just grown) it takes ``source`` as selective, and reads each of its rows: with four
sources, a quarter of the log for every batch. The tables here are large and never
analysed, and every statement the lookups make is explained and checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import sqlalchemy as sa

from services.ledger import service
from services.ledger.domain import key_digest
from services.ledger.models import InvolvementState, Rejected
from services.ledger.upserts import rows_with_keys
from shared.db import Database
from tests.support.databases import unused

SOURCES = 4
ROWS = 40_000
# What reads every row of a table, or every row of an index's prefix.
SCANS = {"Seq Scan", "Bitmap Heap Scan"}
STATES = cast(sa.Table, InvolvementState.__table__)
REJECTED = cast(sa.Table, Rejected.__table__)
TABLES = ("entries", "rejected", "involvement_states")
# An event the ledger refused, and keeps in ``rejected``.
REFUSED = ("source-7", "refused")


@pytest.fixture
def db(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A ledger's database, new, whose entries, rejected events and involvement states hold
    ROWS rows each, in SOURCES sources and areas, with no statistics gathered."""
    with unused(backend, tmp_path, "lookups", "ledger") as url:
        db = Database(url)
        postgres = db.engine.dialect.name == "postgresql"
        with db.engine.begin() as connection:
            if postgres:
                for table in TABLES:
                    connection.exec_driver_sql(
                        f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
            numbers = (f"generate_series(1, {ROWS}) AS g(i)" if postgres else
                       "(WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g "
                       f"WHERE i < {ROWS}) SELECT i FROM g)")
            which = f"(i - i / {SOURCES} * {SOURCES})"
            true, false = ("true", "false") if postgres else ("1", "0")
            connection.exec_driver_sql(
                "INSERT INTO entries (seq, source, event_id, type, area, time, received_at) "
                f"SELECT i, 'source-' || {which}, 'event-' || i, 'involvement.recorded', "
                f"'recruitment', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM {numbers}")
            connection.exec_driver_sql(
                "INSERT INTO rejected (received_at, reason, payload, source, event_id, "
                f"key_digest) SELECT CURRENT_TIMESTAMP, 'refused', '{{}}', 'source-' || "
                f"{which}, 'refused-' || i, 'digest-' || i FROM {numbers}")
            connection.execute(sa.insert(REJECTED), {
                "received_at": datetime(2026, 1, 5), "reason": "refused", "payload": "{}",
                "source": REFUSED[0], "event_id": REFUSED[1], "key_digest": key_digest(*REFUSED)})
            connection.exec_driver_sql(
                "INSERT INTO involvement_states (area, involvement_id, activity_id, org_unit, "
                "day, pseudonym, step, hours, recognised, vote, feedback, status, "
                "recognition, rubric) "
                f"SELECT 'area-' || {which}, 'inv-' || i, 'act', 'unit', '2026-01-05', 'p', "
                f"3, 1.5, {true}, {false}, {false}, 'active', 'none', 'v1' FROM {numbers}")
        yield db
        db.dispose()


def _statements(db: Database, look_up: Any) -> tuple[Any, list[tuple[str, Any]]]:
    """What ``look_up`` returns, and each statement it ran, with its parameters."""
    ran: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
             executemany: bool) -> None:
        ran.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        return look_up(), ran
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)


def _scans(db: Database, ran: list[tuple[str, Any]], tables: set[str]) -> list[str]:
    """Each read of a whole table (or a whole prefix of its index) of ``tables`` that
    the statements' plans make, described."""
    found = []
    with db.engine.connect() as connection:
        for statement, parameters in ran:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            if db.engine.dialect.name == "postgresql":
                plan = connection.exec_driver_sql(
                    "EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
                nodes = [(json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]]
                while nodes:
                    node = nodes.pop()
                    nodes += node.get("Plans", [])
                    if node["Node Type"] in SCANS and node.get("Relation Name") in tables:
                        found.append(f"{node['Node Type']} on {node['Relation Name']}: "
                                     f"{statement[:120]}")
            else:
                for *_, detail in connection.exec_driver_sql(
                        "EXPLAIN QUERY PLAN " + statement, parameters):
                    # The lookups' tables go by their name or as "t".
                    if detail.startswith("SCAN") and detail.split()[1] in tables | {"t"}:
                        found.append(f"{detail}: {statement[:120]}")
    return found


def test_the_sequencers_duplicate_check_finds_each_key_through_the_index(
        db: Database) -> None:
    held = [(f"source-{i % SOURCES}", f"event-{i}") for i in range(1, ROWS, 97)]
    new = [(f"source-{i % SOURCES}", f"event-new-{i}") for i in range(600)]
    # In another source, or the id of another source's entry: not held.
    crossed = [("source-9", "event-1"), ("source-0", "event-1")]
    found, ran = _statements(db, lambda: service.held(db, [*held, *new, *crossed, REFUSED]))
    # What the log holds, and what it refused and keeps in ``rejected``.
    assert found == {*held, REFUSED}
    assert ran and _scans(db, ran, {"entries", "rejected"}) == []


def test_the_state_rows_a_batch_moves_are_each_read_through_the_primary_key(
        db: Database) -> None:
    """The projection reads the activity and involvement states a batch of entries moves
    through ``rows_with_keys`` (services/ledger/projection.py, ``_states``)."""
    wanted = [(f"area-{i % SOURCES}", f"inv-{i}") for i in range(1, ROWS, 61)]
    missing = [("area-0", "inv-none"), ("area-9", "inv-1")]
    with db.reading() as session:
        rows, ran = _statements(db, lambda: list(rows_with_keys(
            session, STATES, ("area", "involvement_id"), wanted + missing,
            ("day", "hours", "recognised", "vote"))))
    assert sorted(row[:2] for row in rows) == sorted(wanted)
    # As the columns' types read them, on either database: a date, a float, booleans.
    assert {tuple(map(type, row[2:])) for row in rows} == {(date, float, bool, bool)}
    assert {row[2:] for row in rows} == {(date(2026, 1, 5), 1.5, True, False)}
    assert ran and _scans(db, ran, {"involvement_states"}) == []


def test_the_duplicate_check_holds_only_the_exact_key_whatever_is_asked(db: Database) -> None:
    """What the duplicate check says decides whether an event is appended: a key that is
    longer than its column but starts as a held one, or text no column can hold, is not
    held, and asking is no error."""
    longest = "s" * 512  # entries.source is VARCHAR(512)
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO entries (seq, source, event_id, type, area, time, received_at) "
            f"VALUES ({ROWS + 1}, '{longest}', 'event-1', 'involvement.recorded', "
            "'recruitment', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
    asked = [(longest, "event-1"), (longest + "tail", "event-1"), ("source-1", "event-1" + "x"),
             ("source-1\x00", "event-1"), ("source-1", "event-\ud8001"), ("", "")]
    assert service.held(db, asked) == {(longest, "event-1")}
