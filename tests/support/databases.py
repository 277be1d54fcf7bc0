"""Throwaway databases: a SQLite file, or a fresh PostgreSQL database per test.

A migrated database is a copy of a template that Alembic migrated once per test process
(a copied SQLite file; PostgreSQL's CREATE DATABASE ... TEMPLATE): running every
migration again for each test would cost more than most tests do.
"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from shared.migrations import upgrade

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def _admin() -> sa.Engine:
    return sa.create_engine(make_url(os.environ["TEST_DATABASE_URL"]),
                            isolation_level="AUTOCOMMIT")


def _url(db_name: str) -> str:
    return (make_url(os.environ["TEST_DATABASE_URL"]).set(database=db_name)
            .render_as_string(hide_password=False))


@contextmanager
def _postgresql(name: str, template: str | None = None) -> Iterator[str]:
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
    try:
        yield _url(db_name)
    finally:
        _DROPS.put(db_name)


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


@contextmanager
def migrated(backend: str, directory: Path, name: str, service: str) -> Iterator[str]:
    """Yield the URL of a database holding ``service``'s schema at its latest revision, and
    drop it afterwards."""
    template = _TEMPLATES.get(backend, service)
    if backend == "sqlite":
        path = directory / (name + ".db")
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    with _postgresql(name, template) as url:
        yield url


def finish() -> None:
    """Drop what is left: the databases still being dropped, and the templates."""
    _DROPS.finish()
    _TEMPLATES.drop()


def url_template(server: URL, database: str) -> str:
    """LADDER_DATABASE_URL_TEMPLATE on ``server``: ``database`` holds ``{service}``.

    SQLAlchemy (2.1) renders a URL with the braces escaped, which the template's
    ``{service}`` must not be: they are put back."""
    rendered = server.set(database=database).render_as_string(hide_password=False)
    return rendered.replace("%7Bservice%7D", "{service}")
