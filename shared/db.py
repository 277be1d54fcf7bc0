"""Database engines, sessions and the unit of work.

SQLite is the embedded default and PostgreSQL the deployed one; the same code
runs on both. Writes to SQLite begin with ``BEGIN IMMEDIATE`` so that two
writers queue on the lock instead of failing half-way through a transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from operator import itemgetter
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import (
    BindParameter,
    Connection,
    Engine,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.dml import UpdateBase

STAGED = "staged"
# ``column.in_(KEYS)``, with {"keys": [...]} given at execution: a statement that
# compiles once and is cached, whatever the list, instead of a bound parameter
# built per value on every call.
KEYS: BindParameter[Any] = bindparam("keys", expanding=True)


# How long a SQLite connection waits for another's lock before it gives up.
BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, **kwargs: Any) -> Engine:
    # An error's message leaves the values out: a citizen's lookup or salt in a log line
    # would outlive their erasure.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # psycopg prepares a statement run five times, and PostgreSQL may then keep a
        # generic plan made while a table was still small: a sequential scan that
        # stays as the ledger grows. Each statement is planned with its values.
        args = {"prepare_threshold": None} if parsed.get_driver_name() == "psycopg" else {}
        return create_engine(url, pool_pre_ping=True, connect_args=args, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
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
        # Each transaction states its durability: FULL syncs the WAL on every commit.
        conn.exec_driver_sql(f"PRAGMA synchronous={options.get('sqlite_synchronous', 'FULL')}")
        conn.exec_driver_sql("BEGIN " + options.get("sqlite_begin", ""))

    return engine


FEW = 20


def executemany(connection: Connection, statement: UpdateBase,
                rows: list[dict[str, Any]]) -> None:
    """Run one INSERT, UPDATE or DELETE for many rows (all with the same keys) at once.

    The statement is compiled once and its rows go straight to the driver's
    ``executemany``, each value through its column type's bind processor (SQLite
    keeps datetimes as text). SQLAlchemy's own executemany builds its parameters
    row by row with much more machinery, which is most of the cost of a
    ten-thousand-row batch.
    """
    if not rows:
        return
    if len(rows) < FEW:
        # Compiling costs more than a few rows do: SQLAlchemy's path has a cache.
        connection.execute(statement, rows)
        return
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(rows[0]))
    names = list(compiled.positiontup or ()) if dialect.positional else list(compiled.binds)
    processors = [compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                  for name in names]
    convert = [(i, f) for i, f in enumerate(processors) if f is not None]
    pick = itemgetter(*names)
    values: list[Any] = [pick(row) for row in rows]
    if len(names) == 1:
        values = [(v,) for v in values]
    if convert:
        changed = [list(v) for v in values]
        for v in changed:
            for i, f in convert:
                v[i] = f(v[i])
        values = [tuple(v) for v in changed]
    params: list[Any] = (values if dialect.positional
                         else [dict(zip(names, v, strict=True)) for v in values])
    connection.exec_driver_sql(compiled.string, params)


def stage(session: Session, table: Table, row: dict[str, Any]) -> None:
    """Insert ``row`` into ``table`` with the unit of work, in bulk with its like.

    The ORM's unit of work costs more per row than building the row does: a
    batch of a thousand events would spend most of its time there. Staged rows
    go in as one ``executemany`` per table, just before the session's next query
    (which so sees them, as it would see ORM objects it autoflushes) or at the
    commit, after the ORM's own objects (which they may refer to).
    """
    session.info.setdefault(STAGED, {}).setdefault(table, []).append(row)


def _insert_staged(session: Session) -> None:
    staged: dict[Table, list[dict[str, Any]]] = session.info.pop(STAGED, None) or {}
    if not staged:
        return
    session.flush()
    connection = session.connection()
    for table, rows in staged.items():
        executemany(connection, insert(table), rows)


def _before_query(state: ORMExecuteState) -> None:
    _insert_staged(state.session)


class Database:
    """One service's engine and session factories, kept in ``app.extensions``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )
        # Survives a crash of the process, not of the machine: for records (the
        # access log) whose cost must not be an fsync per read.
        self._write_relaxed = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE", sqlite_synchronous="NORMAL"),
            expire_on_commit=False)
        for factory in (self._read, self._write, self._write_relaxed):
            event.listen(factory, "do_orm_execute", _before_query)
            event.listen(factory, "before_commit", _insert_staged)
        self._active: ContextVar[Session | None] = ContextVar(f"uow_{id(self)}", default=None)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def writing(self, durable: bool = True) -> Iterator[Session]:
        """A unit of work: everything inside commits together or not at all.

        A unit of work opened inside another joins it, so several use cases (a
        batch of events, an effect and its webhook receipt) commit as one.
        ``durable=False`` commits without waiting for the disk: the transaction is
        still atomic and survives the process dying, but a power cut may lose it
        (SQLite ``synchronous=NORMAL`` in WAL mode, PostgreSQL ``synchronous_commit
        off``).
        """
        active = self._active.get()
        if active is not None:
            yield active
            return
        factory = self._write if durable else self._write_relaxed
        with factory() as session, session.begin():
            if not durable and self.engine.dialect.name == "postgresql":
                session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            token = self._active.set(session)
            try:
                yield session
            finally:
                self._active.reset(token)

    def dispose(self) -> None:
        self.engine.dispose()


def init_app(app: Flask) -> Database:
    db = Database(app.config["DATABASE_URL"])
    app.extensions["db"] = db
    return db


def current_db() -> Database:
    db: Database = current_app.extensions["db"]
    return db
