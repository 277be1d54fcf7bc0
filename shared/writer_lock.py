"""SQLite's writers queue on a file lock, and the next one goes the moment it is free.

SQLite lets one connection write at a time. A connection that finds the write lock
taken calls its busy handler, which sleeps and tries again, after 1, 2, 5, 10, 15, 20,
25, 25, 25, 50, 50 and then every 100 milliseconds (SQLite's default busy handler,
which ``PRAGMA busy_timeout`` installs). A writer that has waited a little sleeps on
long after the lock is free. With two web workers, or a follower beside the ledger's
writers, that sleep was most of a write's time (docs/performance.md).

Each write transaction (``BEGIN IMMEDIATE``) first takes an exclusive ``flock(2)`` on
a file beside the database, ``<database>-writer``, through its own connection's open
file, and gives it back when that connection returns to the pool, just after its
commit or rollback. The kernel wakes the next waiter when it is released, and releases
it when its process dies, however it dies. SQLite's own lock stays as it was; the file
lock only orders who asks for it. A program that does not take the file lock (the
``sqlite3`` shell) is still kept out by SQLite's, and waits as before.

Nothing in Ladder opens a second write transaction on a database while its thread
holds one: a unit of work opened inside another joins it (``Database.writing``).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any

WRITER = "writer_lock"
WRITER_LOCK_SUFFIX = "-writer"


class WriterLock:
    """One pooled connection's hold on its database's writer lock."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.held = False

    def take(self) -> None:
        if not self.held:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
            self.held = True

    def release(self) -> None:
        if self.held:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            self.held = False

    def close(self) -> None:
        self.held = False
        os.close(self.fd)


def writer_lock(info: dict[str, Any], path: Path) -> WriterLock:
    """The lock of the connection whose ``info`` this is, opened on its first write."""
    lock = info.get(WRITER)
    if lock is None:
        lock = info[WRITER] = WriterLock(path)
    assert isinstance(lock, WriterLock)
    return lock


def release(info: dict[str, Any]) -> None:
    """Give back the lock, if the connection whose ``info`` this is holds it."""
    lock = info.get(WRITER)
    if isinstance(lock, WriterLock):
        lock.release()
