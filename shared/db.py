"""Database engines, sessions and the unit of work.

SQLite is the embedded default and PostgreSQL the deployed one; the same code
runs on both. Writes to SQLite begin with ``BEGIN IMMEDIATE`` so that two
writers queue on the lock instead of failing half-way through a transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
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
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        options = conn.get_execution_options()
        # Each transaction states its durability: FULL syncs the WAL on every commit.
        conn.exec_driver_sql(f"PRAGMA synchronous={options.get('sqlite_synchronous', 'FULL')}")
        conn.exec_driver_sql("BEGIN " + options.get("sqlite_begin", ""))

    return engine


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
