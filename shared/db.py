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
from sqlalchemy import Engine, create_engine, event
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
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN " + conn.get_execution_options().get("sqlite_begin", ""))

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
        self._active: ContextVar[Session | None] = ContextVar(f"uow_{id(self)}", default=None)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A unit of work: everything inside commits together or not at all.

        A unit of work opened inside another joins it, so several use cases (a
        batch of events, an effect and its webhook receipt) commit as one.
        """
        active = self._active.get()
        if active is not None:
            yield active
            return
        with self._write() as session, session.begin():
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
