"""An area fetches the ledger's receipt of an involvement it recorded: the offline receipt
of the event that recorded it, which ``ladder verify-receipt`` checks with the ledger's
public key alone.

The area and the ledger are real apps on real databases, each served over real HTTP;
the area asks the ledger as it does in production, with an inspect token of the
ledger's. An area's outbox reaches the ledger as the relay and the ledger worker would
carry it (``append_batch``), in the test's process. With no witnesses, the ledger proves
an entry in its own latest checkpoint.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask

from services.cli import main
from services.ledger import create_app as create_ledger
from services.ledger import service as ledger_service
from services.ledger.models import AccessLog, Entry
from services.ledger.models import ApiToken as LedgerToken
from shared import areas
from shared.area import receipts
from shared.area.models import Involvement, Outbox
from shared.auth import create_token, revoke_token
from shared.config import ConfigError, load
from shared.db import make_engine
from shared.embedded_redis import EmbeddedRedis, free_port
from shared.envelope import INVOLVEMENT_RECORDED
from shared.migrations import upgrade
from tests.integration.conftest import AreaClient, MakeApp, new_id, set_up_area
from tests.support import compose, serving
from tests.support.areas import ACTIVITIES, AREAS, PATHS, involvement
from tests.support.databases import database

AREA = "recruitment"
PURPOSE = "receipts for the organisation's own records"
ERROR_SHAPE = {"code", "status", "message", "errors"}


class Recorder:
    """The area, served over HTTP with the ledger's URL and a receipts token, and the
    ledger, served over HTTP: what the area records, and the ledger appends."""

    def __init__(self, area: AreaClient, url: str, ledger: Flask, ledger_url: str,
                 token: str) -> None:
        self.area, self.url = area, url
        self.ledger, self.ledger_url, self.token = ledger, ledger_url, token
        self.appended_to = 0  # the last outbox row handed to the ledger

    def record(self) -> str:
        """Record an activity and an involvement in it, over HTTP: the involvement's id."""
        auth = self.area.headers("write")
        activity = requests.post(f"{self.url}/v1/{PATHS[AREA]}", headers=auth, timeout=30,
                                 json={**ACTIVITIES[AREA], "id": new_id("a-")})
        assert activity.status_code == 202, activity.text
        recorded = requests.post(
            f"{self.url}/v1/{PATHS[AREA]}/{activity.json()['id']}/involvements",
            headers=auth, json=involvement(AREA), timeout=30)
        assert recorded.status_code == 202, recorded.text
        return str(recorded.json()["id"])

    def publish(self) -> None:
        """Hand the ledger what the area's outbox holds since last time, as the relay and
        the ledger worker do."""
        with self.area.app.extensions["db"].reading() as session:
            rows = session.execute(sa.select(Outbox.id, Outbox.payload)
                                   .where(Outbox.id > self.appended_to)
                                   .order_by(Outbox.id)).all()
        if not rows:
            return
        result = ledger_service.append_batch(self.ledger.extensions["db"],
                                             [json.loads(r.payload) for r in rows],
                                             self.ledger.extensions["signer"])
        assert result.rejected == 0
        self.appended_to = rows[-1].id

    def receipt(self, involvement_id: str) -> requests.Response:
        return requests.get(f"{self.url}/v1/involvements/{involvement_id}/receipt",
                            headers=self.area.headers("read"), timeout=30)

    def recording_event(self, involvement_id: str) -> dict[str, Any]:
        """The event the area published when it recorded the involvement."""
        return next(e for e in self.area.events() if e["type"] == INVOLVEMENT_RECORDED
                    and e["data"]["involvement_id"] == involvement_id)

    def vkey(self) -> str:
        return str(requests.get(f"{self.ledger_url}/v1/public-key", timeout=30).json()["vkey"])

    def entries(self) -> int:
        with self.ledger.extensions["db"].reading() as session:
            return int(session.scalar(sa.select(sa.func.count()).select_from(Entry)) or 0)


@pytest.fixture(scope="module")
def recorder(module_make_app: MakeApp) -> Iterator[Recorder]:
    """Recruitment and the ledger, each served over HTTP, on each backend in turn; the
    area holds an inspect token of the ledger's. Each test records what it needs."""
    ledger = module_make_app("ledger")
    token = create_token(ledger.extensions["db"], LedgerToken, ledger.config["TOKEN_PEPPER"],
                         "receipts", ["ledger:inspect"], PURPOSE)
    with ExitStack() as stack:
        ledger_url = stack.enter_context(serving.served(ledger))
        area = set_up_area(AREA, module_make_app(AREA, LEDGER_URL=ledger_url,
                                                 RECEIPTS_TOKEN=token))
        url = stack.enter_context(serving.served(area.app))
        yield Recorder(area, url, ledger, ledger_url, token)


def _error(response: requests.Response, status: int) -> str:
    """The message of an answer in the error shape, with the status given."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_SHAPE and body["code"] == status, body
    return str(body["message"])


def test_the_recording_service_gives_a_receipt_that_verifies_offline(
        recorder: Recorder, tmp_path: Path) -> None:
    """The area's receipt is the ledger's, byte for byte, of the event that recorded the
    involvement; `ladder verify-receipt` checks it with the ledger's public key alone.
    A correction is an entry of its own, and the receipt stays the recording's."""
    involvement_id = recorder.record()
    event = recorder.recording_event(involvement_id)
    recorder.publish()
    response = recorder.receipt(involvement_id)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    with recorder.ledger.extensions["db"].reading() as session:
        seq = session.scalar(sa.select(Entry.seq).where(Entry.event_id == event["id"]))
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="ladder-{seq}.tlog-proof"')
    # What the ledger itself answers an inspect token: handed on unchanged.
    direct = requests.get(f"{recorder.ledger_url}/v1/receipts", timeout=30,
                          params={"source": event["source"], "id": event["id"]},
                          headers={"Authorization": f"Bearer {recorder.token}"})
    assert direct.status_code == 200 and response.content == direct.content
    file = tmp_path / "involvement.tlog-proof"
    file.write_bytes(response.content)
    result = CliRunner().invoke(main, ["verify-receipt", str(file), "--vkey", recorder.vkey()])
    assert result.exit_code == 0, result.output
    assert f"the entry is number {seq} of " in result.output
    line = result.output.splitlines()[1]
    assert f'"id":"{event["id"]}"' in line and f'"involvement_id":"{involvement_id}"' in line
    # The ledger's access log has each fetch, under the token's name and purpose.
    with recorder.ledger.extensions["db"].reading() as session:
        logged = session.execute(sa.select(AccessLog.token_name, AccessLog.purpose,
                                           AccessLog.status)
                                 .where(AccessLog.path.like("/v1/receipts?%"))
                                 .order_by(AccessLog.id.desc())).first()
    assert tuple(logged or ()) == ("receipts", PURPOSE, 200)

    corrected = recorder.area.post(f"/v1/involvements/{involvement_id}/corrections",
                                   json={k: v for k, v in involvement(AREA).items()
                                         if k != "citizen_ref"} | {"hours": 7})
    assert corrected.status_code == 202, corrected.json
    recorder.publish()
    again = recorder.receipt(involvement_id)
    assert again.status_code == 200
    assert again.headers["Content-Disposition"] == response.headers["Content-Disposition"]
    # The same entry, proved in the newer checkpoint that holds the correction too.
    assert again.text.split("\n")[:3] == response.text.split("\n")[:3]
    assert again.text != response.text


def test_an_unknown_involvement_is_404_and_changes_nothing(recorder: Recorder) -> None:
    before, entries = recorder.area.contents(), recorder.entries()
    assert _error(recorder.receipt("nope"), 404) == "No involvement nope."
    assert recorder.area.contents() == before and recorder.entries() == entries


def test_an_involvement_not_yet_in_the_ledger_is_409_until_it_is(recorder: Recorder) -> None:
    recorder.publish()
    involvement_id = recorder.record()
    before, entries = recorder.area.contents(), recorder.entries()
    message = _error(recorder.receipt(involvement_id), 409)
    assert "does not hold the event" in message and "try again shortly" in message
    assert recorder.area.contents() == before and recorder.entries() == entries
    recorder.publish()
    assert recorder.receipt(involvement_id).status_code == 200


def test_without_a_receipts_token_it_is_503_saying_how_to_configure_one(
        recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    involvement_id = recorder.record()
    recorder.publish()
    monkeypatch.setitem(recorder.area.app.config, "RECEIPTS_TOKEN", "")
    before = recorder.area.contents()
    message = _error(recorder.receipt(involvement_id), 503)
    assert "not configured" in message and "LADDER_RECEIPTS_TOKEN" in message
    assert "ladder token create ledger --name receipts --scope inspect" in message
    assert recorder.area.contents() == before


@pytest.mark.parametrize("held", ["an unknown token", "a read token", "a revoked token"])
def test_a_token_the_ledger_refuses_is_503_and_never_shown(
        recorder: Recorder, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        held: str) -> None:
    """The ledger's 401 or 403 is the area's misconfiguration, not the caller's: 503,
    naming the setting; the token is in no answer and no log line."""
    involvement_id = recorder.record()
    recorder.publish()
    db, pepper = recorder.ledger.extensions["db"], recorder.ledger.config["TOKEN_PEPPER"]
    name = new_id("refused-")
    token = {"an unknown token": lambda: "ldr_" + new_id("not-a-token-"),
             "a read token": lambda: create_token(db, LedgerToken, pepper, name,
                                                  ["ledger:read"]),
             "a revoked token": lambda: create_token(db, LedgerToken, pepper, name,
                                                     ["ledger:inspect"], PURPOSE)}[held]()
    if held == "a revoked token":
        assert revoke_token(db, LedgerToken, name=name) == 1
    monkeypatch.setitem(recorder.area.app.config, "RECEIPTS_TOKEN", token)
    before = recorder.area.contents()
    with caplog.at_level(logging.DEBUG):
        response = recorder.receipt(involvement_id)
    message = _error(response, 503)
    assert "LADDER_RECEIPTS_TOKEN" in message and "refused" in message
    assert token not in response.text and token not in caplog.text
    assert recorder.area.contents() == before


def test_a_ledger_that_is_down_silent_or_failing_is_503(
        recorder: Recorder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        redis_server: EmbeddedRedis) -> None:
    """Nothing listening, a ledger that never answers (within the bounded timeout), and a
    ledger answering 503 itself (its database is away): each 503, in the area's words."""
    involvement_id = recorder.record()
    recorder.publish()
    before = recorder.area.contents()
    config = recorder.area.app.config
    monkeypatch.setitem(config, "LEDGER_URL", f"http://127.0.0.1:{free_port()}")
    assert "cannot be reached" in _error(recorder.receipt(involvement_id), 503)

    monkeypatch.setattr(receipts, "TIMEOUT", 0.5)
    # It takes connections (the kernel does, into its backlog) and never answers.
    with socket.create_server(("127.0.0.1", 0)) as server:
        monkeypatch.setitem(config, "LEDGER_URL", f"http://127.0.0.1:{server.getsockname()[1]}")
        started = time.monotonic()
        assert "cannot be reached" in _error(recorder.receipt(involvement_id), 503)
        assert time.monotonic() - started < 5

    # A real ledger whose database cannot be opened answers 503 in its own shape.
    broken = create_ledger({"DATABASE_URL": f"sqlite:///{tmp_path}/absent/ledger.db",
                            "REDIS_URL": redis_server.url, "TESTING": True,
                            "SIGNING_KEY": base64.b64encode(bytes(32)).decode()})
    with serving.served(broken) as url:
        monkeypatch.setitem(config, "LEDGER_URL", url)
        message = _error(recorder.receipt(involvement_id), 503)
    assert "it answered 503" in message and "database" not in message
    broken.extensions["db"].dispose()
    assert recorder.area.contents() == before


def test_an_involvement_whose_row_does_not_name_its_event_is_found_in_the_outbox(
        recorder: Recorder) -> None:
    """A row written during an upgrade by code before migration 0006 names no event: the
    recording event is found in the outbox, and the receipt is the same."""
    involvement_id = recorder.record()
    recorder.publish()
    named = recorder.receipt(involvement_id)
    assert named.status_code == 200
    with recorder.area.app.extensions["db"].writing() as session:
        session.execute(sa.update(Involvement).where(Involvement.id == involvement_id)
                        .values(recorded_event_id=None))
    searched = recorder.receipt(involvement_id)
    assert searched.status_code == 200
    assert searched.text.split("\n")[:3] == named.text.split("\n")[:3]


def test_migration_0006_names_the_recording_event_of_each_involvement(
        backend: str, tmp_path: Path) -> None:
    """From the outbox: the involvement.recorded event of each, never its correction."""
    def event(type_: str, event_id: str, involvement_id: str) -> dict[str, Any]:
        payload = {"specversion": "1.0", "id": event_id, "source": f"/ladder/{AREA}",
                   "type": f"org.ladder.involvement.{type_}", "subject": "a1",
                   "data": {"area": AREA, "involvement_id": involvement_id}}
        return {"event_id": event_id, "payload": json.dumps(payload, separators=(",", ":")),
                "created_at": "2026-11-30 10:00:00"}

    with database(backend, tmp_path, AREA) as url:
        upgrade(AREA, url, "0005")
        engine = make_engine(url)
        now = "2026-11-30 10:00:00"
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO activities (id, kind, org_unit, status, details, revision, "
                "created_at, updated_at) VALUES ('a1', 'vacancy', 'ward-1', 'active', '{}', 1, "
                ":now, :now)"), {"now": now})
            connection.execute(sa.text(
                "INSERT INTO involvements (id, activity_id, pseudonym, stage, role, hours, "
                "recognition, decision_power, from_start, feedback_given, extras, step, "
                "rubric_version, rubric_rule, status, revision, recorded_at, updated_at) "
                "VALUES (:id, 'a1', 'p', 'shortlisting', 'panel_member', 1, 'paid', 'equal', "
                "true, true, '{}', 4, '2', 'r', 'active', 1, :now, :now)"),
                [{"id": "i1", "now": now}, {"id": "i2", "now": now}])
            connection.execute(sa.text(
                "INSERT INTO outbox (event_id, payload, created_at, attempts) "
                "VALUES (:event_id, :payload, :created_at, 0)"),
                [event("recorded", "e1", "i1"), event("corrected", "e2", "i1"),
                 event("recorded", "e3", "i2"),
                 {"event_id": "e4", "payload": "involvement.recorded, not JSON",
                  "created_at": now}])
        upgrade(AREA, url)
        with engine.connect() as connection:
            assert dict(connection.execute(sa.text(
                "SELECT id, recorded_event_id FROM involvements")).all()) == {
                "i1": "e1", "i2": "e3"}
        engine.dispose()


@pytest.mark.parametrize("name", AREAS)
def test_every_area_serves_the_receipt_route(name: str, redis_server: EmbeddedRedis) -> None:
    # The OpenAPI document needs no database.
    app = importlib.import_module(areas.get(name).module).create_app(
        {"DATABASE_URL": "sqlite://", "REDIS_URL": redis_server.url, "TESTING": True})
    spec = app.test_client().get("/openapi.json").json
    app.extensions["db"].dispose()
    route = spec["paths"]["/v1/involvements/{involvement_id}/receipt"]["get"]
    assert route["x-scope"] == "read"
    assert route["summary"] == ("The ledger's receipt of the event that recorded this "
                                "involvement.")
    assert {"200", "409", "503"} <= set(route["responses"])


def test_the_areas_ask_the_ledger_of_this_machine_unless_told_and_compose_tells_them() -> None:
    assert load(AREA, {})["LEDGER_URL"] == "http://127.0.0.1:8000"
    assert load(AREA, {"LADDER_BIND": "127.0.0.9", "LEDGER_PORT": "9100"})["LEDGER_URL"] == (
        "http://127.0.0.9:9100")
    assert load(AREA, {"LADDER_BIND": "0.0.0.0"})["RECEIPTS_TOKEN"] == ""
    for wrong in ({"LADDER_LEDGER_URL": "ledger:8000"},
                  {"LADDER_RECEIPTS_TOKEN": "ldr_abc def"}):
        with pytest.raises(ConfigError, match=next(iter(wrong))):
            load(AREA, wrong)
    services = compose.raw()["services"]
    for name in AREAS:
        env = services[name]["environment"]
        assert env["LADDER_LEDGER_URL"] == "${LADDER_LEDGER_URL:-http://ledger:8000}", name
        assert env["LADDER_RECEIPTS_TOKEN"] == "${LADDER_RECEIPTS_TOKEN:-}", name
    assert "LADDER_RECEIPTS_TOKEN" not in services["ledger"]["environment"]
