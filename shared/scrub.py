"""Making deleted rows unrecoverable from a database's own files, as far as Ladder can.

A committed DELETE does not take a row off the disk:

- **SQLite** keeps the page as it was in the earlier frames of the write-ahead log
  until a checkpoint, and a checkpoint rewinds the log without shortening it. Every
  connection has ``secure_delete`` on (shared/db.py), so the row's bytes are zeroed in
  its page, and so is any copy a B-tree split or a rebuild moved away before; then
  ``wal_checkpoint(TRUNCATE)`` copies the pages into the database file and empties the
  log, once no reader still needs it.
- **PostgreSQL** marks the tuple dead and leaves it in the heap and the index, and the
  write-ahead log holds its insert and full-page images of its page (the DELETE writes
  one more). ``VACUUM (FULL)`` writes the table and its indexes anew without dead
  tuples, but keeps any a still-open transaction could see, so it waits first for every
  transaction begun before the erasure to end. ``pg_statistic`` is rewritten the same
  way: the planner's statistics sample column values, and rows of statistics gathered
  before migration 0004 stopped sampling lookups and salts stay in its files (in its
  TOAST table) for as long as any rewrite keeps them, and one that ran while a
  transaction was open anywhere on the server kept them. ``pg_switch_wal()`` closes the
  log segment that holds all this, and ``CHECKPOINT`` removes it: deletes it when the
  server has ``wal_recycle`` off, and otherwise renames it for reuse with its contents
  intact.

What is beyond reach, and docs/operations.md lists: backups, WAL archives, standbys,
and the filesystem's free blocks, where a deleted file's contents stay until reused.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from shared.db import BUSY_TIMEOUT_MS, Database

log = logging.getLogger(__name__)

T = TypeVar("T")

# Seconds a scrub waits, once per server (and per SQLite file), for readers and
# transactions begun before it: an erasure of every area is one HTTP request, which
# gunicorn gives 30 s.
WAIT = 5.0

# What PostgreSQL needs so that a checkpoint leaves no old log segment with the row in
# it, and why. docker-compose.yml's postgres sets each (tests/unit/test_compose.py).
POSTGRES_SETTINGS = {
    "wal_recycle": ("off", "old WAL segments are renamed for reuse, not deleted, and keep "
                           "the erased rows until they are overwritten"),
    "archive_mode": ("off", "the WAL archive keeps the erased rows, and pg_wal keeps each "
                            "segment until it is archived"),
    "wal_keep_size": ("0", "pg_wal keeps the most recent WAL, with the erased rows"),
}

LOCK_NOT_AVAILABLE = "55P03"
# Who holds VACUUM's horizon below the erasure, and in which database (none: in every
# one). A session's transaction ID counts in any database: PostgreSQL leaves other
# databases' sessions out of a table's horizon, but every snapshot taken here while one
# runs, VACUUM (FULL)'s own included, has an xmin no newer than it
# (tests/integration/test_citizen_erasure.py shows it). A session's snapshot (its xmin)
# counts in its own database only, or in all if it has none (a WAL sender's).
_OLDER = sa.text("""
    SELECT 'session ' || pid,
           CASE WHEN age(backend_xid) > age(xid(CAST(:since AS xid8))) THEN NULL
                ELSE datname END
      FROM pg_stat_activity
     WHERE pid <> pg_backend_pid()
       AND (age(backend_xid) > age(xid(CAST(:since AS xid8)))
            OR age(backend_xmin) > age(xid(CAST(:since AS xid8))))
    UNION ALL SELECT 'prepared transaction ' || gid, NULL FROM pg_prepared_xacts
     WHERE age(transaction) > age(xid(CAST(:since AS xid8)))
    UNION ALL SELECT 'replication slot ' || slot_name, NULL FROM pg_replication_slots
     WHERE age(xmin) > age(xid(CAST(:since AS xid8)))
        OR age(catalog_xmin) > age(xid(CAST(:since AS xid8)))""")

# Which server a connection reached, as the server says: URLs that differ only in the
# database may reach different servers (a pooler such as PgBouncer routes by database),
# and the WAL and the checkpoint are each server's own.
_SERVER = sa.text("SELECT current_database(), inet_server_addr(), inet_server_port(), "
                  "pg_postmaster_start_time()")
_SINCE = sa.text("SELECT pg_snapshot_xmax(pg_current_snapshot())")


# Rewritten with the table on PostgreSQL: where the planner keeps samples of its columns.
# Only rows gathered before migration 0004 can hold a lookup or a salt there: where the
# services may not rewrite it, that is logged, not reported (0004 logged it too).
STATISTICS = "pg_statistic"

# Per database: why its scrub is not complete (nothing if it is), or the error that
# stopped it.
Outcome = list[str] | sa.exc.SQLAlchemyError


def scrub(databases: Mapping[str, Database], table: str, wait: float = WAIT
          ) -> dict[str, Outcome]:
    """Scrub what has been deleted from ``table`` in each database, by name.

    The databases on one PostgreSQL server share one wait for the transactions begun
    before, and one switch of the WAL and one checkpoint, which are the server's; SQLite
    files are checkpointed at the same time, each on a thread of its own. Either way an
    erasure of every area waits ``wait`` at most for older transactions on each server,
    not once per area; each rewrite may then wait as long again for its table's lock.
    """
    files = {name: db for name, db in databases.items() if db.engine.dialect.name == "sqlite"}
    outcomes: dict[str, Outcome] = {}
    with ThreadPoolExecutor(max_workers=max(len(files), 1)) as threads, ExitStack() as opened:
        checkpoints = {name: threads.submit(_sqlite, db, wait) for name, db in files.items()}
        servers: dict[tuple[Any, ...], dict[str, tuple[Connection, str]]] = {}
        for name, db in databases.items():
            if name in files:
                continue
            try:
                connection = opened.enter_context(db.engine.connect())
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
                database, *server = connection.execute(_SERVER).one()
            except sa.exc.SQLAlchemyError as exc:
                outcomes[name] = exc
                continue
            servers.setdefault(tuple(server), {})[name] = (connection, str(database))
        for group in servers.values():
            outcomes.update(_postgresql(group, table, wait))
        for name, checkpoint in checkpoints.items():
            try:
                outcomes[name] = checkpoint.result()
            except sa.exc.SQLAlchemyError as exc:
                outcomes[name] = exc
    return {name: outcomes[name] for name in databases}


def _sqlite(db: Database, wait: float) -> list[str]:
    # The driver's own connection: SQLAlchemy's would begin a transaction, and a
    # checkpoint runs outside one.
    checkpoint = "PRAGMA wal_checkpoint(TRUNCATE)"
    try:
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            # The busy handler retries the checkpoint until no reader needs the log any
            # more: as long as an erasure may wait, then the usual timeout again.
            cursor.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
            try:
                busy, _, _ = cursor.execute(checkpoint).fetchone()
            finally:
                cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                cursor.close()
        finally:
            connection.close()
    except sqlite3.Error as exc:  # as SQLAlchemy's would have raised it
        raise sa.exc.DBAPIError.instance(checkpoint, None, exc, sqlite3.Error) from exc
    if busy:
        return [f"the write-ahead log could not be emptied: a reader or writer kept it busy "
                f"for {wait:g} s, and it still holds the erased rows; erase again to finish"]
    return []


def _postgresql(group: Mapping[str, tuple[Connection, str]], table: str, wait: float
                ) -> dict[str, Outcome]:
    """Scrub the databases of one server (each area's connection and database): wait for
    what began before, rewrite each database's table, then close and remove the
    server's WAL that held the rows."""
    connections = {name: connection for name, (connection, _) in group.items()}
    databases = {database for _, database in group.values()}
    try:
        held = _on_any(connections.values(), lambda connection: _wait_for(
            connection, str(connection.scalar(_SINCE)), databases, wait))
    except sa.exc.SQLAlchemyError as exc:
        return dict.fromkeys(group, exc)
    outcomes: dict[str, Outcome] = {}
    for name, (connection, database) in group.items():
        older = held[database]
        if older:
            # The rewrite would keep the rows for them, and wait for their locks.
            outcomes[name] = [
                f"transactions begun before the erasure were still open after {wait:g} s "
                f"({', '.join(older)}): they could still read the erased rows, so "
                f"{table} was not rewritten; erase again once they have ended"]
            continue
        try:
            outcomes[name] = [*_rewrite(connection, table, wait),
                              *_rewrite(connection, STATISTICS, wait, required=False)]
        except sa.exc.SQLAlchemyError as exc:
            outcomes[name] = exc
    scrubbed = {name: reasons for name, reasons in outcomes.items() if isinstance(reasons, list)}
    if not scrubbed:
        return outcomes
    try:
        server = _on_any([connections[name] for name in scrubbed], _remove_wal)
    except sa.exc.SQLAlchemyError as exc:
        return {**outcomes, **dict.fromkeys(scrubbed, exc)}
    return {**outcomes, **{name: [*reasons, *server] for name, reasons in scrubbed.items()}}


def _on_any(connections: Iterable[Connection], step: Callable[[Connection], T]) -> T:
    """``step`` on the first of the server's connections that can run it: one
    database's fault (its own timeout, a dropped session) is not the server's."""
    failed: sa.exc.SQLAlchemyError | None = None
    for connection in connections:
        try:
            return step(connection)
        except sa.exc.SQLAlchemyError as exc:
            failed = exc
    if failed is None:
        raise ValueError("no connection to run it on")
    raise failed


def _remove_wal(connection: Connection) -> list[str]:
    """Close the server's WAL segment and remove the old ones: why it could not, if not."""
    reasons = []
    written = connection.scalar(sa.text("SELECT pg_current_wal_lsn()"))
    for statement, who in (("SELECT pg_switch_wal()", "a superuser, or a role granted "
                            "EXECUTE on pg_switch_wal()"),
                           ("CHECKPOINT", "a superuser or a member of pg_checkpoint")):
        try:
            connection.exec_driver_sql(statement)
        except sa.exc.ProgrammingError as exc:
            log.warning("scrub: %s refused: %s", statement, str(exc.orig).splitlines()[0])
            reasons.append(f"not allowed to run {statement} (it takes {who}): pg_wal keeps "
                           "the erased rows until later checkpoints remove them")
    for name, (wanted, why) in POSTGRES_SETTINGS.items():
        value = connection.scalar(sa.text("SELECT current_setting(:name)"), {"name": name})
        if value != wanted:
            reasons.append(f"the server has {name} = {value}: {why}")
    slots = connection.scalars(sa.text(
        "SELECT slot_name FROM pg_replication_slots WHERE restart_lsn <= CAST(:lsn AS pg_lsn)"),
        {"lsn": written}).all()
    if slots:
        reasons.append(f"replication slots keep the WAL with the erased rows: "
                       f"{', '.join(slots)}")
    standbys = connection.scalar(sa.text("SELECT count(*) FROM pg_stat_replication"))
    if standbys:
        reasons.append(f"{standbys} standby server(s) receive this WAL and keep their own "
                       "copies, which this server cannot scrub")
    return reasons


def _rewrite(connection: Connection, table: str, wait: float, required: bool = True
             ) -> list[str]:
    """VACUUM (FULL) the table: why it could not, if it could not."""
    filenode = sa.text("SELECT pg_relation_filenode(CAST(:table AS regclass))")
    before = connection.scalar(filenode, {"table": table})
    # The rewrite takes the table to itself: waiting for it, every intake would queue
    # behind it; so it waits no longer than an erasure may.
    connection.exec_driver_sql(f"SET lock_timeout = {int(wait * 1000)}")
    try:
        # Only the table's owner, for a catalog the database's, or a superuser may;
        # anyone else gets a warning.
        connection.exec_driver_sql(f"VACUUM (FULL) {table}")
    except sa.exc.OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        return [f"{table} was in use for {wait:g} s, so it was not rewritten and its file "
                "keeps the erased rows; erase again to finish"]
    finally:
        connection.exec_driver_sql("RESET lock_timeout")
    if connection.scalar(filenode, {"table": table}) != before:
        return []
    who = "its owner" if required else "the database's owner or a superuser"
    why = f"not allowed to VACUUM (FULL) {table}: only {who} may"
    if required:
        return [f"{why}; its file keeps the erased rows"]
    log.warning("scrub: %s; statistics gathered before migration 0004 stay in it", why)
    return []


def _wait_for(connection: Connection, since: str, databases: set[str], wait: float
              ) -> dict[str, list[str]]:
    """Wait until nothing begun before transaction ``since`` is still open in any of the
    ``databases``: what is left, by database."""
    deadline = time.monotonic() + wait
    while True:
        older = connection.execute(_OLDER, {"since": since}).all()
        held = {db: [who for who, where in older if where in (None, db)] for db in databases}
        if not any(held.values()) or time.monotonic() >= deadline:
            return held
        time.sleep(0.05)
