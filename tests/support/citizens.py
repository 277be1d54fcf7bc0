"""Citizens as the tests see them: rows written as the code before rule 2 wrote them,
PostgreSQL set up as docker-compose sets it, and a byte search of files.

The rule-1 formulas are written out here, apart from shared/area/references.py, so
that they say what the old code did rather than what the new code thinks it did.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

# The last revision of the areas' tables before rule 2.
RULE_1_REVISION = "0003"


def _hmac(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Legacy:
    """A citizen recorded under rule 1: the reference trimmed, nothing else."""

    reference: str
    lookup: str
    salt: str
    pseudonym: str


def write_rule_1_citizens(url: str, key: str, references: Iterable[str]) -> dict[str, Legacy]:
    """Rows of citizens recorded before rule 2, in a database at :data:`RULE_1_REVISION`.

    On SQLite they are written with ``secure_delete`` off, as a build without it on by
    default would have, so that B-tree splits may leave copies of them behind.
    """
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect",
                        lambda conn, _: conn.execute("PRAGMA secure_delete=OFF"))
    written = {}
    with engine.begin() as connection:
        for reference in references:
            form = reference.strip()
            salt = secrets.token_hex(16)
            legacy = Legacy(reference, _hmac(key, "lookup:" + form), salt,
                            "p_" + _hmac(key, f"{salt}:{form}")[:32])
            connection.execute(sa.text("INSERT INTO citizens (lookup, salt, created_at) "
                                       "VALUES (:lookup, :salt, :at)"),
                               {"lookup": legacy.lookup, "salt": salt, "at": datetime(2026, 1, 5)})
            written[reference] = legacy
    engine.dispose()
    return written


def lookup(key: str, form: str) -> str:
    """The lookup of a reference already in the form its row was made of."""
    return _hmac(key, "lookup:" + form)


def citizens(url: str) -> dict[str, dict[str, Any]]:
    """Every row of a database's citizens table, by lookup."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT lookup, rule, salt, pseudonym FROM citizens"))
        found = {row.lookup: dict(row._mapping) for row in rows}
    engine.dispose()
    return found


# The advisory lock that test processes take before they change wal_recycle.
WAL_RECYCLE_LOCK = 0x1ADDE2


@contextmanager
def scrubbable_postgres(admin_url: str) -> Iterator[str]:
    """The server as docker-compose runs it: ``wal_recycle`` off (``ALTER SYSTEM`` and a
    reload, undone afterwards if it was on). Yields its data directory.

    Each change waits until the server has reloaded its settings, so that the next
    test reads the setting as it is, not as it was before a reload still pending.
    """
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    # One holder at a time, across test processes: the setting is the whole server's.
    holder = admin.connect()
    holder.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": WAL_RECYCLE_LOCK})
    try:
        was = holder.scalar(sa.text("SHOW wal_recycle"))
        data = str(holder.scalar(sa.text("SHOW data_directory")))
        if was != "off":
            _reload(admin, "ALTER SYSTEM SET wal_recycle = off")
        try:
            yield data
        finally:
            if was != "off":
                _reload(admin, "ALTER SYSTEM RESET wal_recycle")
    finally:
        holder.close()  # the session's advisory lock goes with it
        admin.dispose()


def _reload(admin: sa.Engine, statement: str) -> None:
    """Run ``statement`` and reload the settings; return once a new session has them
    (the postmaster reloads when it gets to it)."""
    with admin.connect() as connection:
        before = connection.scalar(sa.text("SELECT pg_conf_load_time()"))
        connection.exec_driver_sql(statement)
        connection.exec_driver_sql("SELECT pg_reload_conf()")
    for _ in range(200):
        with admin.connect() as connection:
            if connection.scalar(sa.text("SELECT pg_conf_load_time()")) > before:
                return
        time.sleep(0.05)
    raise AssertionError(f"the server did not reload its settings after {statement}")


def files_holding(roots: Iterable[Path], needles: Mapping[str, bytes]) -> list[str]:
    """``what in which file`` for each needle found in a file under ``roots``."""
    found = []
    for root in roots:
        # os.walk passes over a directory removed while it looks (another test's
        # database, dropped): rglob would raise. What it removes held no one of ours.
        for path in sorted(Path(top) / name for top, _, names in os.walk(root) for name in names):
            try:
                content = path.read_bytes()
            except OSError:  # a file removed while we looked (a WAL segment, a temp file)
                continue
            found += [f"{what} in {path}" for what, needle in needles.items()
                      if needle in content]
    return found
