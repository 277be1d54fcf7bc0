"""The auditor API: who may do what, the access log, entries and exports."""

from __future__ import annotations

import csv
import io
import json

import pytest

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
    listed = ledger.get("/v1/tokens", ledger.admin).json
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
    log = ledger.get("/v1/access-log", token_name="board").json
    assert [(e["method"], e["path"].split("?")[0]) for e in log] == [
        ("GET", "/v1/entries"), ("GET", "/v1/metrics")]
    assert log[0]["path"] == "/v1/entries?area=recruitment"
    assert all(e["status"] == 200 and e["remote_addr"] and e["at"] for e in log)
    everything = ledger.get("/v1/access-log", ledger.admin).json
    refused = [e for e in everything if e["status"] == 401]
    assert refused and refused[0]["token_name"] is None


def test_entries_filter_by_org_unit_and_pseudonym(ledger: Ledger) -> None:
    def seqs(**params: str) -> list[int]:
        return [e["seq"] for e in ledger.get("/v1/entries", **params).json["entries"]]

    assert seqs(pseudonym="pA") == [2, 4]
    assert seqs(org_unit="east") == [1, 2]
    assert seqs(area="recruitment", pseudonym="pA", org_unit="west") == [4]


@pytest.mark.parametrize(("params", "field"), [
    ({"after": "-1"}, "after"), ({"after": "abc"}, "after"), ({"area": "x"}, "area"),
    ({"type": "org.ladder.nothing"}, "type"),
    ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
    ({"limit": "0"}, "limit"),
])
def test_bad_entry_parameters_are_422_naming_them(
    ledger: Ledger, params: dict[str, str], field: str
) -> None:
    response = ledger.get("/v1/entries", **params)
    assert response.status_code == 422
    assert field in response.json["errors"]["query"]


def test_exports_hold_every_entry_exactly_as_stored(ledger: Ledger) -> None:
    entries = ledger.get("/v1/entries").json["entries"]
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
