"""SQLite's writer lock (shared/writer_lock.py): held from BEGIN IMMEDIATE to the end of
the transaction, however it ends, never by a read, and let go when its process dies."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.db import Database
from shared.writer_lock import WRITER_LOCK_SUFFIX


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with database.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER NOT NULL)")
    yield database
    database.dispose()


def held(db: Database) -> bool:
    """Whether some connection holds ``db``'s writer lock: another open file of the lock
    file, as another process's would be, cannot take it."""
    fd = os.open(str(db.engine.url.database) + WRITER_LOCK_SUFFIX, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def rows(db: Database) -> list[int]:
    with db.reading() as session:
        return list(session.scalars(text("SELECT x FROM t ORDER BY x")))


def test_a_write_holds_the_lock_until_its_commit(db: Database) -> None:
    assert not held(db)
    with db.writing() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        assert held(db)
        with db.writing() as joined:  # a unit of work inside another joins it
            joined.execute(text("INSERT INTO t VALUES (2)"))
    assert not held(db)
    assert rows(db) == [1, 2]


def test_a_write_that_fails_lets_go_of_the_lock_and_leaves_nothing(db: Database) -> None:
    with pytest.raises(ZeroDivisionError), db.writing() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        assert held(db)
        _ = 1 / 0
    assert not held(db)
    assert rows(db) == []


def test_a_connection_invalidated_mid_write_lets_go_of_the_lock(db: Database) -> None:
    with pytest.raises(RuntimeError), db.writing() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        session.connection().invalidate()
        raise RuntimeError("the connection broke")
    assert not held(db)
    with db.writing() as session:
        session.execute(text("INSERT INTO t VALUES (2)"))
    assert rows(db) == [2]


def test_reads_and_relaxed_writes(db: Database) -> None:
    with db.reading() as session:
        session.execute(text("SELECT count(*) FROM t")).one()
        assert not held(db)
    with db.writing(durable=False) as session:  # still SQLite's one writer: it queues too
        session.execute(text("INSERT INTO t VALUES (1)"))
        assert held(db)
    assert not held(db)


def test_the_next_writer_goes_when_one_commits_in_another_thread(db: Database) -> None:
    inside, done = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with db.writing() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            inside.set()
            done.wait(30)
            order.append("first commits")

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(30)
    second = threading.Thread(target=lambda: _write(db, 2, order))
    second.start()
    second.join(0.3)
    assert second.is_alive() and order == []  # it waits for the first
    done.set()
    thread.join(30)
    second.join(30)
    assert order == ["first commits", "second wrote"]
    assert rows(db) == [1, 2]


def _write(db: Database, x: int, order: list[str]) -> None:
    with db.writing() as session:
        session.execute(text("INSERT INTO t VALUES (:x)"), {"x": x})
    order.append("second wrote")


WRITER = """
import sys, time
from sqlalchemy import text
from shared.db import Database
db = Database(sys.argv[1])
with db.writing() as session:
    session.execute(text("INSERT INTO t VALUES (99)"))
    print("holding", flush=True)
    time.sleep(120)
"""


def test_a_writer_killed_while_it_holds_the_lock_holds_up_no_one(db: Database) -> None:
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db.engine.url)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "holding"
        assert held(db)
        writer.send_signal(signal.SIGKILL)
        writer.wait(30)
    finally:
        writer.kill()
    assert not held(db)
    with db.writing() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
    assert rows(db) == [1]  # the killed one's row never committed


COUNTER = """
import sys
from sqlalchemy import text
from shared.db import Database
db = Database(sys.argv[1])
for i in range(int(sys.argv[2]), int(sys.argv[2]) + 200):
    with db.writing() as session:
        session.execute(text("INSERT INTO t VALUES (:x)"), {"x": i})
"""


def test_writers_in_three_processes_all_land(db: Database) -> None:
    others = [subprocess.Popen([sys.executable, "-c", COUNTER, str(db.engine.url), str(start)])
              for start in (1000, 2000)]
    for i in range(200):
        with db.writing() as session:
            session.execute(text("INSERT INTO t VALUES (:x)"), {"x": i})
    assert [p.wait(120) for p in others] == [0, 0]
    assert rows(db) == [*range(200), *range(1000, 1200), *range(2000, 2200)]
    assert not held(db)
