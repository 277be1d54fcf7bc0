"""Throwaway databases: a SQLite file, or a fresh PostgreSQL database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@contextmanager
def database(backend: str, directory: Path, name: str) -> Iterator[str]:
    """Yield the URL of an empty database, and drop it afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / (name + '.db')}"
        return
    admin_url = make_url(os.environ["TEST_DATABASE_URL"])
    db_name = f"ladder_test_{name}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{db_name}"')
    try:
        yield admin_url.set(database=db_name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.dispose()
