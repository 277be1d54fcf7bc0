"""docs/operations.md's backup and restore, run for real: pg_dump and pg_restore per
database, then `ladder verify` on the restored ledger against a tree head saved before."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url

from services.ledger import tree
from services.ledger.models import Entry
from services.ledger.signing import Signer
from services.recruitment.domain import AREA
from shared.area import service as area_service
from shared.db import Database
from shared.migrations import upgrade
from tests.support import appending
from tests.support import events as ev
from tests.support.areas import ACTIVITIES
from tests.support.databases import database

pytestmark = [
    pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                       reason="backups are of PostgreSQL: set TEST_DATABASE_URL to run this"),
    pytest.mark.skipif(not all(map(shutil.which, ("pg_dump", "pg_restore", "vacuumdb"))),
                       reason="needs PostgreSQL's client tools (pg_dump, pg_restore, vacuumdb)"),
]

LADDER = str(Path(sys.executable).parent / "ladder")
SEED = bytes(range(32))


def _libpq(url: str) -> str:
    """The same database, as pg_dump and pg_restore name it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _backup_and_restore(url: str, restored: str, dump: Path) -> None:
    """The documented commands, less `docker compose exec -T postgres`."""
    subprocess.run(["pg_dump", "--format=custom", "--file", str(dump), _libpq(url)],
                   check=True, capture_output=True)
    subprocess.run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--dbname",
                    _libpq(restored), str(dump)], check=True, capture_output=True)
    subprocess.run(["vacuumdb", "--analyze-only", "--dbname", _libpq(restored)], check=True,
                   capture_output=True)


def _ladder(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LADDER, *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PATH": os.environ["PATH"], **env})


def _open(stack: ExitStack, url: str) -> Database:
    db = Database(url)
    stack.callback(db.dispose)  # before the test database is dropped
    return db


def _databases(stack: ExitStack, tmp_path: Path, service: str) -> tuple[str, str, Database]:
    """A migrated database of ``service`` in use, and an empty one to restore into."""
    url = stack.enter_context(database("postgresql", tmp_path, service))
    restored = stack.enter_context(database("postgresql", tmp_path, f"{service}_restored"))
    upgrade(service, url)
    return url, restored, _open(stack, url)


def _sth(db: Database) -> str:
    with db.reading() as session:
        head = tree.latest_head(session.connection())
    assert head is not None
    return json.dumps(head.as_json())


def test_a_restored_ledger_verifies_against_a_tree_head_saved_before_the_backup(
    tmp_path: Path,
) -> None:
    signer = Signer(Ed25519PrivateKey.from_private_bytes(SEED))
    (tmp_path / "key.json").write_text(json.dumps(signer.public_json()))
    with ExitStack() as stack:
        url, restored, live = _databases(stack, tmp_path, "ledger")
        for _ in range(2):
            appending.append(live, [ev.activity(), ev.involvement()], signer)
        # Step 1 of the procedure: save the signed tree head, then dump.
        (tmp_path / "sth-at-backup.json").write_text(_sth(live))
        appending.append(live, [ev.activity()], signer)  # appended while dumping
        _backup_and_restore(url, restored, tmp_path / "ledger.dump")

        # Check the restored ledger: its export holds what the saved head signed...
        ledger_env = {"LEDGER_DATABASE_URL": restored}
        exported = _ladder(tmp_path, "export", "--out", "restored.ndjson", **ledger_env)
        assert exported.returncode == 0, exported.stderr
        verified = _ladder(tmp_path, "verify", "restored.ndjson", "--tree-head",
                           "sth-at-backup.json", "--public-key", "key.json")
        assert verified.returncode == 0, verified.stderr
        assert "OK: the export's first 4 entries match the signed tree head" in verified.stdout
        # ...and everything up to its own latest signed head, the batch after it too.
        copy = _open(stack, restored)
        (tmp_path / "sth-restored.json").write_text(_sth(copy))
        verified = _ladder(tmp_path, "verify", "restored.ndjson", "--tree-head",
                           "sth-restored.json", "--public-key", "key.json")
        assert "OK: the export's first 5 entries" in verified.stdout, verified.stderr

        # A restore that altered an entry does not pass.
        with copy.writing() as session:
            session.execute(sa.update(Entry).where(Entry.seq == 2).values(
                event=sa.func.replace(Entry.event, "ward-7", "ward-8")))
        _ladder(tmp_path, "export", "--out", "altered.ndjson", **ledger_env)
        failed = _ladder(tmp_path, "verify", "altered.ndjson", "--tree-head",
                         "sth-at-backup.json", "--public-key", "key.json")
        assert failed.returncode == 1 and "is not what was signed" in failed.stderr


def test_a_domain_database_comes_back_whole(tmp_path: Path) -> None:
    with ExitStack() as stack:
        url, restored, live = _databases(stack, tmp_path, "recruitment")
        for _ in range(3):
            area_service.record_activity(live, AREA, dict(ACTIVITIES["recruitment"]))
        _backup_and_restore(url, restored, tmp_path / "recruitment.dump")
        copy = _open(stack, restored)
        for table in ("activities", "outbox", "alembic_version"):
            query = sa.text(f"SELECT count(*) FROM {table}")
            with live.reading() as a, copy.reading() as b:
                assert a.scalar(query) == b.scalar(query) > 0, table
        # The restored schema is current: migrating it again changes nothing.
        upgrade("recruitment", restored)
