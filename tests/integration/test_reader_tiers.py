"""Reader tiers on the ledger: a read token reaches figures and never an entry, inspect
tokens state a purpose (on the command line too), the dashboard takes every tier, and
the migration gives today's tokens and subscriptions their new meaning."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from services.cli import main
from services.ledger import leaves
from services.ledger.models import AccessLog, ApiToken, Entry
from shared.db import Database
from shared.migrations import upgrade
from tests.integration.conftest import PURPOSE, MakeApp
from tests.integration.test_dashboard import sign_in
from tests.integration.test_ledger_api import Ledger
from tests.support import events as ev
from tests.support.databases import database

# Query arguments enough for every read route to answer 200.
QUERY = {"from": "2026-01-01", "to": "2026-12-31", "area": "recruitment",
         "group_by": "org_unit", "first": "1", "second": "3"}


@pytest.fixture
def ledger(make_app: MakeApp) -> Ledger:
    """The ledger with a few entries, each with something no read token may see."""
    ledger = Ledger(make_app("ledger"))
    ledger.append([ev.activity("recruitment", "east", time="2026-01-05T09:00:00Z"),
                   ev.involvement("recruitment", 7, pseudonym="p_needle", org_unit="east",
                                  time="2026-01-06T09:00:00Z"),
                   ev.involvement("recruitment", 4, pseudonym="p_needle", org_unit="east",
                                  time="2026-02-06T09:00:00Z")])
    return ledger


def _entry_content(ledger: Ledger) -> set[str]:
    """What only an entry holds: its ids, pseudonym and leaf bytes. (Leaf hashes are not
    content: consistency proofs, which are public, are made of them.)"""
    found = set()
    with ledger.app.extensions["db"].reading() as session:
        for row in session.scalars(sa.select(Entry)):
            data = json.loads(row.event)["data"]
            leaf = leaves.line(row.seq, row.received_at, row.event, row.salt)
            found |= {row.event_id, base64.b64encode(leaf).decode()}
            found |= {str(v) for k, v in data.items() if k.endswith("_id") or k == "pseudonym"}
    return found


def _read_routes(ledger: Ledger) -> list[tuple[str, dict[str, str]]]:
    """Every GET a read token may make, with the query arguments it declares."""
    spec = ledger.http.get("/openapi.json").json
    routes = []
    for path, item in spec["paths"].items():
        operation = item.get("get")
        if operation is None or operation.get("x-scope") not in (None, "read"):
            continue
        declared = {p["name"] for p in [*item.get("parameters", []),
                                        *operation.get("parameters", [])] if p["in"] == "query"}
        routes.append((path, {k: v for k, v in QUERY.items() if k in declared}))
    return routes


def test_a_read_token_reaches_no_entry_content_anywhere(ledger: Ledger) -> None:
    # An inspector's search is in the access log, with the pseudonym in its query.
    assert ledger.get("/v1/entries", pseudonym="p_needle").json["items"]
    needles = _entry_content(ledger)
    routes = _read_routes(ledger)
    assert {"/v1/metrics", "/v1/exports/metrics", "/v1/access-log", "/ct/v1/get-sth",
            "/ct/v1/get-sth-consistency", "/v1/public-key"} <= {path for path, _ in routes}
    bodies = {}
    for path, query in routes:
        answer = ledger.get(path, ledger.auditor, **query)
        # A path with a parameter names nothing here: 404 is its answer.
        allowed = (200, 404) if "{" in path else (200,)
        assert answer.status_code in allowed, (path, answer.get_data(as_text=True))
        bodies[path] = answer.get_data(as_text=True)
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    for page in ("/dashboard", "/dashboard/areas/recruitment"):
        answer = http.get(page, query_string={"from": "2026-01-01", "to": "2026-12-31"})
        assert answer.status_code == 200
        bodies[page] = answer.get_data(as_text=True)
    leaks = {(path, needle) for path, body in bodies.items() for needle in needles
             if needle in body}
    assert not leaks


def test_every_tier_signs_in_to_the_dashboard_and_an_inspectors_views_carry_its_purpose(
        ledger: Ledger) -> None:
    for token in (ledger.auditor, ledger.inspector, ledger.admin):
        http = ledger.app.test_client()
        assert sign_in(http, token).status_code == 303
        assert http.get("/dashboard").status_code == 200
    with ledger.app.extensions["db"].reading() as session:
        views = session.execute(sa.select(AccessLog.token_name, AccessLog.purpose)
                                .where(AccessLog.path.startswith("/dashboard"),
                                       AccessLog.token_name.is_not(None))).all()
    assert {tuple(v) for v in views} == {("board", None), ("cqc", PURPOSE), ("ops", None)}


def _cli(ledger: Ledger, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("LEDGER_DATABASE_URL", ledger.app.extensions["db"].url)
    return CliRunner().invoke(main, ["token", "create", "ledger", "--name", "cqc-2", *args])


def _tokens(ledger: Ledger) -> list[tuple[Any, ...]]:
    """(name, scopes, purpose) of every token, oldest first."""
    with ledger.app.extensions["db"].reading() as session:
        rows = session.execute(sa.select(ApiToken.name, ApiToken.scopes, ApiToken.purpose)
                               .order_by(ApiToken.id))
        return [tuple(row) for row in rows]


def test_the_cli_creates_an_inspect_token_with_its_purpose(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _cli(ledger, monkeypatch, "--scope", "inspect", "--purpose", PURPOSE)
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert _tokens(ledger)[-1] == ("cqc-2", "ledger:inspect", PURPOSE)
    assert ledger.get("/v1/entries", token).status_code == 200
    assert ledger.get("/v1/tokens", token).status_code == 403


@pytest.mark.parametrize(("args", "why"), [
    (["--scope", "inspect"], "must state its purpose"),
    (["--scope", "ledger:inspect", "--scope", "read"], "must state its purpose"),
    (["--scope", "inspect", "--purpose", ""], "1 to 500 characters"),
    (["--scope", "inspect", "--purpose", "   "], "not only spaces"),
    (["--scope", "inspect", "--purpose", "x" * 501], "1 to 500 characters"),
    (["--scope", "inspect", "--purpose", "CQC\x00DSA"], "NUL"),
    (["--scope", "inspect", "--purpose", "CQC \udcff"], "lone surrogate"),
    (["--scope", "read", "--purpose", "CQC\x00DSA"], "NUL"),
    (["--scope", "write"], "unknown scope(s) ledger:write; use read, inspect, admin"),
], ids=["none", "none-with-read", "empty", "blank", "over-long", "nul", "surrogate",
        "nul-on-read", "ledger-write"])
def test_the_cli_refuses_an_inspect_token_without_a_storable_purpose(
        ledger: Ledger, monkeypatch: pytest.MonkeyPatch, args: list[str], why: str) -> None:
    before = _tokens(ledger)
    result = _cli(ledger, monkeypatch, *args)
    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output and why in result.output
    assert "Traceback" not in result.output
    assert _tokens(ledger) == before


def test_only_ledger_tokens_state_a_purpose(make_app: MakeApp,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    db = make_app("recruitment").extensions["db"]
    monkeypatch.setenv("RECRUITMENT_DATABASE_URL", db.url)
    for scope in ("inspect", "read"):
        result = CliRunner().invoke(main, ["token", "create", "recruitment", "--name", "hr",
                                           "--scope", scope, "--purpose", PURPOSE])
        assert result.exit_code == 2, result.output
    assert "unknown scope(s) recruitment:inspect" in CliRunner().invoke(main, [
        "token", "create", "recruitment", "--name", "hr", "--scope", "inspect"]).output
    with db.reading() as session:
        assert session.scalar(sa.text("SELECT count(*) FROM api_tokens")) == 0


def test_the_migration_keeps_read_tokens_and_makes_subscriptions_read(
        backend: str, tmp_path: Path) -> None:
    with database(backend, tmp_path, "upgrade") as url:
        upgrade("ledger", url, "0006")
        db = Database(url)
        now = datetime(2026, 12, 1)
        with db.writing() as session:
            # The tables as 0006 left them: no model, which knows the new columns.
            session.execute(sa.text(
                "INSERT INTO api_tokens (name, token_hash, scopes, created_at) "
                "VALUES ('board', :hash, 'ledger:read', :now)"), {"hash": "a" * 64, "now": now})
            session.execute(sa.text(
                "INSERT INTO subscriptions (id, url, description, event_types, areas, "
                "enabled, secret, created_at, updated_at) VALUES ('sub_1', "
                "'https://hooks.example.org/', '', '', '', :yes, 'whsec_x', :now, :now)"),
                {"yes": True, "now": now})
            session.execute(sa.text(
                "INSERT INTO access_log (at, method, path, status) "
                "VALUES (:now, 'GET', '/v1/entries', 200)"), {"now": now})
        upgrade("ledger", url)
        with db.reading() as session:
            assert session.execute(sa.text(
                "SELECT name, scopes, purpose FROM api_tokens")).all() == [
                ("board", "ledger:read", None)]
            assert session.execute(sa.text(
                'SELECT id, "grant", purpose FROM subscriptions')).all() == [
                ("sub_1", "read", None)]
            assert session.execute(sa.text("SELECT path, purpose FROM access_log")).all() == [
                ("/v1/entries", None)]
        db.dispose()
