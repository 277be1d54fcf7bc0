"""Throwaway databases: a SQLite file, or a PostgreSQL database of the test's own.

A migrated database is a copy of a template that Alembic migrated once per test process
(a copied SQLite file; PostgreSQL's CREATE DATABASE ... TEMPLATE): running every
migration again for each test would cost more than most tests do.

On PostgreSQL a migrated database is then reused: a test gives it back, and the next
test of the process gets it emptied to what the template holds (its seed rows, its
sequences). Creating and dropping one per test costs more than the tests: PostgreSQL 15
forces an immediate checkpoint of the whole server at every DROP DATABASE, and copies
every page of the template into its write-ahead log at every CREATE DATABASE. A
database whose schema or settings a test changed is dropped instead, never reused.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from shared.db import Database
from shared.migrations import upgrade

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
# The end-to-end tests whose subject does not hang on the database (a page in a browser,
# the README's steps, what the logs hold) run on one, the storage being tested on both
# by the rest: LOCAL is what `make run` uses with nothing configured, and DEPLOYED what
# docker-compose deploys (PostgreSQL, where the suite has one).
LOCAL = BACKENDS[:1]
DEPLOYED = BACKENDS[-1:]


def _admin() -> sa.Engine:
    return sa.create_engine(make_url(os.environ["TEST_DATABASE_URL"]),
                            isolation_level="AUTOCOMMIT")


def _url(db_name: str) -> str:
    return (make_url(os.environ["TEST_DATABASE_URL"]).set(database=db_name)
            .render_as_string(hide_password=False))


@contextmanager
def _postgresql(name: str, template: str | None = None) -> Iterator[str]:
    db_name = _create(name, template)
    try:
        yield _url(db_name)
    finally:
        _DROPS.put(db_name)


def _create(name: str, template: str | None = None) -> str:
    """CREATE DATABASE, from ``template`` if given: its name."""
    db_name = f"ladder_test_{name}_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    clause = f' TEMPLATE "{template}"' if template else ""
    # A template may not be copied while anyone is connected to it; nobody is, but the
    # migration's own connection may take a moment to go.
    for attempt in range(50):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{db_name}"{clause}')
            break
        except sa.exc.OperationalError as exc:
            if "is being accessed by other users" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)
    admin.dispose()
    return db_name


class _Dropper(threading.Thread):
    """Drops finished tests' databases behind them: a DROP DATABASE waits on the server's
    disk, and the next test need not wait with it. The process waits for the last at exit."""

    def __init__(self) -> None:
        super().__init__(name="drop-test-databases", daemon=True)
        self.names: queue.Queue[str | None] = queue.Queue()
        self.started = False
        atexit.register(self.finish)

    def put(self, db_name: str) -> None:
        if not self.started:
            self.started = True
            self.start()
        self.names.put(db_name)

    def run(self) -> None:
        admin = _admin()
        while (db_name := self.names.get()) is not None:
            try:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            except sa.exc.SQLAlchemyError as exc:
                print(f"could not drop the test database {db_name}: {exc}", file=sys.stderr)
        admin.dispose()

    def finish(self) -> None:
        if self.started and self.is_alive():
            self.names.put(None)
            self.join()


_DROPS = _Dropper()


@contextmanager
def database(backend: str, directory: Path, name: str) -> Iterator[str]:
    """Yield the URL of an empty database, and drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / (name + '.db')}"
        return
    with _postgresql(name) as url:
        yield url


class _Templates:
    """One database per (backend, service), migrated to the latest revision, for this
    process; dropped when it exits."""

    def __init__(self) -> None:
        self.made: dict[tuple[str, str], str] = {}
        self.directory: Path | None = None
        self.postgresql: list[str] = []
        atexit.register(self.drop)

    def get(self, backend: str, service: str) -> str:
        """The SQLite file, or the PostgreSQL database name, of the template."""
        if (backend, service) not in self.made:
            if backend == "sqlite":
                if self.directory is None:
                    self.directory = Path(tempfile.mkdtemp(prefix="ladder-templates-"))
                path = self.directory / f"{service}.db"
                upgrade(service, f"sqlite:///{path}")
                self.made[backend, service] = str(path)
            else:
                db_name = f"ladder_template_{service}_{uuid.uuid4().hex[:8]}"
                admin = _admin()
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'CREATE DATABASE "{db_name}"')
                admin.dispose()
                self.postgresql.append(db_name)
                upgrade(service, _url(db_name))
                self.made[backend, service] = db_name
        return self.made[backend, service]

    def drop(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
        self.made.clear()
        if self.postgresql:
            admin = _admin()
            with admin.connect() as conn:
                for db_name in self.postgresql:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            admin.dispose()
            self.postgresql.clear()


_TEMPLATES = _Templates()


# What a test may change and a TRUNCATE would not undo: the schema (tables, columns,
# indexes, constraints, triggers, functions) and the database's own settings.
_SHAPE = """
    SELECT md5(concat_ws('|',
      (SELECT string_agg(c.relname || ':' || c.relkind::text || ':' || a.attname || ':'
                         || format_type(a.atttypid, a.atttypmod) || ':' || a.attnotnull::text || ':'
                         || coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
                         ',' ORDER BY c.relname, a.attnum)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')),
      (SELECT string_agg(indexdef, ',' ORDER BY indexdef) FROM pg_indexes
        WHERE schemaname NOT IN ('pg_catalog', 'information_schema')),
      (SELECT string_agg(conname || pg_get_constraintdef(oid), ',' ORDER BY conname)
         FROM pg_constraint WHERE connamespace NOT IN (
           SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema'))),
      (SELECT string_agg(tgname || tgrelid::regclass::text, ',' ORDER BY tgname)
         FROM pg_trigger WHERE NOT tgisinternal),
      (SELECT string_agg(p.proname, ',' ORDER BY p.proname)
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')),
      (SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace),
      (SELECT datallowconn::text || ':' || datconnlimit::text || ':' || coalesce(datacl::text, '')
         FROM pg_database WHERE datname = current_database()),
      (SELECT string_agg(array_to_string(setconfig, ','), ';') FROM pg_db_role_setting
        WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()))
    ))"""
_SEQUENCES = "SELECT relname FROM pg_class WHERE relkind = 'S' ORDER BY relname"


class _Contents:
    """A template's shape, and what its tables and sequences hold, to empty a copy to."""

    def __init__(self, db_name: str) -> None:
        engine = sa.create_engine(_url(db_name))
        with engine.connect() as conn:
            self.shape = conn.exec_driver_sql(_SHAPE).scalar()
            # Referring tables before the tables they refer to, for the reset's DELETEs.
            schema = sa.MetaData()
            schema.reflect(conn)
            self.tables = [t.name for t in reversed(schema.sorted_tables)
                           if t.name != "alembic_version"]
            self.rows: dict[str, bytes] = {}
            cursor = conn.connection.driver_connection.cursor()
            for table in self.tables:
                with cursor.copy(f'COPY "{table}" TO STDOUT') as copy:
                    data = b"".join(bytes(block) for block in copy)
                if data:
                    self.rows[table] = data
            self.sequences = {name: tuple(conn.exec_driver_sql(
                f'SELECT last_value, is_called FROM "{name}"').one())
                for name in conn.exec_driver_sql(_SEQUENCES).scalars()}
        engine.dispose()

    def reset(self, db_name: str) -> bool:
        """Empty ``db_name`` to the template's contents; False if it is not the template's
        shape any more (a test changed it), and so cannot be."""
        engine = sa.create_engine(_url(db_name))
        try:
            with engine.begin() as conn:
                if conn.exec_driver_sql(_SHAPE).scalar() != self.shape:
                    return False
                # DELETE, not TRUNCATE: a test's few rows go in a few ms, where TRUNCATE
                # makes every table's and index's files anew (34 ms for the ledger's).
                for table in self.tables:
                    conn.exec_driver_sql(f'DELETE FROM "{table}"')
                cursor = conn.connection.driver_connection.cursor()
                for table, data in self.rows.items():
                    with cursor.copy(f'COPY "{table}" FROM STDIN') as copy:
                        copy.write(data)
                for name, (value, called) in self.sequences.items():
                    conn.execute(sa.text("SELECT setval(CAST(:name AS regclass), :value, "
                                         ":called)"),
                                 {"name": f'"{name}"', "value": value, "called": called})
            return True
        finally:
            engine.dispose()


class _Pool:
    """The migrated PostgreSQL databases of this process that no test is using."""

    def __init__(self) -> None:
        self.free: dict[str, list[str]] = defaultdict(list)
        self.contents: dict[str, _Contents] = {}

    @contextmanager
    def use(self, name: str, service: str) -> Iterator[str]:
        template = _TEMPLATES.get("postgresql", service)
        if service not in self.contents:
            self.contents[service] = _Contents(template)
        db_name = self.free[service].pop() if self.free[service] else _create(name, template)
        try:
            yield _url(db_name)
        finally:
            self._give_back(service, db_name)

    def _give_back(self, service: str, db_name: str) -> None:
        admin = _admin()
        try:
            with admin.connect() as conn:
                # Whatever the test left connected (a killed process's sessions end by
                # themselves, but not at once); then nothing holds a lock the reset needs.
                conn.execute(sa.text(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": db_name})
        finally:
            admin.dispose()
        try:
            reusable = self.contents[service].reset(db_name)
        except sa.exc.SQLAlchemyError as exc:
            print(f"could not reset the test database {db_name}, so it is dropped: {exc}",
                  file=sys.stderr)
            reusable = False
        if reusable:
            self.free[service].append(db_name)
        else:
            _DROPS.put(db_name)

    def drop(self) -> None:
        for names in self.free.values():
            for db_name in names:
                _DROPS.put(db_name)
        self.free.clear()


_POOL = _Pool()


@contextmanager
def migrated(backend: str, directory: Path, name: str, service: str) -> Iterator[str]:
    """Yield the URL of a database holding ``service``'s schema at its latest revision and
    nothing else, for this test alone."""
    if backend == "sqlite":
        path = directory / (name + ".db")
        shutil.copyfile(_TEMPLATES.get(backend, service), path)
        yield f"sqlite:///{path}"
        return
    with _POOL.use(name, service) as url:
        yield url


@contextmanager
def unused(backend: str, directory: Path, name: str, service: str) -> Iterator[str]:
    """As ``migrated``, but on PostgreSQL a database no test has used before: a copy of the
    migrated template, dropped afterwards, so that nothing another test left (table sizes,
    the planner's statistics) is in it. A second or so more than a pooled one."""
    if backend == "sqlite":
        with migrated(backend, directory, name, service) as url:
            yield url
        return
    with _postgresql(name, _TEMPLATES.get("postgresql", service)) as url:
        yield url


def finish() -> None:
    """Drop what is left: the databases kept for reuse, those still being dropped, and
    the templates."""
    _POOL.drop()
    _DROPS.finish()
    _TEMPLATES.drop()


def contents(db: Database) -> dict[str, tuple[int, str]]:
    """Each table's row count and a digest of its rows, in any order: equal before and
    after a request that wrote nothing. Counts alone would miss a row changed in place,
    or one added where another went, on a database that other tests have written to."""
    with db.reading() as session:
        conn = session.connection()
        found = {}
        for table in sa.inspect(conn).get_table_names():
            rows = sorted(repr(tuple(row))
                          for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')))
            found[table] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
        return found


def url_template(server: URL, database: str) -> str:
    """LADDER_DATABASE_URL_TEMPLATE on ``server``: ``database`` holds ``{service}``.

    SQLAlchemy (2.1) renders a URL with the braces escaped, which the template's
    ``{service}`` must not be: they are put back."""
    rendered = server.set(database=database).render_as_string(hide_password=False)
    return rendered.replace("%7Bservice%7D", "{service}")
