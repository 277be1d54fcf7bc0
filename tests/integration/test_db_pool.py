"""PostgreSQL connections are pinged only after they idled, and a dead one is replaced."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from shared import db as dbmodule
from shared.db import Database
from tests.support.databases import database

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="the pool's pings are PostgreSQL's: set TEST_DATABASE_URL")


def _pid(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(sa.text("SELECT pg_backend_pid()")) or 0)


def test_a_connection_back_soon_is_not_pinged_and_a_dead_idle_one_is_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with database("postgresql", tmp_path, "pool") as url:
        db = Database(url)
        pings: list[int] = []
        original = db.engine.dialect.do_ping

        def counted(dbapi_conn: object) -> bool:
            pings.append(1)
            return bool(original(dbapi_conn))

        monkeypatch.setattr(db.engine.dialect, "do_ping", counted)
        first = _pid(db)  # a new connection: pinged once
        for _ in range(5):
            assert _pid(db) == first  # back within PING_AFTER: not pinged
        assert len(pings) == 1
        # The server ends that connection while it idles in the pool.
        admin = Database(url)
        with admin.reading() as session:
            session.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        admin.dispose()
        monkeypatch.setattr(dbmodule, "PING_AFTER", 0.0)
        time.sleep(0.05)
        # Pinged, found dead, replaced: the read answers, on another connection.
        assert _pid(db) != first
        assert len(pings) >= 2
        db.dispose()


def test_only_a_log_row_is_committed_without_waiting_for_the_disk(tmp_path: Path) -> None:
    """The access log's row does not wait for PostgreSQL's WAL to reach the disk; no
    other write is made so, before or after it, on any of the pool's connections."""
    with database("postgresql", tmp_path, "relaxed") as url:
        db = Database(url)
        table = sa.Table("said", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                         sa.Column("way", sa.Text, server_default=sa.text(
                             "current_setting('synchronous_commit')")))
        table.metadata.create_all(db.engine)
        with db.writing() as session:
            session.execute(sa.insert(table).values(id=1))
        db.log_row(table, {"id": 2})
        db.log_row(table, {"id": 3})
        with db.writing(exclusive=False) as session:
            session.execute(sa.insert(table).values(id=4))
        with db.reading() as session:
            session.execute(sa.insert(table).values(id=5))
            ways = dict(session.execute(sa.select(table.c.id, table.c.way)).all())
        assert ways == {1: "on", 2: "off", 3: "off", 4: "on", 5: "on"}
        db.dispose()
