"""From a figure to the entries behind it, each with its receipt: for the inspect tier
only, under its stated purpose, in the access log."""

from __future__ import annotations

import base64
import re

import pytest
import sqlalchemy as sa

from services.ledger.models import AccessLog, ApiToken
from shared.auth import create_token
from tests.integration.conftest import MakeApp
from tests.integration.test_dashboard import YEAR, sign_in
from tests.integration.test_metrics import Ledger
from tests.support import c2sp
from tests.support.scenario import events as scenario

PURPOSE = "CQC inspection of Rose House, DSA-2026-14"


@pytest.fixture
def ledger(make_app: MakeApp) -> Ledger:
    ledger = Ledger(make_app("ledger"))
    ledger.append(scenario())
    return ledger


def _inspector(ledger: Ledger) -> str:
    app = ledger.app
    return create_token(app.extensions["db"], ApiToken, app.config["TOKEN_PEPPER"], "cqc",
                        ["ledger:inspect"], PURPOSE)


def _seqs(page: str) -> list[int]:
    return [int(s) for s in re.findall(r'<tr><th scope="row">(\d+)</th>', page)]


def test_an_inspector_reads_the_entries_behind_the_figures_each_with_its_receipt(
        ledger: Ledger) -> None:
    token = _inspector(ledger)
    http = ledger.app.test_client()
    sign_in(http, token)
    area = http.get(f"/dashboard/areas/recruitment?{YEAR}").text
    link = re.search(r'href="(/dashboard/areas/recruitment/entries\?[^"]+)">The', area)
    assert link, "the headline links to the entries behind it"
    page = http.get(link.group(1).replace("&amp;", "&"))
    assert page.status_code == 200 and PURPOSE in page.text
    api = ledger.get("/v1/entries", token, area="recruitment", **{
        "from": "2026-01-01", "to": "2027-01-01"}).json["items"]
    assert _seqs(page.text) == [item["seq"] for item in api] and api
    # Each period of the table links to its own entries: the first quarter's.
    quarter = re.search(r'href="([^"]+)" title="The entries behind this quarter">Q1 2026',
                        area)
    assert quarter
    first = http.get(quarter.group(1).replace("&amp;", "&")).text
    in_q1 = ledger.get("/v1/entries", token, area="recruitment", **{
        "from": "2026-01-01", "to": "2026-04-01"}).json["items"]
    assert _seqs(first) == [item["seq"] for item in in_q1]
    assert len(in_q1) < len(api)
    # A receipt proves its entry's leaf is in the log the public key signed.
    vkey = c2sp.parse_vkey(ledger.get("/v1/public-key").json["vkey"])
    for item in api[:3]:
        receipt = http.get(f"/dashboard/entries/{item['seq']}/receipt")
        assert receipt.status_code == 200
        assert receipt.headers["Content-Disposition"] == (
            f'attachment; filename="ladder-{item["seq"]}.tlog-proof"')
        checkpoint = c2sp.verify_tlog_proof(receipt.data, base64.b64decode(item["leaf_hash"]),
                                            vkey, [], 0)
        assert checkpoint.size == 26
    with ledger.app.extensions["db"].reading() as session:
        logged = session.execute(sa.select(AccessLog.path, AccessLog.purpose).where(
            AccessLog.token_name == "cqc")).all()
    assert ("/dashboard/entries/1/receipt", PURPOSE) in [tuple(row) for row in logged]


def test_the_entries_page_by_unit_and_page_by_page(ledger: Ledger) -> None:
    token = _inspector(ledger)
    http = ledger.app.test_client()
    sign_in(http, token)
    east = http.get(f"/dashboard/areas/recruitment/entries?{YEAR}&org_unit=east").text
    api = ledger.get("/v1/entries", token, area="recruitment", org_unit="east", **{
        "from": "2026-01-01", "to": "2027-01-01"}).json["items"]
    assert _seqs(east) == [item["seq"] for item in api]
    after = api[0]["seq"]
    rest = http.get(f"/dashboard/areas/recruitment/entries?{YEAR}&org_unit=east&after={after}")
    assert _seqs(rest.text) == [item["seq"] for item in api[1:]]


@pytest.mark.parametrize(("path", "status"), [
    (f"/dashboard/areas/recruitment/entries?{YEAR}&after=-1", 422),
    (f"/dashboard/areas/recruitment/entries?{YEAR}&after=one", 422),
    (f"/dashboard/areas/recruitment/entries?{YEAR}&after=99999999999999999999999", 422),
    (f"/dashboard/areas/nowhere/entries?{YEAR}", 404),
    (f"/dashboard/areas/recruitment/entries?{YEAR}&org_unit=nowhere", 404),
    ("/dashboard/entries/0/receipt", 404),
    ("/dashboard/entries/27/receipt", 404),
    ("/dashboard/entries/-1/receipt", 404),
    # past any 64-bit seq: no database's integer holds it
    ("/dashboard/entries/9223372036854775808/receipt", 404),
    ("/dashboard/entries/99999999999999999999999/receipt", 404),
])
def test_bad_requests_for_entries_get_the_error_page(
        ledger: Ledger, path: str, status: int) -> None:
    http = ledger.app.test_client()
    sign_in(http, _inspector(ledger))
    assert http.get(path).status_code == status


def test_figures_readers_see_no_entries(ledger: Ledger) -> None:
    """An auditor reads figures, never entries: no link, and 403 when asked."""
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    area = http.get(f"/dashboard/areas/recruitment?{YEAR}").text
    assert "/entries" not in area
    for path in (f"/dashboard/areas/recruitment/entries?{YEAR}", "/dashboard/entries/1/receipt"):
        answer = http.get(path)
        assert answer.status_code == 403 and "inspect" in answer.text
        assert "pseudonym" not in answer.text.lower()


def test_an_erased_entry_shows_as_erased_and_has_no_receipt(ledger: Ledger) -> None:
    erased = ledger.http.post("/v1/entries/2/erasure", json={"ground": "consent-withdrawn"},
                              headers={"Authorization": f"Bearer {ledger.admin}"})
    assert erased.status_code == 200, erased.text
    http = ledger.app.test_client()
    sign_in(http, _inspector(ledger))
    page = http.get(f"/dashboard/areas/recruitment/entries?{YEAR}").text
    row = re.search(r'<tr><th scope="row">2</th>(.*?)</tr>', page, re.S)
    assert row and "Erased" in row.group(1) and "consent-withdrawn" in row.group(1)
    assert "/dashboard/entries/2/receipt" not in page
    answer = http.get("/dashboard/entries/2/receipt")
    assert answer.status_code == 409 and "erased" in answer.text
