"""The auditor API: who may do what, the access log, entries and exports."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from services.ledger.models import AccessLog, ApiToken, Entry
from shared.auth import create_token
from shared.db import WRITER_LOCK
from shared.times import naive_utcnow, rfc3339_of_naive_utc
from tests.integration import test_metrics
from tests.integration.conftest import PURPOSE, MakeApp, new_id
from tests.integration.test_metrics import YEAR
from tests.support import appending
from tests.support import events as ev


class Ledger(test_metrics.Ledger):
    """The ledger app with a reader (``auditor``), an inspector and an admin token; it
    reads as the inspector unless told which token to use."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.inspector = create_token(app.extensions["db"], ApiToken,
                                      app.config["TOKEN_PEPPER"], "cqc", ["ledger:inspect"],
                                      PURPOSE)

    def get(self, path: str, token: str | None = None, **params: Any) -> Any:
        return super().get(path, token or self.inspector, **params)


def _example(app: Flask) -> Ledger:
    """The ledger with a handful of entries in two areas and units."""
    ledger = Ledger(app)
    batch = [ev.activity("recruitment", "east", time="2026-01-05T09:00:00Z"),
             ev.involvement("recruitment", 7, pseudonym="pA", org_unit="east",
                            time="2026-01-06T09:00:00Z"),
             ev.involvement("training", 4, pseudonym="pB", org_unit="academy",
                            time="2026-02-06T09:00:00Z"),
             ev.involvement("recruitment", 5, pseudonym="pA", org_unit="west",
                            time="2026-03-06T09:00:00Z")]
    ledger.append(batch)
    return ledger


@pytest.fixture(scope="module")
def ledger(module_make_app: MakeApp) -> Ledger:
    """``_example``, that the tests here share on each backend: none appends an entry (each
    reads them all, and would see it), and each names the tokens it makes uniquely."""
    return _example(module_make_app("ledger"))


@pytest.fixture
def own_ledger(make_app: MakeApp) -> Ledger:
    """``_example`` on a database of its own, for a test that reads the whole access log or
    every rejected event."""
    return _example(make_app("ledger"))


def test_every_read_needs_a_token(ledger: Ledger) -> None:
    for path in ("/v1/entries", "/v1/metrics", "/v1/exports/entries", "/v1/access-log"):
        response = ledger.http.get(path)
        assert response.status_code == 401, path
        assert response.json["code"] == 401


@pytest.mark.parametrize("reader", ["auditor", "inspector"])
def test_auditors_read_but_cannot_manage(ledger: Ledger, reader: str) -> None:
    token = getattr(ledger, reader)
    assert ledger.get("/v1/metrics", token, area="training", **YEAR).status_code == 200
    assert ledger.get("/v1/tokens", token).status_code == 403
    assert ledger.get("/v1/rejected", token).status_code == 403
    created = ledger.http.post("/v1/tokens", json={"name": "x", "scopes": ["ledger:read"]},
                               headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 403


ENTRY_LEVEL = [("/v1/entries", {}), ("/v1/exports/entries", {"format": "csv"}),
               ("/ct/v1/get-entries", {"start": "0", "end": "3"}),
               ("/ct/v1/get-proof-by-hash", {"hash": "A" * 43 + "=", "tree_size": "4"})]


@pytest.mark.parametrize(("path", "params"), ENTRY_LEVEL)
def test_a_read_token_sees_figures_but_no_entry(ledger: Ledger, path: str,
                                                params: dict[str, str]) -> None:
    refused = ledger.get(path, ledger.auditor, **params)
    assert refused.status_code == 403
    assert refused.json == {"code": 403, "status": "Forbidden", "errors": {},
                            "message": "This token lacks the scope ledger:inspect."}
    assert ledger.get(path, ledger.inspector, **params).status_code in (200, 404)
    assert ledger.get(path, ledger.admin, **params).status_code in (200, 404)


def test_admins_manage_tokens(ledger: Ledger) -> None:
    admin = {"Authorization": f"Bearer {ledger.admin}"}
    name = new_id("cqc-")
    created = ledger.http.post("/v1/tokens", json={
        "name": name, "scopes": ["ledger:inspect"], "purpose": PURPOSE}, headers=admin)
    assert created.status_code == 201
    assert (created.json["scopes"], created.json["purpose"]) == (["ledger:inspect"], PURPOSE)
    token = created.json["token"]
    assert ledger.get("/v1/entries", token).status_code == 200
    listed = ledger.get("/v1/tokens", ledger.admin).json["items"]
    assert all("token" not in t for t in listed) and name in [t["name"] for t in listed]
    assert {t["name"]: t["purpose"] for t in listed}[name] == PURPOSE
    revoked = ledger.http.post(f"/v1/tokens/{created.json['id']}/revocation", headers=admin)
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert ledger.get("/v1/entries", token).status_code == 401
    bad = ledger.http.post("/v1/tokens", json={"name": "x", "scopes": ["recruitment:write"]},
                           headers=admin)
    assert bad.status_code == 422


def test_every_read_is_in_the_access_log_with_its_purpose(own_ledger: Ledger) -> None:
    ledger = own_ledger
    ledger.get("/v1/entries", area="recruitment")
    ledger.get("/v1/metrics", area="training", **YEAR)
    ledger.http.get("/v1/entries")
    log = ledger.get("/v1/access-log", token_name="cqc").json["items"]
    assert [(e["method"], e["path"].split("?")[0]) for e in log] == [
        ("GET", "/v1/entries"), ("GET", "/v1/metrics")]
    assert log[0]["path"] == "/v1/entries?area=recruitment"
    assert all(e["status"] == 200 and e["remote_addr"] and e["at"] for e in log)
    assert {e["purpose"] for e in log} == {PURPOSE}
    everything = ledger.get("/v1/access-log", ledger.admin).json["items"]
    refused = [e for e in everything if e["status"] == 401]
    assert refused and refused[0]["token_name"] is None and refused[0]["purpose"] is None


def test_a_read_and_its_access_log_do_not_wait_for_the_writers(own_ledger: Ledger) -> None:
    """The sequencer holds the writers' lock through each append (PostgreSQL's advisory
    lock; SQLite's one write lock). On PostgreSQL a read answers, and is logged, while
    another holds it; on SQLite, where every write waits for the one writer, the read's
    access log waits for it and is written once it is free, not lost."""
    db = own_ledger.app.extensions["db"]
    postgresql = db.engine.dialect.name == "postgresql"
    before = _logged(db)
    answered: list[int] = []
    reader = threading.Thread(target=lambda: answered.append(
        own_ledger.get("/v1/entries", area="recruitment").status_code), daemon=True)
    holder = db.engine.raw_connection()
    try:
        cursor = holder.cursor()
        if postgresql:
            cursor.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))
        else:
            cursor.execute("BEGIN IMMEDIATE")
        reader.start()
        reader.join(timeout=10 if postgresql else 0.5)
        assert answered == ([200] if postgresql else []), "the read waited for the writers"
    finally:
        if postgresql:
            cursor.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK,))
        else:
            cursor.execute("ROLLBACK")
        holder.close()
    reader.join(timeout=10)
    assert answered == [200]
    assert _logged(db) == before + 1


def _logged(db: Any) -> int:
    with db.reading() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(AccessLog)) or 0)


def test_a_read_token_sees_the_access_log_redacted(own_ledger: Ledger) -> None:
    ledger = own_ledger
    ledger.get("/v1/entries", pseudonym="pA")
    ledger.get("/v1/metrics", ledger.auditor, area="training", **YEAR)
    full = ledger.get("/v1/access-log", ledger.admin).json["items"]
    # Read after the admin: one row more, the admin's own read.
    redacted = ledger.get("/v1/access-log", ledger.auditor).json["items"][:len(full)]
    assert [e["id"] for e in redacted] == [e["id"] for e in full]
    for shown, row in zip(redacted, full, strict=True):
        assert shown == {**row, "path": row["path"].split("?")[0], "remote_addr": None,
                         "user_agent": None, "purpose": None}
    [inspected] = [e for e in full if e["token_name"] == "cqc"]
    assert inspected["path"] == "/v1/entries?pseudonym=pA" and inspected["purpose"] == PURPOSE
    assert inspected["remote_addr"] and inspected["user_agent"]
    assert "pA" not in json.dumps(redacted)


# A purpose as a client's JSON spells it (None: no purpose at all), and why it is refused.
HOSTILE_PURPOSES = [
    (None, "must state its purpose"), ('""', "Length must be between 1 and 500"),
    ('"   "', "not only spaces"), (f'"{"x" * 501}"', "Length must be between 1 and 500"),
    (r'"CQC\u0000DSA-2026-14"', "NUL"), (r'"CQC \ud800"', "lone surrogate"),
    ("7", "Not a valid string"),
]


@pytest.mark.parametrize(("purpose", "why"), HOSTILE_PURPOSES)
def test_an_inspect_token_without_a_storable_purpose_is_422_naming_it(
        ledger: Ledger, purpose: str | None, why: str) -> None:
    stated = f', "purpose": {purpose}' if purpose is not None else ""
    before = _rows(ledger.app)
    response = ledger.http.post(
        "/v1/tokens", data='{"name": "cqc-2", "scopes": ["ledger:inspect"]' + stated + "}",
        headers={"Authorization": f"Bearer {ledger.admin}", "Content-Type": "application/json"})
    assert response.status_code == 422, response.json
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert list(response.json["errors"]["json"]) == ["purpose"]
    assert why in str(response.json["errors"]["json"]["purpose"])
    assert _rows(ledger.app) == before


def _rows(app: Flask) -> int:
    """How many tokens there are."""
    with app.extensions["db"].reading() as session:
        return int(session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) or 0)


def test_a_read_or_admin_token_may_state_a_purpose_and_its_reads_carry_it(
        ledger: Ledger) -> None:
    admin = {"Authorization": f"Bearer {ledger.admin}"}
    name = new_id("healthwatch-")
    made = ledger.http.post("/v1/tokens", json={
        "name": name, "scopes": ["ledger:read"], "purpose": "Quarterly report"},
        headers=admin).json
    plain = ledger.http.post("/v1/tokens", json={"name": new_id("board-"),
                                                 "scopes": ["ledger:read"]},
                             headers=admin).json
    assert (made["purpose"], plain["purpose"]) == ("Quarterly report", None)
    ledger.get("/v1/metrics", made["token"], area="training", **YEAR)
    with ledger.app.extensions["db"].reading() as session:
        logged = session.execute(sa.select(AccessLog.token_name, AccessLog.purpose)
                                 .where(AccessLog.token_name == name)).all()
    assert [tuple(row) for row in logged] == [(name, "Quarterly report")]


def test_entries_filter_by_org_unit_and_pseudonym(ledger: Ledger) -> None:
    def seqs(**params: str) -> list[int]:
        return [e["seq"] for e in ledger.get("/v1/entries", **params).json["items"]]

    assert seqs(pseudonym="pA") == [2, 4]
    assert seqs(org_unit="east") == [1, 2]
    assert seqs(area="recruitment", pseudonym="pA", org_unit="west") == [4]


@pytest.mark.parametrize(("params", "field"), [
    ({"after": "-1"}, "after"), ({"after": "abc"}, "after"), ({"area": "x"}, "area"),
    ({"type": "org.ladder.nothing"}, "type"),
    ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
    ({"limit": "0"}, "limit"),
    ({"from": "2026-13-01"}, "from"), ({"from": "20260101"}, "from"),
    ({"to": "2026-01-01T00:00:00"}, "to"),  # a date-time needs its offset
    ({"from": "2026-01-02", "to": "2026-01-01"}, "to"),
    ({"to": "9999-12-31T23:00:00-05:00"}, "to"), ({"from": "0001-01-01T00:00:00+01:00"}, "from"),
])
def test_bad_entry_parameters_are_422_naming_them(
    ledger: Ledger, params: dict[str, str], field: str
) -> None:
    response = ledger.get("/v1/entries", **params)
    assert response.status_code == 422
    assert field in response.json["errors"]["query"]


def test_exports_hold_every_entry_exactly_as_stored(ledger: Ledger) -> None:
    entries = ledger.get("/v1/entries").json["items"]
    ndjson = ledger.get("/v1/exports/entries", format="ndjson")
    assert ndjson.mimetype == "application/x-ndjson"
    lines = [json.loads(line) for line in ndjson.get_data(as_text=True).splitlines()]
    assert [line["event"] for line in lines] == [e["event"] for e in entries]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4]
    text = ledger.get("/v1/exports/entries", format="csv", area="recruitment").get_data(
        as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["seq"]) for r in rows] == [1, 2, 4]
    assert json.loads(rows[1]["event"]) == entries[1]["event"]
    assert rows[1]["pseudonym"] == "pA"
    # The times as stored, to the microsecond, whichever database wrote the text.
    with ledger.app.extensions["db"].reading() as session:
        stored = {seq: (rfc3339_of_naive_utc(t), rfc3339_of_naive_utc(r)) for seq, t, r in
                  session.execute(sa.select(Entry.seq, Entry.time, Entry.received_at))}
    assert [(r["time"], r["received_at"]) for r in rows] == [stored[1], stored[2], stored[4]]
    assert [line["received_at"] for line in lines] == [stored[n][1] for n in (1, 2, 3, 4)]


@pytest.mark.parametrize(("params", "seqs"), [
    ({"from": "2026-01-01", "to": "2026-12-31"}, [1, 2, 3, 4]),  # the whole year, as metrics
    ({"from": "2026-01-05", "to": "2026-01-05"}, [1]),  # to is the end of its day
    ({"from": "2026-01-06"}, [2, 3, 4]),  # from is the start of its day
    ({"to": "2026-01-05"}, [1]),
    ({"to": "2026-01-04"}, []),
    ({"from": "2026-01-06T09:00:00Z", "to": "2026-03-06T09:00:00Z"}, [2, 3]),  # to excluded
    ({"from": "2026-01-06T10:00:00+01:00"}, [2, 3, 4]),
    ({"from": "2026-02-01", "to": "2026-03-06T09:00:00.000001Z"}, [3, 4]),
    ({"from": "0001-01-01", "to": "9999-12-31"}, [1, 2, 3, 4]),  # the ends of the calendar
])
def test_entry_ranges_take_plain_dates_and_date_times(
    ledger: Ledger, params: dict[str, str], seqs: list[int]
) -> None:
    response = ledger.get("/v1/entries", **params)
    assert response.status_code == 200, response.json
    assert [e["seq"] for e in response.json["items"]] == seqs
    export = ledger.get("/v1/exports/entries", format="ndjson", **params).get_data(as_text=True)
    assert [json.loads(line)["seq"] for line in export.splitlines()] == seqs


def test_entry_times_are_written_exactly_as_in_the_leaves(ledger: Ledger) -> None:
    entries = ledger.get("/v1/entries").json["items"]
    leaves = ledger.get("/v1/exports/entries", format="ndjson").get_data(as_text=True)
    received = [json.loads(line)["received_at"] for line in leaves.splitlines()]
    assert [e["received_at"] for e in entries] == received
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", t) for t in received)


def test_entries_page_on_with_next_after(ledger: Ledger) -> None:
    page = ledger.get("/v1/entries", limit="3").json
    assert set(page) == {"items", "next_after"}
    assert ([e["seq"] for e in page["items"]], page["next_after"]) == ([1, 2, 3], 3)
    rest = ledger.get("/v1/entries", limit="3", after=str(page["next_after"])).json
    assert ([e["seq"] for e in rest["items"]], rest["next_after"]) == ([4], None)


def test_the_access_log_pages_and_takes_a_plain_date(ledger: Ledger) -> None:
    for _ in range(3):
        ledger.get("/v1/entries")
    page = ledger.get("/v1/access-log", limit="2").json
    assert len(page["items"]) == 2 and page["next_after"] == page["items"][-1]["id"]
    rest = ledger.get("/v1/access-log", after=str(page["next_after"])).json["items"]
    assert rest[0]["id"] > page["next_after"]
    today = naive_utcnow().date()
    assert ledger.get("/v1/access-log", since=today.isoformat()).json["items"]
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert ledger.get("/v1/access-log", since=tomorrow).json == {"items": [],
                                                                 "next_after": None}
    bad = ledger.get("/v1/access-log", since="yesterday")
    assert bad.status_code == 422 and "since" in bad.json["errors"]["query"]


def test_rejected_events_page_in_the_envelope(own_ledger: Ledger) -> None:
    ledger = own_ledger
    db, signer = ledger.app.extensions["db"], ledger.app.extensions["signer"]
    assert appending.append(db, [{"specversion": "1.0"}] * 3, signer).rejected == 3
    page = ledger.get("/v1/rejected", ledger.admin, limit="2").json
    assert len(page["items"]) == 2 and page["next_after"] == page["items"][-1]["id"]
    rest = ledger.get("/v1/rejected", ledger.admin, after=str(page["next_after"])).json
    assert len(rest["items"]) == 1 and rest["next_after"] is None
