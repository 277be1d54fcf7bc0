"""Reading, adding to and setting rows by their keys, in SQLite's and in PostgreSQL's own
SQL: how the projection (services/ledger/projection.py) writes what a step of entries
moved.

Each database gets what it does best: PostgreSQL one statement with an array a column
(``INSERT ... SELECT * FROM unnest(...) ON CONFLICT DO UPDATE``), SQLite an
``executemany`` of upserts, its reads through the primary key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import cache, lru_cache
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.ledger.models import CitizenYear
from shared.chunks import KEYS_PER_STATEMENT, chunks
from shared.db import built_once, execute_driver_sql, executemany

CITIZEN_YEARS = cast(sa.Table, CitizenYear.__table__)
CITIZEN_KEY = ("area", "org_unit", "year", "pseudonym")
MONTHS = tuple(f"m{m}" for m in range(1, 13))
# (area, org unit or '*', year, pseudonym): the citizen's involvements in each month.
CitizenKey = tuple[str, str, str, str]


def empty_months() -> list[int]:
    return [0] * 12




def add_to_citizens(session: Session, changed: dict[CitizenKey, list[int]]
                     ) -> Iterable[tuple[CitizenKey, list[int]]]:
    """Add each row's changes to its months (creating it at 0); yield the key and the
    months after."""
    if session.get_bind().dialect.name == "postgresql":
        keys = list(zip(*changed, strict=True))
        months = list(zip(*changed.values(), strict=True))
        params = {**{n: list(v) for n, v in zip(CITIZEN_KEY, keys, strict=True)},
                  **{m: list(v) for m, v in zip(MONTHS, months, strict=True)}}
        # One statement, the batch an array a column, returning the months after.
        upsert = _unnest_upsert(CITIZEN_YEARS, CITIZEN_KEY, MONTHS, returning=True)
        return [(tuple(row[:4]), list(row[4:]))
                for row in execute_driver_sql(session, upsert, params)]
    # SQLite: read the rows before (through the primary key), then write the months
    # after in one executemany; the follower's position row keeps other writers out.
    before = {tuple(row[:4]): list(row[4:]) for row in rows_with_keys(
        session, CITIZEN_YEARS, CITIZEN_KEY, list(changed), MONTHS)}
    after = []
    for key, moved in changed.items():
        was = before.get(key) or empty_months()
        after.append((key, [w + d for w, d in zip(was, moved, strict=True)]))
    executemany(session.connection(), _sqlite_upsert(CITIZEN_YEARS, CITIZEN_KEY, MONTHS, False),
                [{**dict(zip(CITIZEN_KEY, key, strict=True)),
                  **dict(zip(MONTHS, months, strict=True))} for key, months in after])
    return after


def add_to_counters(session: Session, table: sa.Table, rows: list[dict[str, Any]],
                    counters: tuple[str, ...],
                    keys: tuple[str, ...] = ("area", "org_unit", "kind", "period")) -> None:
    """Insert rows, or add their counters to the rows already there."""
    if session.get_bind().dialect.name == "postgresql":
        # One statement with an array a column, as the citizen counters: psycopg's
        # executemany sent a statement a row, and the server ran each.
        params = {name: [row[name] for row in rows] for name in keys}
        for name in counters:
            # An array holds one type: the column's (the counters add up as floats).
            kind = table.c[name].type.python_type
            params[name] = [kind(row[name]) for row in rows]
        execute_driver_sql(session, _unnest_upsert(table, keys, counters), params)
        return
    executemany(session.connection(), _sqlite_upsert(table, keys, counters), rows)


def put_rows(session: Session, table: sa.Table, rows: list[dict[str, Any]],
             values: tuple[str, ...], keys: tuple[str, ...]) -> None:
    """Insert rows, or set their ``values`` in the rows already there."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        execute_driver_sql(session, _unnest_upsert(table, keys, values, add=False),
                           {name: [row[name] for row in rows] for name in (*keys, *values)})
        return
    executemany(session.connection(), _sqlite_upsert(table, keys, values, False), rows)


def rows_with_keys(session: Session, table: sa.Table, keys: tuple[str, ...],
                   wanted: list[tuple[Any, ...]], columns: tuple[str, ...]
                   ) -> Iterator[tuple[Any, ...]]:
    """The row there of each of these keys (one or more, if ``keys`` are not unique): its
    keys, then ``columns``, as their column types read them; each key one lookup through
    the table's index on ``keys``, whatever the planner knows of the table.

    The keys come as a list, not as a condition: on PostgreSQL an array a column, each
    element looked up in a subquery of its own; on SQLite a VALUES list. With
    ``a = ? AND b IN (...)`` the plan would rest on the table's statistics: without them
    (autovacuum off, a database just restored) PostgreSQL takes ``a`` as selective and
    reads every row of it, 4 s for 500 keys in a ledger of 700,000 entries.
    """
    names = (*keys, *columns)
    selected = ", ".join(f"t.{name}" for name in names)
    on = " AND ".join(f"t.{name} = k.{name}" for name in keys)
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        # psycopg reads each column as its Python type itself (date, bool, bytes).
        if wanted:
            # LIMIT 1 keeps the subquery a lookup for each key: without it PostgreSQL
            # may make the whole a hash join over every row of the table.
            yield from (tuple(row) for row in execute_driver_sql(
                session, f"SELECT r.* FROM unnest({_arrays(table, keys)}) AS "
                f"k({', '.join(keys)}) CROSS JOIN LATERAL (SELECT {selected} FROM "
                f"{table.name} AS t WHERE {on} LIMIT 1) AS r",
                dict(zip(keys, map(list, zip(*wanted, strict=True)), strict=True))))
        return
    # CROSS JOIN keeps the VALUES list the outer loop, so that each key is one lookup.
    typed = _typed(table, names, dialect)
    for chunk in chunks(wanted, KEYS_PER_STATEMENT):
        values = ", ".join(["(" + ", ".join("?" * len(keys)) + ")"] * len(chunk))
        yield from typed(execute_driver_sql(
            session, f"WITH k({', '.join(keys)}) AS (VALUES {values}) SELECT {selected} "
            f"FROM k CROSS JOIN {table.name} AS t ON {on}",
            tuple(v for key in chunk for v in key)))


@lru_cache(maxsize=32)
def _typed(table: sa.Table, names: tuple[str, ...], dialect: sa.Dialect
           ) -> Callable[[Iterable[Any]], Iterator[tuple[Any, ...]]]:
    """What turns SQLite's rows into the columns' Python types (it hands back a date as
    text and a boolean as an integer), as SQLAlchemy's own results do."""
    processors = [table.c[name].type.dialect_impl(dialect).result_processor(dialect, None)
                  for name in names]
    if not any(processors):
        return lambda rows: (tuple(row) for row in rows)
    return lambda rows: (tuple(value if p is None else p(value)
                               for p, value in zip(processors, row, strict=True))
                         for row in rows)


def delete_rows(session: Session, table: sa.Table, keys: tuple[str, ...],
                gone: list[tuple[Any, ...]]) -> None:
    if not gone:
        return
    if session.get_bind().dialect.name == "postgresql":
        execute_driver_sql(
            session, f"DELETE FROM {table.name} WHERE ({', '.join(keys)}) IN "
            f"(SELECT * FROM unnest({_arrays(table, keys)}))",
            dict(zip(keys, map(list, zip(*gone, strict=True)), strict=True)))
        return
    executemany(session.connection(), _sqlite_delete(table, keys),
                [{f"k_{n}": v for n, v in zip(keys, key, strict=True)} for key in gone])


@cache
def _sqlite_upsert(table: sa.Table, keys: tuple[str, ...], values: tuple[str, ...],
                   add: bool = True) -> Any:
    """SQLite: ``INSERT ... ON CONFLICT DO UPDATE`` adding each value to the row already
    there, or (not ``add``) setting it; built once, so rendered once (``built_once``)."""
    stmt = sqlite.insert(table)
    return built_once(stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={c: table.c[c] + stmt.excluded[c] if add else stmt.excluded[c] for c in values}))


@cache
def _sqlite_delete(table: sa.Table, keys: tuple[str, ...]) -> Any:
    """SQLite: delete a row by its keys, as ``k_<key>``; built once."""
    return built_once(sa.delete(table).where(
        *(table.c[n] == sa.bindparam(f"k_{n}") for n in keys)))


def _arrays(table: sa.Table, columns: tuple[str, ...]) -> str:
    """PostgreSQL: a bound array of each column's type, for ``unnest``, sent in binary
    (``%(name)b``, run by ``execute_driver_sql``): psycopg writes a list as text by
    default, quoting each element after a regular expression's search, at 1.7 to 2.4
    times the binary format's CPU (docs/performance.md, "Arrays to PostgreSQL in
    binary"). Text goes as ``text``, not as its column's ``VARCHAR(n)``: a cast to that
    cuts a longer value short without a word, where storing it in the column refuses it."""
    return ", ".join(f"CAST(%({name})b AS {_element(table.c[name].type)}[])" for name in columns)


def _element(column_type: sa.types.TypeEngine[Any]) -> str:
    # An Enum is a String too, but its own type on PostgreSQL.
    plain = isinstance(column_type, sa.String) and not isinstance(column_type, sa.Enum)
    whole = sa.Text() if plain else column_type
    return str(whole.compile(dialect=postgresql.dialect()))


@lru_cache(maxsize=8)
def _unnest_upsert(table: sa.Table, keys: tuple[str, ...], values: tuple[str, ...],
                   add: bool = True, returning: bool = False) -> str:
    """PostgreSQL: ``INSERT ... SELECT * FROM unnest(:column arrays) ON CONFLICT ... DO
    UPDATE`` adding each value to the row already there, or (not ``add``) setting it; the
    rows after, when ``returning``. One short statement, where a multi-row VALUES list
    would be a long text for the driver to parse every batch."""
    columns = (*keys, *values)
    sets = ", ".join(f"{name} = {table.name}.{name} + excluded.{name}" if add
                     else f"{name} = excluded.{name}" for name in values)
    back = f" RETURNING {', '.join(columns)}" if returning else ""
    return (f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM "
            f"unnest({_arrays(table, columns)}) ON CONFLICT ({', '.join(keys)}) "
            f"DO UPDATE SET {sets}{back}")
