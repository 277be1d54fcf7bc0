"""Rows written in bulk are stored exactly as SQLAlchemy stores them, on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from services.ledger.upserts import add_to_counters, delete_rows, put_rows, rows_with_keys
from shared.db import FEW, Database, executemany, stage, table_insert
from tests.support.databases import database

METADATA = sa.MetaData()
THINGS = sa.Table(
    "things", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(32), nullable=False, unique=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("size", sa.Float, nullable=False),
    sa.Column("blob", sa.LargeBinary, nullable=True),
)
ROWS = [
    {"name": "whole-second", "at": datetime(2026, 1, 1, 9, 0, 0), "flag": True, "size": 1,
     "blob": b"\x00\x01"},
    {"name": "micro", "at": datetime(2026, 1, 1, 9, 0, 0, 5), "flag": False, "size": 2.5,
     "blob": None},
]

# Enough rows for the drivers' own bulk path (sqlite3's executemany, PostgreSQL's COPY).
MANY = [{"name": f"row-{i:03d}", "at": datetime(2026, 1, 1, 9, 0, i % 60, i * 1000),
         "flag": i % 2 == 0, "size": i if i % 2 else i + 0.5,
         "blob": None if i % 3 else bytes([i, 0])} for i in range(FEW * 2)]


@pytest.fixture
def db(backend: str, tmp_path: Path) -> Iterator[Database]:
    """An empty database of the current backend with one table of mixed column types."""
    with database(backend, tmp_path, "bulk") as url:
        db = Database(url)
        METADATA.create_all(db.engine)
        yield db
        db.dispose()


def _raw(db: Database) -> list[tuple[object, ...]]:
    with db.reading() as session:
        return [tuple(r) for r in session.execute(
            sa.text("SELECT name, at, flag, size, blob FROM things ORDER BY name"))]


@pytest.mark.parametrize("rows", [ROWS, MANY], ids=["few", "many"])
def test_bulk_rows_are_stored_as_sqlalchemy_stores_them(
        db: Database, rows: list[dict[str, object]]) -> None:
    with db.writing() as session:
        session.execute(sa.insert(THINGS), rows)
    expected = _raw(db)
    with db.writing() as session:
        session.execute(sa.delete(THINGS))
        executemany(session.connection(), sa.insert(THINGS), rows)
    assert _raw(db) == expected
    with db.reading() as session:
        assert [dict(r._mapping) for r in session.execute(
            sa.select(THINGS.c.name, THINGS.c.at, THINGS.c.flag, THINGS.c.size, THINGS.c.blob)
            .order_by(THINGS.c.name))] == sorted(rows, key=lambda r: str(r["name"]))


def test_a_large_batch_that_breaks_a_constraint_fails_as_sqlalchemy_fails(db: Database) -> None:
    with pytest.raises(sa.exc.IntegrityError), db.writing() as session:
        executemany(session.connection(), sa.insert(THINGS), [*MANY, MANY[0]])
    with db.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(THINGS)) == 0


def test_large_bulk_updates_and_deletes_match_their_keys(db: Database) -> None:
    with db.writing() as session:
        executemany(session.connection(), sa.insert(THINGS), MANY)
        executemany(session.connection(),
                    sa.update(THINGS).where(THINGS.c.name == sa.bindparam("k"))
                    .values(size=sa.bindparam("new_size"), at=sa.bindparam("new_at")),
                    [{"k": r["name"], "new_size": 7.0, "new_at": datetime(2027, 1, 1)}
                     for r in MANY])
        executemany(session.connection(),
                    sa.delete(THINGS).where(THINGS.c.at == sa.bindparam("k_at"),
                                            THINGS.c.name == sa.bindparam("k_name")),
                    [{"k_at": datetime(2027, 1, 1), "k_name": r["name"]} for r in MANY[1:]])
    with db.reading() as session:
        assert session.execute(sa.select(THINGS.c.name, THINGS.c.size, THINGS.c.at)).all() == [
            (MANY[0]["name"], 7.0, datetime(2027, 1, 1))]


def test_bulk_updates_and_deletes_match_their_keys(db: Database) -> None:
    with db.writing() as session:
        executemany(session.connection(), sa.insert(THINGS), ROWS)
        executemany(session.connection(),
                    sa.update(THINGS).where(THINGS.c.name == sa.bindparam("k"))
                    .values(size=sa.bindparam("new_size")),
                    [{"k": "micro", "new_size": 7.0}])
        executemany(session.connection(),
                    sa.delete(THINGS).where(THINGS.c.name == sa.bindparam("k")),
                    [{"k": "whole-second"}])
    with db.reading() as session:
        assert session.execute(sa.select(THINGS.c.name, THINGS.c.size)).all() == [("micro", 7.0)]


def test_staged_rows_are_seen_by_the_next_query_and_go_with_a_rollback(db: Database) -> None:
    with db.writing() as session:
        stage(session, THINGS, ROWS[0])
        assert session.scalar(sa.select(sa.func.count()).select_from(THINGS)) == 1
        stage(session, THINGS, ROWS[1])
    with db.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(THINGS)) == 2

    with pytest.raises(sa.exc.IntegrityError), db.writing() as session:
        stage(session, THINGS, {**ROWS[0], "name": "new"})
        stage(session, THINGS, ROWS[1])  # taken: the commit fails, and takes "new" with it
    with db.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(THINGS)) == 2


def test_a_log_row_is_stored_on_its_own_and_inside_a_unit_of_work_does_not_wait_for_it(
        db: Database, backend: str) -> None:
    """The access log's path (``Database.log_row``): the row as SQLAlchemy stores it. Inside
    a unit of work on SQLite, which has one writer, it goes in with that unit of work
    rather than waiting for its lock; on PostgreSQL it is committed on its own."""
    db.log_row(THINGS, ROWS[0])
    expected = _raw(db)
    with db.writing() as session:
        session.execute(sa.delete(THINGS))
        session.execute(sa.insert(THINGS), [ROWS[0]])
    assert _raw(db) == expected

    with pytest.raises(RuntimeError), db.writing():
        db.log_row(THINGS, ROWS[1])
        raise RuntimeError("the unit of work fails")
    names = [row[0] for row in _raw(db)]
    assert names == (["micro", "whole-second"] if backend == "postgresql" else ["whole-second"])


MADE = sa.Table(
    "made", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(32), nullable=False),
    sa.Column("tries", sa.Integer, nullable=False, default=0),
    sa.Column("at", sa.DateTime, nullable=False, default=lambda: datetime(2026, 3, 1, 9, 30)),
)


@pytest.mark.parametrize("count", [1, FEW * 2], ids=["few", "many"])
def test_rows_that_leave_out_a_python_default_get_it_as_sqlalchemy_gives_it(
        db: Database, count: int) -> None:
    """A column whose default SQLAlchemy makes in Python is filled in, however the rows go
    (a staged row, or a table's INSERT built once), never left to the database."""
    rows = [{"name": f"n{i}"} for i in range(count)]
    with db.writing() as session:
        for row in rows[: count // 2]:
            stage(session, MADE, row)
        executemany(session.connection(), table_insert(MADE), rows[count // 2:])
    with db.reading() as session:
        stored = session.execute(sa.select(MADE.c.tries, MADE.c.at)).all()
    assert stored == [(0, datetime(2026, 3, 1, 9, 30))] * count


STATES = sa.Table(
    "states", METADATA,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("blob", sa.LargeBinary, nullable=True),
)
TALLIES = sa.Table(
    "tallies", METADATA,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("size", sa.Float, nullable=False),
    sa.Column("hours", sa.Float, nullable=False),
)


@pytest.mark.parametrize("count", [1, FEW - 1, FEW * 2], ids=["one", "few", "many"])
def test_upserts_built_once_store_what_sqlalchemy_stores_however_few_the_rows(
        db: Database, count: int) -> None:
    """The projection's upserts and deletes (services/ledger/upserts.py) are built once and,
    on SQLite, rendered for the driver once per database and keys
    (``shared.db.built_once``), for a few rows as for many: what they store is what
    SQLAlchemy's own statements store, dates, booleans and bytes included, and each
    statement is itself, not another rendered before it."""
    states = [{"name": f"s{i:03d}", "day": date(2026, 1 + i % 12, 1 + i % 28),
               "flag": i % 2 == 0, "blob": None if i % 3 else bytes([i, 0])}
              for i in range(count)]
    tallies = [{"name": f"t{i:03d}", "size": float(i), "hours": 0.5 * i} for i in range(count)]
    moved = [{**row, "day": date(2027, 2, 3), "flag": not row["flag"]} for row in states]
    with db.writing() as session:
        if moved[:-1]:
            session.execute(sa.insert(STATES), moved[:-1])
        session.execute(sa.insert(TALLIES), [{**row, "size": row["size"] + 1.5, "hours":
                                              row["hours"] + 2.0} for row in tallies])
    expected = _rows(db)
    with db.writing() as session:
        session.execute(sa.delete(STATES))
        session.execute(sa.delete(TALLIES))
    for _ in range(2):  # the second time through, every statement has been rendered
        with db.writing() as session:
            put_rows(session, STATES, states, ("day", "flag", "blob"), ("name",))
            put_rows(session, STATES, moved, ("day", "flag", "blob"), ("name",))
            for added in ({}, {"size": 1.5, "hours": 2.0}):  # inserted, then added to
                add_to_counters(session, TALLIES, [{**row, **added} for row in tallies],
                                ("size", "hours"), ("name",))
            delete_rows(session, STATES, ("name",), [(states[-1]["name"],)])
        assert _rows(db) == expected
        with db.writing() as session:
            session.execute(sa.delete(STATES))
            session.execute(sa.delete(TALLIES))


def _rows(db: Database) -> list[list[tuple[object, ...]]]:
    """Both tables' rows, as each backend stores them (SQLite: its text for a date)."""
    with db.reading() as session:
        return [[tuple(r) for r in session.execute(sa.text(f"SELECT * FROM {name} ORDER BY name"))]
                for name in ("states", "tallies")]


def test_text_longer_than_its_column_is_never_cut_short_by_the_projections_arrays(
        db: Database) -> None:
    """services/ledger/upserts.py sends PostgreSQL its keys and values as arrays. A cast
    to ``VARCHAR(32)[]`` would cut a longer text to 32 characters without a word: a key
    looked up would find the row of its first 32, and a value stored would be another."""
    stored = "x" * 32
    with db.writing() as session:
        put_rows(session, THINGS, [{**ROWS[0], "name": stored}], ("at", "flag", "size"),
                 ("name",))
    with db.reading() as session:
        assert list(rows_with_keys(session, THINGS, ("name",), [(stored + "y",)], ())) == []
        assert list(rows_with_keys(session, THINGS, ("name",), [(stored,)], ())) == [(stored,)]
    longer = [{**ROWS[1], "name": stored + "y"}]
    if db.engine.dialect.name == "postgresql":
        # Refused, as the column refuses it, and nothing changed.
        with pytest.raises(sa.exc.DataError), db.writing() as session:
            put_rows(session, THINGS, longer, ("at", "flag", "size"), ("name",))
        expected = [stored]
    else:
        # SQLite keeps text whole whatever the declared length.
        with db.writing() as session:
            put_rows(session, THINGS, longer, ("at", "flag", "size"), ("name",))
        expected = [stored, stored + "y"]
    with db.reading() as session:
        assert session.scalars(sa.select(THINGS.c.name).order_by(THINGS.c.name)).all() == expected
