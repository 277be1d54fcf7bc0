"""Citizens' references and their erasure, over real HTTP on real databases.

A reference is one citizen whatever its case, width, invisible characters or spacing
(rule 2); a citizen recorded before rule 2 keeps their pseudonym; one request, or one
command, erases a person in every area, whatever variant of their reference it names;
and when an area fails, the same request again finishes the job.
"""

from __future__ import annotations

import importlib
import json
import os
import pty
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from standardwebhooks import Webhook

from shared.area.integrations import create_integration
from shared.area.models import ApiToken
from shared.auth import create_token
from shared.config import load
from shared.db import Database
from shared.embedded_redis import EmbeddedRedis
from shared.migrations import upgrade
from shared.scrub import WAIT
from tests.support.areas import ACTIVITIES, AREAS, PATHS, SETUP, involvement
from tests.support.citizens import (
    RULE_1_REVISION,
    Legacy,
    citizens,
    lookup,
    scrubbable_postgres,
    write_rule_1_citizens,
)
from tests.support.databases import database
from tests.support.serving import served

LADDER = str(Path(sys.executable).parent / "ladder")
ERROR_KEYS = {"code", "status", "message", "errors"}
# One reference, written as different systems and people write it.
VARIANTS = ("CIT-0042", "cit-0042", "\uff23\uff29\uff34\uff0d\uff10\uff10\uff14\uff12",
            "CIT\u200b-0042", "C\u200dI\u200cT-0042\ufeff", "\u00a0CIT-0042\u3000",
            "\u3000cit-0042 ", "CIT-\u00ad0042", "\u202eCIT-0042\u202c", "CIT-0042\ufe0f",
            "\u2060CIT-\u20610042\u200e")
# Nothing a reader could see: spaces of three kinds, zero-width characters, a soft hyphen.
INVISIBLE = "\u200b \u3000\u00a0\ufeff\u00ad\u200d"


class Areas:
    """Every area's service, each on a real HTTP server, each erasing in every area's
    databases; one token per area holds write and admin."""

    def __init__(self, urls: dict[str, str], redis_url: str,
                 legacy: dict[str, dict[str, Legacy]]) -> None:
        self.urls = urls
        self.legacy = legacy
        self.base: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.activities: dict[str, str] = {}
        self._exits = ExitStack()
        for area, url in urls.items():
            app = importlib.import_module(f"services.{area}").create_app({
                "DATABASE_URL": url, "AREA_DATABASE_URLS": urls, "REDIS_URL": redis_url,
                "TESTING": True, "RATE_LIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}"})
            db = app.extensions["db"]
            self.key = str(app.config["PSEUDONYM_KEY"])
            self.tokens[area] = create_token(db, ApiToken, app.config["TOKEN_PEPPER"], "tests",
                                             [f"{area}:write", f"{area}:admin"])
            self._exits.callback(db.dispose)
            self.base[area] = self._exits.enter_context(served(app))

    def close(self) -> None:
        self._exits.close()

    def post(self, area: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[area]}", **kwargs.pop("headers", {})}
        return requests.post(self.base[area] + path, headers=headers, timeout=60, **kwargs)

    def activity(self, area: str) -> str:
        """The area's one activity, recorded when first needed."""
        if area not in self.activities:
            for item in SETUP[area]:
                assert self.post(area, item.path, json=item.body).status_code == 201
            response = self.post(area, f"/v1/{PATHS[area]}", json=ACTIVITIES[area])
            assert response.status_code == 202, response.text
            self.activities[area] = response.json()["id"]
        return self.activities[area]

    def record(self, area: str, reference: str) -> str:
        """Record an involvement over REST: the citizen's pseudonym."""
        response = self.involve(area, reference)
        assert response.status_code == 202, response.text
        return str(response.json()["pseudonym"])

    def involve(self, area: str, reference: str) -> requests.Response:
        return self.post(area, f"/v1/{PATHS[area]}/{self.activity(area)}/involvements",
                         json=involvement(area, reference))

    def command(self, area: str, reference: str) -> dict[str, Any]:
        """The same involvement as a webhook's or a CloudEvent's command data."""
        return {"activity_id": self.activity(area), **involvement(area, reference)}

    def webhook(self, area: str, reference: str) -> requests.Response:
        if not hasattr(self, "secret"):
            db = Database(self.urls[area])
            self.secret = create_integration(db, "hr-system")
            db.dispose()
        body = json.dumps({"type": "involvement.recorded", "data": self.command(area, reference)})
        msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
        return self.post(area, "/v1/webhooks/hr-system", data=body.encode(), headers={
            "webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(self.secret).sign(msg_id, now, body),
            "Content-Type": "application/json"})

    def cloudevent(self, area: str, reference: str, mode: str) -> requests.Response:
        """``structured``, ``batch`` (of one) or ``binary``."""
        event = {"specversion": "1.0", "id": uuid.uuid4().hex, "source": "/lms",
                 "type": "org.ladder.involvement.recorded"}
        data = self.command(area, reference)
        if mode == "binary":
            return self.post(area, "/v1/events", json=data,
                             headers={f"ce-{k}": v for k, v in event.items()})
        body: Any = {**event, "data": data}
        kind = "cloudevents-batch" if mode == "batch" else "cloudevents"
        return self.post(area, "/v1/events", data=json.dumps(
            [body] if mode == "batch" else body).encode(),
            headers={"Content-Type": f"application/{kind}+json"})

    def erase(self, reference: str, via: str = "recruitment") -> requests.Response:
        return self.post(via, "/v1/citizens/erasure", json={"citizen_ref": reference})

    def count(self, area: str, table: str) -> int:
        engine = sa.create_engine(self.urls[area])
        with engine.connect() as connection:
            n = int(connection.scalar(sa.text(f"SELECT count(*) FROM {table}")) or 0)
        engine.dispose()
        return n


MakeAreas = Callable[..., Areas]


@pytest.fixture
def make_areas(backend: str, tmp_path: Path, redis_server: EmbeddedRedis
               ) -> Iterator[MakeAreas]:
    """Every area over fresh databases, with citizens recorded before rule 2 if asked."""
    with ExitStack() as stack:
        if backend == "postgresql":  # set as docker-compose sets it, so that scrubs complete
            stack.enter_context(scrubbable_postgres(os.environ["TEST_DATABASE_URL"]))

        def build(legacy: Mapping[str, Iterable[str]] | None = None) -> Areas:
            key = str(load("recruitment")["PSEUDONYM_KEY"])
            urls, written = {}, {}
            for area in AREAS:
                url = urls[area] = stack.enter_context(database(backend, tmp_path, area))
                upgrade(area, url, RULE_1_REVISION)
                written[area] = write_rule_1_citizens(url, key, (legacy or {}).get(area, ()))
                upgrade(area, url)
            areas = Areas(urls, redis_server.url, written)
            stack.callback(areas.close)
            return areas

        yield build


def test_the_variants_of_a_reference_are_one_citizen_at_every_intake(
    make_areas: MakeAreas,
) -> None:
    areas = make_areas()
    seen = {areas.record("recruitment", variant) for variant in VARIANTS}
    seen |= {areas.webhook("recruitment", VARIANTS[2]).json()["result"]["pseudonym"]}
    seen |= {areas.cloudevent("recruitment", VARIANTS[4], mode).json()["result"]["pseudonym"]
             for mode in ("structured", "binary")}
    seen |= {areas.cloudevent("recruitment", VARIANTS[5], "batch").json()["results"][0][
        "result"]["pseudonym"]}
    assert len(seen) == 1
    # Other characters are another reference; runs of spaces of any kind are one space.
    assert areas.record("recruitment", "CIT-0043") not in seen
    assert areas.record("recruitment", "CIT 0042") not in seen
    assert areas.record("recruitment", "cit\u3000\u00a0 0042") == areas.record(
        "recruitment", "CIT 0042")
    assert len(citizens(areas.urls["recruitment"])) == 3
    assert areas.count("recruitment", "involvements") == len(VARIANTS) + 4 + 4


@pytest.mark.parametrize("intake", ["REST", "webhook", "structured", "batch", "binary",
                                    "erasure"])
def test_a_reference_with_nothing_visible_is_422_naming_citizen_ref(
    make_areas: MakeAreas, intake: str
) -> None:
    areas = make_areas()
    areas.activity("inspection")
    before = {table: areas.count("inspection", table) for table in (
        "citizens", "involvements", "outbox", "receipts")}
    response = {
        "REST": lambda: areas.involve("inspection", INVISIBLE),
        "webhook": lambda: areas.webhook("inspection", INVISIBLE),
        "erasure": lambda: areas.erase(INVISIBLE, via="inspection"),
    }.get(intake, lambda: areas.cloudevent("inspection", INVISIBLE, intake))()
    assert response.status_code == 422, response.text
    body = response.json()
    assert set(body) == ERROR_KEYS and "citizen_ref" in body["message"]
    assert "citizen_ref" in json.dumps(body["errors"])
    assert {table: areas.count("inspection", table) for table in before} == before


def test_a_citizen_recorded_before_rule_2_keeps_their_pseudonym_and_then_their_variants_join(
    make_areas: MakeAreas,
) -> None:
    areas = make_areas(legacy={"recruitment": ["CIT-0042", "cit-0099", "Cit-0077"]})
    old, url = areas.legacy["recruitment"], areas.urls["recruitment"]
    assert {row["rule"] for row in citizens(url).values()} == {1}
    # The same reference again: the pseudonym rule 1 gave them.
    assert areas.record("recruitment", "CIT-0042") == old["CIT-0042"].pseudonym
    # Their row now has the rule-2 lookup, with that pseudonym: their variants find it.
    rows = citizens(url)
    assert old["CIT-0042"].lookup not in rows
    assert rows[lookup(areas.key, "cit-0042")] == {
        "lookup": lookup(areas.key, "cit-0042"), "rule": 2, "salt": None,
        "pseudonym": old["CIT-0042"].pseudonym}
    for variant in VARIANTS:
        assert areas.record("recruitment", variant) == old["CIT-0042"].pseudonym
    # Recorded under rule 1 in the form rule 2 gives it: every variant finds them at once.
    assert areas.record("recruitment", "CIT-\u00ad0099") == old["cit-0099"].pseudonym
    # A variant before the reference itself is someone new; the reference itself still
    # finds its citizen, now beside them (docs/api.md, Privacy).
    newcomer = areas.record("recruitment", "CIT-0077")
    assert newcomer != old["Cit-0077"].pseudonym
    assert areas.record("recruitment", " Cit-0077") == old["Cit-0077"].pseudonym
    assert areas.record("recruitment", "cit-0077") == newcomer


def test_erasing_any_variant_erases_every_row_linked_to_the_reference(
    make_areas: MakeAreas,
) -> None:
    areas = make_areas(legacy={"recruitment": ["CIT-0050"], "training": ["cit-0050"],
                               "inspection": ["\uff23\uff29\uff34-0050"]})
    areas.record("recruitment", "cit-0050")  # someone new, beside the row rule 1 kept
    answer = areas.erase("Cit\u200b-0050", via="training")
    assert answer.status_code == 200, answer.text
    found = {area: done["found"] for area, done in answer.json()["areas"].items()}
    # The form rule 1 kept in inspection is none of those tried: found by that form only.
    assert found == {area: area in ("recruitment", "training") for area in AREAS}
    assert answer.json()["contributions_unlinked"] == 1
    assert citizens(areas.urls["recruitment"]) == {} == citizens(areas.urls["training"])
    again = areas.erase("\uff23\uff29\uff34-0050").json()
    assert [area for area, done in again["areas"].items() if done["found"]] == ["inspection"]
    assert citizens(areas.urls["inspection"]) == {}


def test_one_request_erases_a_citizen_in_every_area_and_says_what_it_did(
    make_areas: MakeAreas,
) -> None:
    areas = make_areas()
    before = {"recruitment": areas.record("recruitment", "CIT-0042"),
              "training": areas.record("training", "\uff43\uff49\uff54-0042")}
    assert areas.record("training", "cit-0042") == before["training"]
    areas.record("inspection", "CIT-0043")
    answer = areas.erase("\u3000cit\u200b-0042", via="inspection")
    assert answer.status_code == 200, answer.text
    scrubbed = {"complete": True, "incomplete_because": []}
    unlinked = {"recruitment": 1, "training": 2}
    assert answer.json() == {"found": True, "contributions_unlinked": 3, "scrubbed": True,
                             "areas": {area: {"found": area in unlinked,
                                              "contributions_unlinked": unlinked.get(area, 0),
                                              "scrub": scrubbed} for area in AREAS}}
    # Their contributions stay and keep counting; nothing leads to them any more.
    assert {area: areas.count(area, "involvements") for area in unlinked} == unlinked
    assert areas.count("inspection", "involvements") == 1
    assert areas.record("recruitment", "CIT-0042") != before["recruitment"]
    assert areas.erase("CIT-0042").json()["contributions_unlinked"] == 1
    # Someone already erased, or never known, is not an error: nothing is found.
    for reference in ("CIT-0042", "CIT-never-seen"):
        nothing = areas.erase(reference, via="training")
        assert nothing.status_code == 200 and nothing.json()["found"] is False


@contextmanager
def down(url: str) -> Iterator[None]:
    """The database unreachable, as while its server restarts or its disk is away."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(str(parsed.database))
        away = path.with_name(path.name + ".away")
        path.rename(away)
        path.mkdir()  # a directory where the file was: SQLite cannot open it
        try:
            yield
        finally:
            path.rmdir()
            away.rename(path)
        return
    admin = sa.create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'ALTER DATABASE "{parsed.database}" ALLOW_CONNECTIONS false')
        connection.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = :name"), {"name": parsed.database})
    try:
        yield
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(
                f'ALTER DATABASE "{parsed.database}" ALLOW_CONNECTIONS true')
        admin.dispose()


def test_a_retry_finishes_an_erasure_that_an_area_could_not_do(make_areas: MakeAreas) -> None:
    areas = make_areas()
    for area in AREAS:
        areas.record(area, "CIT-0042")
    erased = lookup(areas.key, "cit-0042")
    with down(areas.urls["training"]):
        failed = areas.erase("cit-0042")
        assert failed.status_code == 503 and failed.headers["Retry-After"] == "5"
        body = failed.json()
        assert set(body) == ERROR_KEYS and list(body["errors"]) == ["training"]
        assert body["message"].startswith("The erasure failed in training.")
        assert "Erasing the same reference again finishes it." in body["message"]
        # The others did not wait for it.
        assert erased not in citizens(areas.urls["recruitment"])
        assert erased not in citizens(areas.urls["inspection"])
    assert erased in citizens(areas.urls["training"])
    retry = areas.erase("CIT-0042")
    assert retry.status_code == 200, retry.text
    assert {area: (done["found"], done["contributions_unlinked"])
            for area, done in retry.json()["areas"].items()} == {
        area: (area == "training", int(area == "training")) for area in AREAS}
    assert retry.json()["scrubbed"] is True
    assert erased not in citizens(areas.urls["training"])


@contextmanager
def reading(url: str) -> Iterator[None]:
    """A transaction that began before the erasure, still reading what it saw then."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN")
        else:
            connection.execution_options(isolation_level="REPEATABLE READ")
        connection.exec_driver_sql("SELECT count(*) FROM citizens").scalar()
        yield
    engine.dispose()


def test_a_reader_from_before_the_erasure_holds_its_scrub_back_until_erased_again(
    make_areas: MakeAreas,
) -> None:
    areas = make_areas()
    areas.record("training", "CIT-0042")
    with reading(areas.urls["training"]):
        held = areas.erase("CIT-0042")
    assert held.status_code == 200, held.text
    training = held.json()["areas"]["training"]
    assert training["found"] is True and held.json()["scrubbed"] is False
    [why] = training["scrub"]["incomplete_because"]
    assert "5 s" in why and "erase again" in why
    assert held.json()["areas"]["recruitment"]["scrub"]["complete"] is True
    # Once it has ended, the same erasure again finds nothing more, and scrubs.
    again = areas.erase("CIT-0042")
    assert (again.json()["found"], again.json()["scrubbed"]) == (False, True)


def test_readers_in_every_area_cost_an_erasure_one_wait_not_one_each(
    make_areas: MakeAreas,
) -> None:
    """Each area's scrub waits for its own readers: at the same time as the others', so
    that four areas take one WAIT (5 s), not four (20 s, of the 30 s gunicorn gives)."""
    areas = make_areas()
    for area in AREAS:
        areas.record(area, "CIT-0042")
    with ExitStack() as held:
        for area in AREAS:
            held.enter_context(reading(areas.urls[area]))
        began = time.monotonic()
        answer = areas.erase("CIT-0042")
        took = time.monotonic() - began
    assert answer.status_code == 200, answer.text
    assert answer.json()["scrubbed"] is False
    assert all(not done["scrub"]["complete"] for done in answer.json()["areas"].values())
    assert took < 2 * WAIT, took


@contextmanager
def writing(url: str) -> Iterator[None]:
    """A transaction that began before the erasure and has written: it holds a transaction
    ID, but has read nothing since (no snapshot of its own)."""
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT pg_current_xact_id()").scalar()
        yield
    engine.dispose()


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL")
@pytest.mark.parametrize("backend", ["postgresql"])  # transaction IDs are PostgreSQL's
def test_a_writer_in_another_database_holds_the_scrub_back_too(make_areas: MakeAreas) -> None:
    """PostgreSQL leaves other databases' sessions out of a table's VACUUM horizon, but not
    their transactions: every snapshot taken while one runs, VACUUM (FULL)'s own included,
    has an xmin no newer than it, and so keeps the erased rows. A scrub that waited only
    for its own database's sessions would say it was complete and leave them on disk."""
    areas = make_areas()
    areas.record("training", "CIT-0042")
    areas.record("recruitment", "CIT-0042")
    with writing(areas.urls["recruitment"]):
        began = time.monotonic()
        held = areas.erase("CIT-0042")
        took = time.monotonic() - began
    assert held.status_code == 200, held.text
    assert held.json()["scrubbed"] is False
    for area in AREAS:
        [why] = held.json()["areas"][area]["scrub"]["incomplete_because"]
        assert "transactions begun before the erasure" in why
    # The areas share the server, and so one wait (WAIT, 5 s), not one each (20 s):
    # gunicorn gives the request 30 s.
    assert took < 2 * WAIT, took


def _ladder(areas: Areas, tmp_path: Path, *args: str, typed: str | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LADDER, *args], input=typed, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=_environment(areas, tmp_path))


def _environment(areas: Areas, tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "LADDER_VAR_DIR": str(tmp_path / "var"),
            "LADDER_LOG_LEVEL": "WARNING", "LADDER_PSEUDONYM_KEY": areas.key,
            **{f"{area.upper()}_DATABASE_URL": url for area, url in areas.urls.items()}}


def test_the_command_erases_in_every_area_and_keeps_the_reference_out_of_history(
    make_areas: MakeAreas, tmp_path: Path
) -> None:
    areas = make_areas()
    areas.record("recruitment", "CIT-0042")
    areas.record("training", "CIT-0043")
    areas.record("inspection", "CIT-0044")
    # Read from standard input when it is not a terminal: in no shell history.
    result = _ladder(areas, tmp_path, "citizen", "erase", typed="\uff43\uff49\uff54-0042\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "recruitment: found, 1 contribution(s) unlinked; scrubbed",
        *(f"{area}: nothing found; scrubbed" for area in AREAS if area != "recruitment")]
    # Or as an argument.
    result = _ladder(areas, tmp_path, "citizen", "erase", "cit-0043")
    assert result.returncode == 0, result.stderr
    assert "training: found, 1 contribution(s) unlinked; scrubbed" in result.stdout
    # Asked for without echo on a terminal.
    typed, status = _on_a_terminal(areas, tmp_path, "CIT-0044")
    assert status == 0, typed
    assert "inspection: found, 1 contribution(s) unlinked; scrubbed" in typed
    assert "CIT-0044" not in typed
    assert [len(citizens(url)) for url in areas.urls.values()] == [0] * len(AREAS)
    # Nothing visible names no one: refused, and nothing is touched.
    areas.record("recruitment", "CIT-0045")
    result = _ladder(areas, tmp_path, "citizen", "erase", typed=INVISIBLE + "\n")
    assert result.returncode == 2 and "holds no visible character" in result.stderr
    # An area that fails: said, and exit 1; the others are done.
    with down(areas.urls["inspection"]):
        result = _ladder(areas, tmp_path, "citizen", "erase", "CIT-0045")
    assert result.returncode == 1
    assert "inspection: FAILED: Its database failed" in result.stderr
    assert "The erasure failed in inspection" in result.stderr
    assert citizens(areas.urls["recruitment"]) == {}


def _on_a_terminal(areas: Areas, tmp_path: Path, reference: str) -> tuple[str, int]:
    """Run ``ladder citizen erase`` on a pseudo-terminal, typing ``reference`` at its
    prompt: everything the terminal showed, and the exit status."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the command, with the terminal as its own
        os.chdir(tmp_path)
        os.execve(LADDER, [LADDER, "citizen", "erase"], _environment(areas, tmp_path))
    shown, deadline = b"", time.monotonic() + 120
    while time.monotonic() < deadline:
        if not select.select([terminal], [], [], 1)[0]:
            continue
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # the child has gone: the terminal is closed
            break
        if not chunk:
            break
        shown += chunk
        if shown.endswith(b"Citizen reference: "):
            os.write(terminal, reference.encode() + b"\n")
    _, status = os.waitpid(pid, 0)
    os.close(terminal)
    return shown.decode(errors="replace"), os.waitstatus_to_exitcode(status)
