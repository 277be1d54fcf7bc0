"""The auditor API: who may do what, the access log, entries and exports."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest

from services.ledger import service
from shared.outbox import utcnow
from tests.integration.conftest import MakeApp
from tests.integration.test_metrics import YEAR, Ledger
from tests.support import events as ev


@pytest.fixture
def ledger(make_app: MakeApp) -> Ledger:
    """The ledger with a handful of entries in two areas and units."""
    ledger = Ledger(make_app("ledger"))
    batch = [ev.activity("recruitment", "east", time="2026-01-05T09:00:00Z"),
             ev.involvement("recruitment", 7, pseudonym="pA", org_unit="east",
                            time="2026-01-06T09:00:00Z"),
             ev.involvement("training", 4, pseudonym="pB", org_unit="academy",
                            time="2026-02-06T09:00:00Z"),
             ev.involvement("recruitment", 5, pseudonym="pA", org_unit="west",
                            time="2026-03-06T09:00:00Z")]
    ledger.append(batch)
    return ledger


def test_every_read_needs_a_token(ledger: Ledger) -> None:
    for path in ("/v1/entries", "/v1/metrics", "/v1/exports/entries", "/v1/access-log"):
        response = ledger.http.get(path)
        assert response.status_code == 401, path
        assert response.json["code"] == 401


def test_auditors_read_but_cannot_manage(ledger: Ledger) -> None:
    assert ledger.get("/v1/entries").status_code == 200
    assert ledger.get("/v1/tokens").status_code == 403
    assert ledger.get("/v1/rejected").status_code == 403
    created = ledger.http.post("/v1/tokens", json={"name": "x", "scopes": ["ledger:read"]},
                               headers={"Authorization": f"Bearer {ledger.auditor}"})
    assert created.status_code == 403


def test_admins_manage_tokens(ledger: Ledger) -> None:
    admin = {"Authorization": f"Bearer {ledger.admin}"}
    created = ledger.http.post("/v1/tokens", json={"name": "cqc", "scopes": ["ledger:read"]},
                               headers=admin)
    assert created.status_code == 201
    token = created.json["token"]
    assert ledger.get("/v1/entries", token).status_code == 200
    listed = ledger.get("/v1/tokens", ledger.admin).json["items"]
    assert all("token" not in t for t in listed) and "cqc" in [t["name"] for t in listed]
    revoked = ledger.http.post(f"/v1/tokens/{created.json['id']}/revocation", headers=admin)
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert ledger.get("/v1/entries", token).status_code == 401
    bad = ledger.http.post("/v1/tokens", json={"name": "x", "scopes": ["recruitment:write"]},
                           headers=admin)
    assert bad.status_code == 422


def test_every_read_is_in_the_access_log(ledger: Ledger) -> None:
    ledger.get("/v1/entries", area="recruitment")
    ledger.get("/v1/metrics", area="training", **YEAR)
    ledger.http.get("/v1/entries")
    log = ledger.get("/v1/access-log", token_name="board").json["items"]
    assert [(e["method"], e["path"].split("?")[0]) for e in log] == [
        ("GET", "/v1/entries"), ("GET", "/v1/metrics")]
    assert log[0]["path"] == "/v1/entries?area=recruitment"
    assert all(e["status"] == 200 and e["remote_addr"] and e["at"] for e in log)
    everything = ledger.get("/v1/access-log", ledger.admin).json["items"]
    refused = [e for e in everything if e["status"] == 401]
    assert refused and refused[0]["token_name"] is None


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
    today = utcnow().date()
    assert ledger.get("/v1/access-log", since=today.isoformat()).json["items"]
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert ledger.get("/v1/access-log", since=tomorrow).json == {"items": [],
                                                                 "next_after": None}
    bad = ledger.get("/v1/access-log", since="yesterday")
    assert bad.status_code == 422 and "since" in bad.json["errors"]["query"]


def test_rejected_events_page_in_the_envelope(ledger: Ledger) -> None:
    db, signer = ledger.app.extensions["db"], ledger.app.extensions["signer"]
    assert service.append_batch(db, [{"specversion": "1.0"}] * 3, signer).rejected == 3
    page = ledger.get("/v1/rejected", ledger.admin, limit="2").json
    assert len(page["items"]) == 2 and page["next_after"] == page["items"][-1]["id"]
    rest = ledger.get("/v1/rejected", ledger.admin, after=str(page["next_after"])).json
    assert len(rest["items"]) == 1 and rest["next_after"] is None
