"""Database engines, sessions and the unit of work.

SQLite is the embedded default and PostgreSQL the deployed one; the same code
runs on both. Writes to SQLite begin with ``BEGIN IMMEDIATE`` so that two
writers queue on the lock instead of failing half-way through a transaction, and
before it take the database's writer lock (shared/writer_lock.py), so that the next
writer goes as soon as one commits rather than when SQLite's busy handler wakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, current_app
from sqlalchemy import (
    BindParameter,
    Boolean,
    Connection,
    CursorResult,
    Date,
    DateTime,
    Dialect,
    Engine,
    Enum,
    Executable,
    Float,
    Insert,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.dml import UpdateBase

from shared.writer_lock import WRITER, WRITER_LOCK_SUFFIX, writer_lock
from shared.writer_lock import release as _release

STAGED = "staged"
# ``column.in_(KEYS)``, with {"keys": [...]} given at execution: a statement that
# compiles once and is cached, whatever the list, instead of a bound parameter
# built per value on every call.
KEYS: BindParameter[Any] = bindparam("keys", expanding=True)


# Where a SQLite connection's record keeps the durability it was last told (``_begin``).
SYNCHRONOUS = "ladder_synchronous"
# How long a SQLite connection waits for another's lock before it gives up.
BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, server_options: str = "", **kwargs: Any) -> Engine:
    """``server_options``: settings for each PostgreSQL session, as libpq's ``options``
    gives them (``-c name=value``)."""
    # An error's message leaves the values out: a citizen's lookup or salt in a log line
    # would outlive their erasure.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # psycopg prepares a statement run five times, and PostgreSQL may then keep a
        # generic plan made while a table was still small: a sequential scan that
        # stays as the ledger grows. Each statement is planned with its values.
        args: dict[str, Any] = {"prepare_threshold": None} \
            if parsed.get_driver_name() == "psycopg" else {}
        if server_options:
            args["options"] = server_options
        return _ping_when_idle(create_engine(url, connect_args=args, **kwargs))
    lock_path = None
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        lock_path = Path(parsed.database + WRITER_LOCK_SUFFIX)
    engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when a transaction begins.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # Zero what is deleted, and what a B-tree page split or a rebuild moves away,
        # on every connection: a copy left behind by any one would outlive an erasure.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        options = conn.get_execution_options()
        # Each transaction states its durability: FULL syncs the WAL on every commit. The
        # setting belongs to the connection and lasts, so it is stated only when it
        # changes: a statement less for nearly every transaction.
        durability, info = options.get("sqlite_synchronous", "FULL"), conn.connection.info
        if info.get(SYNCHRONOUS) != durability:
            conn.exec_driver_sql(f"PRAGMA synchronous={durability}")
            info[SYNCHRONOUS] = durability
        begin = options.get("sqlite_begin", "")
        if begin == "IMMEDIATE" and lock_path is not None:
            writer_lock(conn.connection.info, lock_path).take()
        conn.exec_driver_sql("BEGIN " + begin)

    if lock_path is not None:
        # The writer lock goes back with the connection: at its return to the pool, just
        # after the commit or rollback; or with the connection itself, if it is discarded.
        @event.listens_for(engine, "reset")
        def _reset(_dbapi: Any, record: Any, _state: Any) -> None:
            _release(record.info)

        @event.listens_for(engine, "invalidate")
        def _invalidate(_dbapi: Any, record: Any, _error: Any) -> None:
            _release(record.info)

        @event.listens_for(engine, "close")
        def _close(_dbapi: Any, record: Any) -> None:
            lock = record.info.pop(WRITER, None)
            if lock is not None:
                lock.close()

    return engine


# A connection taken from the pool within this many seconds of its return is used as it
# is; one idle for longer is pinged first (a round trip), and replaced if the server has
# gone. SQLAlchemy's pool_pre_ping pings at every checkout: three times for each request
# that checks its token, answers and writes the access log.
PING_AFTER = 1.0


def _ping_when_idle(engine: Engine) -> Engine:
    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is not None and time.monotonic() - returned < PING_AFTER:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            # The pool discards this connection and checks out another (SQLAlchemy's
            # documented pessimistic disconnect handling).
            raise DisconnectionError(f"the connection did not answer a ping: {exc}") from exc

    return engine


FEW = 20

# Column types whose values the drivers take as they are (sqlite3: but for dates and
# datetimes, below). A bulk statement with a column of another type (an Enum, JSON, a
# TypeDecorator) takes SQLAlchemy's path, which knows how it binds.
NATIVE = (Integer, String, Float, Boolean, LargeBinary, DateTime, Date)


@cache
def _sqlite_named() -> Dialect:
    """SQLite's dialect rendering named parameters (``:seq``), which sqlite3 also takes.

    With them each row's dict goes to the driver as it is; the default dialect numbers
    them (``?``), which would need the compiler's own parameter order.
    """
    return sqlite.dialect(paramstyle="named")


def executemany(connection: Connection, statement: UpdateBase,
                rows: list[dict[str, Any]]) -> None:
    """Run one INSERT, UPDATE or DELETE for many rows (all with the same keys) at once.

    The rows go to the driver as they are, through its own public API: on PostgreSQL
    a plain INSERT's as psycopg's ``COPY ... FROM STDIN``; anything else rendered once,
    its parameters named after the rows' keys, for the driver's ``executemany``
    (sqlite3's; psycopg's, which pipelines them) through ``exec_driver_sql``, which
    keeps SQLAlchemy's events and error translation. SQLAlchemy's own executemany
    builds its parameters row by row with much more machinery, which is most of the
    cost of a ten-thousand-row batch. psycopg adapts every Python value itself; for
    sqlite3, dates and datetimes become the text SQLAlchemy stores them as. A moment
    is naive UTC, as every table stores it (``shared.outbox.utcnow``). Rows that leave
    out a column whose value SQLAlchemy makes in Python (``default=``) take its path,
    which makes it.
    """
    if not rows:
        return
    keys = list(rows[0])
    table = statement.table if isinstance(statement.table, Table) else None
    if table is not None and (not _native(table) or _leaves_out_made(
            table, isinstance(statement, Insert), tuple(keys))):
        connection.execute(statement, rows)
        return
    on_sqlite = connection.dialect.name == "sqlite"
    # A statement built once (a table's INSERT, an upsert its caller keeps) is rendered once
    # too (per database and columns), so even a few rows, a webhook's, reach the driver,
    # for a third of SQLAlchemy's cost.
    once = statement in _BUILT_ONCE
    if len(rows) < FEW and not once:
        # Rendering costs more than a few rows do: SQLAlchemy's path has a cache.
        connection.execute(statement, rows)
        return
    if (len(rows) >= FEW and not on_sqlite and table is not None
            and connection.dialect.driver == "psycopg"
            and _plain_insert(statement, table, keys) and not _aware(table, rows)):
        _copy(connection, table, keys, rows)
        return
    # On SQLite the text is the named dialect's whatever the engine, so one rendering
    # serves every engine (a process of the suite makes thousands).
    dialect = _sqlite_named() if on_sqlite else connection.dialect
    sql = (_rendered(statement, dialect, tuple(keys)) if once
           else _render(statement, dialect, keys))
    if on_sqlite:
        texts = _sqlite_texts(table, rows)
        if texts:
            rows = [{**row, **{k: f(row[k]) for k, f in texts}} for row in rows]
    connection.exec_driver_sql(sql, rows[0] if len(rows) == 1 else rows)


# The statements built once and kept (built_once): executemany renders each for the driver
# once per database and keys. A set of the statements themselves, which hash by identity.
_BUILT_ONCE: set[UpdateBase] = set()
U = TypeVar("U", bound=UpdateBase)


def built_once(statement: U) -> U:
    """Mark a statement that its caller builds once and keeps (``functools.cache``), so
    that ``executemany`` renders it for the driver once, however few the rows."""
    _BUILT_ONCE.add(statement)
    return statement


@cache
def table_insert(table: Table) -> Insert:
    """A table's INSERT, built once: SQLAlchemy computes its cache key once, and
    ``executemany`` renders it for the driver once, however few the rows."""
    return built_once(insert(table))


@cache
def _native(table: Table) -> bool:
    return all(isinstance(c.type, NATIVE) and not isinstance(c.type, Enum) for c in table.c)


@cache
def _leaves_out_made(table: Table, inserting: bool, keys: tuple[str, ...]) -> bool:
    """Whether rows of these keys leave out a column whose value SQLAlchemy makes in
    Python (``default=`` for an INSERT, ``onupdate=`` otherwise). Only its own path makes
    those; the driver's would leave the column to the database: NULL, or a refusal."""
    return any((c.default if inserting else c.onupdate) is not None and c.key not in keys
               for c in table.c)


def _render(statement: UpdateBase, dialect: Dialect, keys: list[str]) -> str:
    """The statement as the driver takes it, its parameters named after the rows' keys
    (on SQLite, ``dialect`` is ``_sqlite_named()``)."""
    return str(statement.compile(dialect=dialect, column_keys=keys))


@cache
def _rendered(statement: UpdateBase, dialect: Dialect, keys: tuple[str, ...]) -> str:
    return _render(statement, dialect, list(keys))


def _datetime_text(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DATETIME text: "2026-03-01 09:30:00.000000", always six
    # fractional digits; it keeps no offset.
    if value is None:
        return None
    if type(value) is date:
        value = datetime(value.year, value.month, value.day)
    return value.isoformat(" ", "microseconds")[:26]


def _date_text(value: date | None) -> str | None:
    if value is None:
        return None
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _sqlite_texts(table: Table | None, rows: list[dict[str, Any]]
                  ) -> list[tuple[str, Callable[[Any], Any]]]:
    """The keys whose values sqlite3 takes as SQLAlchemy's text, and how to make it.

    A key that names a column converts as the column's type does; any other (a
    ``bindparam`` in a WHERE clause) as its values' type.
    """
    texts: list[tuple[str, Callable[[Any], Any]]] = []
    for key in rows[0]:
        column = table.c.get(key) if table is not None else None
        if column is not None:
            kind = column.type
            if isinstance(kind, DateTime):
                texts.append((key, _datetime_text))
            elif isinstance(kind, Date):
                texts.append((key, _date_text))
            continue
        sample = _sample(rows, key)
        if isinstance(sample, datetime):
            texts.append((key, _datetime_text))
        elif isinstance(sample, date):
            texts.append((key, _date_text))
    return texts


def _sample(rows: list[dict[str, Any]], key: str) -> Any:
    """The first value of ``key`` that is not None, or None."""
    return next((row[key] for row in rows if row[key] is not None), None)


def _aware(table: Table, rows: list[dict[str, Any]]) -> bool:
    """Whether a datetime column's values carry a zone, which COPY would drop.

    An INSERT turns one into the session's time zone; COPY's text keeps its wall time.
    """
    return any(isinstance(table.c[key].type, DateTime)
               and getattr(_sample(rows, key), "tzinfo", None) is not None
               for key in rows[0])


def _plain_insert(statement: UpdateBase, table: Table, keys: list[str]) -> bool:
    """An INSERT of rows into a table's columns and nothing more: no upsert, RETURNING
    or SELECT."""
    return (type(statement) is Insert and statement.select is None
            and not statement.exported_columns and all(k in table.c for k in keys))


def _copy(connection: Connection, table: Table, keys: list[str],
          rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: the rows through psycopg's ``COPY ... FROM STDIN``.

    A plain INSERT's rows, in the transaction's own connection, for a third to a fifth
    of what psycopg's executemany costs per row (docs/performance.md). A failure is
    raised as SQLAlchemy raises the INSERT's, its values hidden.
    """
    # Here, not at the top: a process on SQLite need not load the driver (a tenth of a
    # second of every process's start).
    import psycopg
    from psycopg import sql

    target = (sql.Identifier(table.schema, table.name) if table.schema
              else sql.Identifier(table.name))
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        target, sql.SQL(", ").join(sql.Identifier(table.c[k].name) for k in keys))
    driver = connection.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    values = itemgetter(*keys)
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(values(row) if len(keys) > 1 else (row[keys[0]],))
    except psycopg.Error as error:
        raise DBAPIError.instance(statement.as_string(driver), None, error, psycopg.Error,
                                  hide_parameters=True, dialect=connection.dialect) from error


def stage(session: Session, table: Table, row: dict[str, Any]) -> None:
    """Insert ``row`` into ``table`` with the unit of work, in bulk with its like.

    The ORM's unit of work costs more per row than building the row does: a
    batch of a thousand events would spend most of its time there. Staged rows
    go in as one ``executemany`` per table, parents before children, just before
    the session's next query (which so sees them, as it would see ORM objects it
    autoflushes), before its next flush of ORM objects (which may refer to them),
    or at the commit. A staged row must not refer to an ORM object's.
    """
    session.info.setdefault(STAGED, {}).setdefault(table, []).append(row)


def _parents_first(table: Table) -> int:
    """Where ``table`` comes in its metadata's tables, each after those it refers to."""
    return _ranks(table.metadata, len(table.metadata.tables))[table]


@cache
def _ranks(metadata: MetaData, _tables: int) -> dict[Table, int]:
    # Keyed on the number of tables too: a table declared later gets its rank.
    return {table: rank for rank, table in enumerate(metadata.sorted_tables)}


def _insert_staged(session: Session, *_: Any) -> None:
    staged: dict[Table, list[dict[str, Any]]] = session.info.pop(STAGED, None) or {}
    if not staged:
        return
    connection = session.connection()
    for table, rows in sorted(staged.items(), key=lambda item: _parents_first(item[0])):
        executemany(connection, table_insert(table), rows)


def _before_query(state: ORMExecuteState) -> None:
    _insert_staged(state.session)


def execute(session: Session, statement: Executable,
            params: dict[str, Any] | None = None) -> CursorResult[*tuple[Any, ...]]:
    """A Core statement in the unit of work, after what it has staged or added.

    For lookups by key and single-row changes on a hot path: the ORM's own
    ``execute`` costs several times what such a statement does on the connection
    (docs/performance.md, "A webhook off the ORM").
    """
    return _caught_up(session).execute(statement, params)


def execute_driver_sql(session: Session, statement: str,
                       params: dict[str, Any] | tuple[Any, ...]
                       ) -> CursorResult[*tuple[Any, ...]]:
    """The driver's own SQL in the unit of work, after what it has staged or added, as
    ``execute``: for what SQLAlchemy does not write, such as psycopg's binary parameters
    (``%(name)b``)."""
    return _caught_up(session).exec_driver_sql(statement, params)


def _caught_up(session: Session) -> Connection:
    """The unit of work's connection, once what it has staged and added is written."""
    _insert_staged(session)
    session.flush()
    return session.connection()


# The advisory lock a PostgreSQL unit of work holds (Database.writing). Advisory locks
# belong to one database, so each service's writers wait only for each other.
WRITER_LOCK = 0x6C6164646572  # "ladder"


class Database:
    """One service's engine and session factories, kept in ``app.extensions``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        # On PostgreSQL a read runs its statements without BEGIN and ROLLBACK around them
        # (autocommit): at READ COMMITTED each statement sees its own snapshot in a
        # transaction too, so the transaction bought a read two round trips and nothing
        # else. A server-side cursor lives only in a transaction: ``streaming`` keeps one.
        postgresql = self.engine.dialect.name == "postgresql"
        self._read_engine = (self.engine.execution_options(isolation_level="AUTOCOMMIT")
                             if postgresql else self.engine)
        self._read = sessionmaker(self._read_engine, expire_on_commit=False)
        self._stream = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        # Survives a crash of the process, not of the machine: for records (the
        # access log) whose cost must not be an fsync per read.
        self._relaxed_writes = self.engine.execution_options(
            sqlite_begin="IMMEDIATE", sqlite_synchronous="NORMAL")
        self._write_relaxed = sessionmaker(self._relaxed_writes, expire_on_commit=False)
        # On PostgreSQL, the same for a row in autocommit: connections of their own whose
        # sessions do not wait for the WAL to reach the disk (each made at first use).
        self._relaxed_engine = make_engine(
            url, server_options="-c synchronous_commit=off", pool_size=2,
            max_overflow=8) if postgresql else None
        self._relaxed_rows = (self._relaxed_engine.execution_options(
            isolation_level="AUTOCOMMIT") if self._relaxed_engine is not None else None)
        for factory in (self._read, self._stream, self._write, self._write_relaxed):
            event.listen(factory, "do_orm_execute", _before_query)
            event.listen(factory, "before_flush", _insert_staged)
            event.listen(factory, "before_commit", _insert_staged)
        self._active: ContextVar[Session | None] = ContextVar(f"uow_{id(self)}", default=None)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def looking_up(self) -> Iterator[Connection]:
        """A read as ``reading`` makes it, on a Core connection with no Session around it:
        for the lookups by key that every request makes (its token, a webhook's secrets,
        a proof's nodes), where the Session's own bookkeeping costs more than the
        statement (docs/performance.md, "Reads without a Session")."""
        with self._read_engine.connect() as connection:
            yield connection

    @contextmanager
    def streaming(self) -> Iterator[Session]:
        """A read that streams its rows through a server-side cursor (``yield_per``)."""
        with self._stream() as session:
            yield session

    def log_row(self, table: Table, row: dict[str, Any]) -> None:
        """Insert one row of a log that only grows (the access log), committed on its own
        without waiting for the disk: it survives the process, if not a power cut.
        Nothing is looked up first, so on PostgreSQL it takes no writers' lock: one
        statement in autocommit, one round trip, on a connection whose session has
        ``synchronous_commit`` off. On SQLite, which has one writer, a transaction with
        ``synchronous=NORMAL``, or, inside a unit of work, that unit of work's."""
        if self._relaxed_rows is not None:
            with self._relaxed_rows.connect() as connection:
                executemany(connection, table_insert(table), [row])
            return
        active = self._active.get()
        if active is not None:
            # SQLite has one writer: inside a unit of work, the row goes in with it.
            stage(active, table, row)
            return
        with self._relaxed_writes.begin() as connection:
            executemany(connection, table_insert(table), [row])

    @contextmanager
    def writing(self, durable: bool = True, exclusive: bool = True) -> Iterator[Session]:
        """A unit of work: everything inside commits together or not at all.

        A unit of work opened inside another joins it, so several use cases (a
        batch of events, an effect and its webhook receipt) commit as one.
        ``durable=False`` commits without waiting for the disk: the transaction is
        still atomic and survives the process dying, but a power cut may lose it
        (SQLite ``synchronous=NORMAL`` in WAL mode, PostgreSQL ``synchronous_commit
        off``). ``exclusive=False`` skips the writer lock on PostgreSQL, for a unit of
        work that writes only tables no other one writes, and serialises itself by
        locking a row of its own (the ledger's followers); SQLite has one writer anyway.
        """
        active = self._active.get()
        if active is not None:
            yield active
            return
        factory = self._write if durable else self._write_relaxed
        with factory() as session, session.begin():
            if self.engine.dialect.name == "postgresql" and exclusive:
                # One unit of work writes at a time, as SQLite's BEGIN IMMEDIATE makes it
                # there: the use cases look a row up and insert it if absent (a citizen,
                # a receipt, an activity's id), which two transactions at once would
                # both do, the second failing on the key (tests/integration/
                # test_concurrent_intake.py). Held until the commit; readers never wait.
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                {"key": WRITER_LOCK})
            if self.engine.dialect.name == "postgresql" and not durable:
                session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            token = self._active.set(session)
            try:
                yield session
            finally:
                self._active.reset(token)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._relaxed_engine is not None:
            self._relaxed_engine.dispose()


def init_app(app: Flask) -> Database:
    db = Database(app.config["DATABASE_URL"])
    app.extensions["db"] = db
    return db


def current_db() -> Database:
    db: Database = current_app.extensions["db"]
    return db
