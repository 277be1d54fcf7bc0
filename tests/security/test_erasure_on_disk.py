"""After an erasure nothing of the person is left on disk: not their salt, their lookup
or their reference, in any area's database file, its -wal or -shm, or any log; on
PostgreSQL, nowhere in the server's data directory, pg_wal included.

Every area's service runs as deployed (gunicorn, from the Procfile) over thousands
of citizens, so that B-tree pages have split and moved rows; some were recorded before
rule 2, with SQLite's secure_delete off, and one of the person's rows among them. On
PostgreSQL the server is set as docker-compose sets it: the test turns ``wal_recycle``
off (ALTER SYSTEM, then a reload) and back on afterwards, and it must be able to read
the data directory (SHOW data_directory), which it does as root on a test machine.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from shared.area.erasure import erase_citizen
from shared.area.models import ApiToken
from shared.auth import create_token
from shared.config import load
from shared.db import Database
from shared.migrations import upgrade
from tests.support.areas import ACTIVITIES, AREAS, PATHS, SETUP, involvement
from tests.support.citizens import (
    RULE_1_REVISION,
    files_holding,
    lookup,
    scrubbable_postgres,
    write_rule_1_citizens,
)
from tests.support.databases import database
from tests.support.stack import Stack

# Enough citizens in each area for its tables and indexes to span many B-tree pages.
MANY = 2000
BATCH = 400


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@pytest.fixture
def data_directory(backend: str) -> Iterator[Path | None]:
    """PostgreSQL's data directory, with the server set to let an erasure scrub its WAL."""
    if backend != "postgresql":
        yield None
        return
    with scrubbable_postgres(os.environ["TEST_DATABASE_URL"]) as data:
        if not os.access(data, os.R_OK | os.X_OK):
            pytest.skip(f"cannot read PostgreSQL's data directory {data}: run as its owner")
        yield Path(data)


def test_an_erasure_leaves_nothing_of_the_person_on_disk(
    backend: str, tmp_path: Path, data_directory: Path | None
) -> None:
    reference = f"CIT-ERASE-{uuid.uuid4().hex[:12]}"
    normal = reference.lower()
    others = [f"CIT-{n:05d}-{uuid.uuid4().hex[:6]}" for n in range(MANY)]
    with ExitStack() as exits:
        var = tmp_path / "run" / "var"
        urls = {area: f"sqlite:///{var / area}.db" if backend == "sqlite" else
                exits.enter_context(database(backend, tmp_path, area)) for area in AREAS}
        var.mkdir(parents=True)
        stack = Stack(tmp_path / "run", urls)
        key = str(load("recruitment", stack.env)["PSEUDONYM_KEY"])
        # Before rule 2: the person in recruitment as sent, and in inspection in capitals.
        legacy = {"recruitment": reference, "inspection": reference.upper()}
        old = {}
        for area, url in urls.items():
            upgrade(area, url, RULE_1_REVISION)
            mine = [legacy[area]] if area in legacy else []
            old[area] = write_rule_1_citizens(url, key, others[:MANY // 2] + mine)
            # The planner's statistics sample column values: rule 2 drops those gathered.
            assert _analyze(url) == ({"lookup", "salt"} if backend == "postgresql" else set())
            upgrade(area, url)
            db = Database(url)
            stack.tokens[area] = create_token(db, ApiToken, load(area, stack.env)["TOKEN_PEPPER"],
                                              "dpo", [f"{area}:write", f"{area}:admin"])
            db.dispose()
        stack.redis.start()
        exits.callback(stack.stop)
        stack.start(*AREAS)

        # Since: the person again as sent in recruitment (their row moves to its rule-2
        # lookup), in full width in training, never in inspection; among thousands.
        sent = {"recruitment": reference, "training": _full_width(reference)}
        for area in AREAS:
            citizens = others[MANY // 2:] if area != "training" else others
            if area in sent:
                citizens = citizens[:len(citizens) // 2] + [sent[area]] + citizens[
                    len(citizens) // 2:]
            _record(stack, area, citizens)
        training = Database(urls["training"])
        with training.reading() as session:
            salt = session.scalar(sa.text("SELECT salt FROM citizens WHERE lookup = :lookup"),
                                  {"lookup": lookup(key, normal)})
        training.dispose()
        asked = f"\u3000{normal[:4]}\u200b{normal[4:]}\u00a0"
        needles = {
            "the salt in training": str(salt).encode(),
            "the salt rule 1 gave in recruitment": old["recruitment"][reference].salt.encode(),
            "the salt rule 1 gave in inspection":
                old["inspection"][reference.upper()].salt.encode(),
            "the lookup": lookup(key, normal).encode(),
            "the lookup rule 1 made in recruitment": old["recruitment"][reference].lookup.encode(),
            "the lookup rule 1 made in inspection":
                old["inspection"][reference.upper()].lookup.encode(),
            **{f"the reference as {form!r}": form.encode("utf-8")
               for form in {reference, reference.upper(), normal, asked, *sent.values()}},
        }
        assert [_analyze(url) for url in urls.values()] == [set()] * len(AREAS)
        roots = [tmp_path / "run", *([data_directory] if data_directory else [])]
        # The search can see them where they are: before the erasure, it finds them.
        assert files_holding(roots, needles)

        answer = requests.post(stack.url("inspection") + "/v1/citizens/erasure",
                               json={"citizen_ref": asked}, headers=stack.auth("inspection"),
                               timeout=60)
        assert answer.status_code == 200, answer.text
        assert {area: done["found"] for area, done in answer.json()["areas"].items()} == {
            area: area in {*legacy, *sent} for area in AREAS}
        assert answer.json()["scrubbed"] is True, answer.json()

        # Searched while the services run, as an attacker with the disk would find it.
        if backend == "sqlite":
            files = {p.name for p in var.iterdir()}
            assert {f"{area}.db{suffix}" for area in AREAS for suffix in ("", "-wal", "-shm")
                    } <= files
        assert list((tmp_path / "run" / "logs").glob("*.log"))
        assert files_holding(roots, needles) == []


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                    reason="the planner's statistics are PostgreSQL's: set TEST_DATABASE_URL")
def test_statistics_a_rewrite_kept_for_an_open_transaction_go_at_the_erasure(
    tmp_path: Path,
) -> None:
    """Migration 0004 drops the statistics sampled from lookups and salts, and rewrites
    pg_statistic without them; but a rewrite keeps dead rows that a transaction open
    anywhere on the server could still see. One was open during the upgrade, so the
    samples stayed in pg_statistic's files; the erasure's scrub takes them off."""
    reference = f"CIT-STATS-{uuid.uuid4().hex[:12]}"
    # Few enough rows that the histogram's bounds are every value: the person's among them.
    references = [f"CIT-{n:03d}-{uuid.uuid4().hex[:6]}" for n in range(40)] + [reference]
    server = os.environ["TEST_DATABASE_URL"]
    with (scrubbable_postgres(server) as data,
          database("postgresql", tmp_path, "recruitment") as url):
        if not os.access(data, os.R_OK | os.X_OK):
            pytest.skip(f"cannot read PostgreSQL's data directory {data}: run as its owner")
        upgrade("recruitment", url, RULE_1_REVISION)
        legacy = write_rule_1_citizens(url, "k" * 32, references)[reference]
        assert _analyze(url) == {"lookup", "salt"}
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as elsewhere:  # another database's transaction, with an ID
            elsewhere.exec_driver_sql("BEGIN")
            elsewhere.exec_driver_sql("SELECT pg_current_xact_id()")
            upgrade("recruitment", url)
            elsewhere.exec_driver_sql("COMMIT")
        admin.dispose()
        db = Database(url)
        try:
            with db.reading() as session:
                oid = session.scalar(sa.text(
                    "SELECT oid FROM pg_database WHERE datname = current_database()"))
            files = [Path(data) / "base" / str(oid)]
            needles = {"the lookup": legacy.lookup.encode(), "the salt": legacy.salt.encode()}
            assert _analyze(url) == set()
            # The rewrite kept them: this is what the erasure has to scrub.
            assert files_holding(files, needles)
            done = erase_citizen({"recruitment": db}, "k" * 32, reference)
            assert done["found"] and done["scrubbed"], done
            assert _analyze(url) == set()
            assert files_holding(files, needles) == []
        finally:
            db.dispose()


def _record(stack: Stack, area: str, references: list[str]) -> None:
    """One activity, and an involvement of each citizen, in CloudEvents batches over HTTP."""
    headers = stack.auth(area)
    for item in SETUP[area]:
        assert requests.post(stack.url(area) + item.path, json=item.body, headers=headers,
                             timeout=30).status_code == 201
    activity = requests.post(stack.url(area) + f"/v1/{PATHS[area]}", json=ACTIVITIES[area],
                             headers=headers, timeout=30).json()["id"]
    for start in range(0, len(references), BATCH):
        events = [{"specversion": "1.0", "id": uuid.uuid4().hex, "source": "/hr-system",
                   "type": "org.ladder.involvement.recorded",
                   "data": {"activity_id": activity, **involvement(area, ref)}}
                  for ref in references[start:start + BATCH]]
        response = requests.post(stack.url(area) + "/v1/events", data=json.dumps(events),
                                 headers={**headers,
                                          "Content-Type": "application/cloudevents-batch+json"},
                                 timeout=120)
        assert response.status_code == 202, response.text[:500]


def _analyze(url: str) -> set[str]:
    """On PostgreSQL, gather the planner's statistics and write everything to the data
    files: which columns of citizens the statistics hold samples of."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    sampled: set[str] = set()
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.exec_driver_sql("CHECKPOINT")
            sampled = set(connection.scalars(sa.text(
                "SELECT attname FROM pg_stats WHERE tablename = 'citizens' AND attname IN "
                "('lookup', 'salt', 'pseudonym')")))
    engine.dispose()
    return sampled
