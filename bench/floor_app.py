"""Row a's floor: the least a durable webhook must do, in an app of a few lines.

Each request is checked as the real one is (the Standard Webhooks signature, the JSON,
the recruitment schema's validation of the involvement) and then writes four rows in one
durable SQLite transaction, into the tables the real webhook writes (``receipts``,
``citizens``, ``involvements`` and ``outbox``) of a recruitment database that row a has
just filled: WAL, ``synchronous=FULL``, ``BEGIN IMMEDIATE`` after the writer lock, as
``shared/db.py`` does. Each row is a copy of one the real service wrote, with
fresh values in its unique columns; a table's integer key is left to the database. On
PostgreSQL the same rows, in one transaction committed durably.

``FLOOR_DRIVER`` says through what: ``driver`` (sqlite3 or psycopg alone, on a
connection set up as ``shared/db.py`` sets them up) or ``core`` (SQLAlchemy Core on
``shared/db.py``'s engine: a connection, and one ``INSERT`` a table).
Run under the bare app's gunicorn command, beside it and the real service, so that the
three are measured in one run on one machine (bench/run.py, row a).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, request

from services.recruitment.api import SCHEMAS
from shared import jsonbody
from shared.db import make_engine
from shared.ids import new_id
from shared.webhooks import verify
from shared.writer_lock import WRITER_LOCK_SUFFIX, WriterLock

# The tables the real webhook writes.
TABLES = ("citizens", "involvements", "outbox", "receipts")


def _templates(engine: sa.Engine) -> list[tuple[sa.Table, dict[str, Any], list[str]]]:
    """Each table, a row of it, and the text columns a copy must change."""
    metadata = sa.MetaData()
    metadata.reflect(engine, only=TABLES)
    templates = []
    with engine.connect() as connection:
        for name in TABLES:
            table = metadata.tables[name]
            last = connection.execute(sa.select(table).limit(1)).mappings().one()
            unique = {column.name for constraint in table.constraints
                      if isinstance(constraint, sa.PrimaryKeyConstraint | sa.UniqueConstraint)
                      for column in constraint.columns}
            integer_keys = {c.name for c in table.primary_key.columns
                            if isinstance(c.type, sa.Integer)}
            row = {k: v for k, v in last.items() if k not in integer_keys}
            templates.append((table, row, sorted(unique - integer_keys)))
    return templates


def _copies(templates: list[tuple[sa.Table, dict[str, Any], list[str]]]
            ) -> list[tuple[sa.Table, dict[str, Any]]]:
    fresh = new_id()
    return [(table, {**row, **{name: f"{fresh}-{name}" for name in changed}})
            for table, row, changed in templates]


def _driver_writer(engine: sa.Engine,
                   templates: list[tuple[sa.Table, dict[str, Any], list[str]]]
                   ) -> Callable[[], None]:
    # The driver's own connection (sqlite3's or psycopg's), set up as shared/db.py sets
    # up every connection, used without SQLAlchemy.
    connection = engine.raw_connection()
    sqlite = engine.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    inserts = {table.name: f"INSERT INTO {table.name} ({', '.join(row)}) VALUES "
               f"({', '.join([mark] * len(row))})" for table, row, _ in templates}
    lock = None
    if sqlite:
        connection.cursor().execute("PRAGMA synchronous=FULL")
        lock = WriterLock(Path(str(engine.url.database) + WRITER_LOCK_SUFFIX))

    def write() -> None:
        cursor = connection.cursor()
        if lock is not None:
            lock.take()
        try:
            if sqlite:
                cursor.execute("BEGIN IMMEDIATE")
            try:
                for table, row in _copies(templates):
                    cursor.execute(inserts[table.name], [
                        v.isoformat(" ") if sqlite and hasattr(v, "isoformat") else v
                        for v in row.values()])
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
        finally:
            if lock is not None:
                lock.release()

    return write


def _core_writer(engine: sa.Engine, templates: list[tuple[sa.Table, dict[str, Any], list[str]]]
                 ) -> Callable[[], None]:
    writing = engine.execution_options(sqlite_begin="IMMEDIATE", sqlite_synchronous="FULL")

    def write() -> None:
        with writing.begin() as connection:
            for table, row in _copies(templates):
                connection.execute(sa.insert(table), row)

    return write


def create_app() -> Flask:
    url, secret = os.environ["FLOOR_DATABASE_URL"], os.environ["FLOOR_SECRET"]
    engine = make_engine(url)
    templates = _templates(engine)
    chosen = os.environ.get("FLOOR_DRIVER", "driver")
    write = (_driver_writer if chosen == "driver" else _core_writer)(engine, templates)
    app = Flask("floor")

    @app.post("/v1/webhooks/<integration>")
    def receive(integration: str) -> tuple[dict[str, str], int]:
        body = request.get_data()
        verify([secret], body, dict(request.headers))
        payload = jsonbody.loads(body)
        SCHEMAS.load_for(payload["type"], payload["data"])
        write()
        return {"status": "accepted"}, 202

    return app
