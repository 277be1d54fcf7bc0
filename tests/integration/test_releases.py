"""Published releases: open data at stable URLs, computed from a signed tree head,
append-only, corrected only by a new release that names the one it replaces."""

from __future__ import annotations

import csv
import hashlib
import io
import threading
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import Flask

from services.cli import main
from services.ledger import releases, service
from services.ledger.models import ApiToken, Release
from services.ledger.signing import TreeHead
from shared.auth import create_token
from shared.errors import Conflict, Invalid
from tests.integration.conftest import MakeApp
from tests.support import appending
from tests.support.scenario import events as scenario

NOW = datetime(2027, 1, 15, 12, 0)


@pytest.fixture
def ledger(make_app: MakeApp) -> Flask:
    """The ledger with the worked example of docs/metrics.md appended (all of it in 2026)."""
    app = make_app("ledger")
    assert appending.append(app.extensions["db"], scenario(),
                            app.extensions["signer"]).rejected == 0
    return app


def _publish(app: Flask, period: str, **kwargs: Any) -> dict[str, Any]:
    return releases.publish(app.extensions["db"], app.extensions["disclosure"], period, NOW,
                            **kwargs)


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_release_is_open_data_computed_from_a_signed_tree_head(ledger: Flask) -> None:
    made = _publish(ledger, "2026-Q1")
    http = ledger.test_client()
    # No token anywhere: the list, the release, its figures and its dictionary.
    listed = http.get("/v1/releases").json
    assert [r["id"] for r in listed["items"]] == [made["id"]] and listed["next_after"] is None
    about = http.get(f"/v1/releases/{made['id']}").json
    assert about == {**made, "created_at": "2027-01-15T12:00:00.000000Z"}
    head = TreeHead.from_json(about["tree_head"])
    assert head.size == 26
    key = http.get("/v1/public-key").json["public_key_pem"]
    head.verify(load_pem_public_key(key.encode()))  # type: ignore[arg-type]
    figures = http.get(f"/v1/releases/{made['id']}/figures.csv")
    assert figures.status_code == 200 and figures.mimetype == "text/csv"
    assert figures.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert hashlib.sha256(figures.data).hexdigest() == about["figures_sha256"]
    again = http.get(f"/v1/releases/{made['id']}/figures.csv",
                     headers={"If-None-Match": figures.headers["ETag"]})
    assert again.status_code == 304
    dictionary = _rows(http.get(f"/v1/releases/{made['id']}/dictionary.csv").text)
    rows = _rows(figures.text)
    assert [d["column"] for d in dictionary if d["column"]] == list(rows[0])
    assert "rounded to a multiple of 5" in dictionary[-1]["meaning"]
    # Every area, all units and each unit; the quarter and each of its months.
    recruitment = [r for r in rows if r["area"] == "recruitment"]
    assert {(r["org_unit"], r["period"]) for r in recruitment} == {
        (unit, period) for unit in ("all", "east", "west")
        for period in ("2026-Q1", "2026-01", "2026-02", "2026-03")}
    assert {r["period_kind"] for r in recruitment} == {"quarter", "month"}


def test_a_release_shows_what_a_board_reads_in_the_api(ledger: Flask) -> None:
    """Published figures are the API's disclosure-controlled ones: the same cell, the same
    value, so that a release and a query cannot be subtracted from each other."""
    made = _publish(ledger, "2026")
    rows = _rows(ledger.test_client().get(f"/v1/releases/{made['id']}/figures.csv").text)
    db, pepper = ledger.extensions["db"], ledger.config["TOKEN_PEPPER"]
    board = create_token(db, ApiToken, pepper, "board", ["ledger:read"])
    api = ledger.test_client().get("/v1/metrics", headers={"Authorization": f"Bearer {board}"},
                                   query_string={"area": "recruitment", "group_by": "org_unit",
                                                 "period": "year", "from": "2026-01-01",
                                                 "to": "2026-12-31"}).json
    published = {r["org_unit"]: r for r in rows
                 if r["area"] == "recruitment" and r["period"] == "2026"}
    for row in [*api["rows"], {**api["total"], "org_unit": "all"}]:
        for name in ("activities", "involvements", "citizens", "returning_citizens"):
            assert published[row["org_unit"]][name] == str(row[name]), (row["org_unit"], name)
        assert all(int(published[row["org_unit"]][f"step_{n}"]) % 5 == 0 for n in range(1, 8))


def test_a_correction_is_a_new_release_naming_the_one_it_replaces(ledger: Flask) -> None:
    first = _publish(ledger, "2026-Q2")
    with pytest.raises(Conflict, match=f"is release {first['id']}"):
        _publish(ledger, "2026-Q2")
    with pytest.raises(Invalid):
        _publish(ledger, "2026-Q2", replaces=first["id"])  # a correction says why
    second = _publish(ledger, "2026-Q2", replaces=first["id"], reason="late inspection records")
    assert (second["replaces"], second["reason"]) == (first["id"], "late inspection records")
    # Only the latest release of a period can be corrected: the chain has no branches.
    with pytest.raises(Conflict):
        _publish(ledger, "2026-Q2", replaces=first["id"], reason="again")
    http = ledger.test_client()
    assert http.get(f"/v1/releases/{first['id']}").json["replaced_by"] == second["id"]
    assert [r["id"] for r in http.get("/v1/releases?period=2026-Q2").json["items"]] == [
        first["id"], second["id"]]
    # The first release's figures are still there, byte for byte.
    assert http.get(f"/v1/releases/{first['id']}/figures.csv").status_code == 200


def test_a_release_waits_for_figures_that_cover_its_tree_head(make_app: MakeApp) -> None:
    """A release names the tree head its figures were computed from. With the measures
    follower behind the log, the latest head covers entries the figures do not: the release
    waits for the follower, and refuses, writing nothing, if it does not come."""
    app = make_app("ledger")
    db, signer = app.extensions["db"], app.extensions["signer"]
    events = scenario()
    appending.append(db, events[:10], signer)
    # The rest lands in the log, and the follower has not applied it.
    assert service.append_batch(db, events[10:], signer).rejected == 0
    with pytest.raises(releases.MeasuresBehind, match=r"16 entries behind the log"):
        _publish(app, "2026", wait=0.3)
    with db.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Release)) == 0
    # The follower comes while the release waits: the release covers every entry.
    later = threading.Timer(0.5, appending.follow, args=(db,))
    later.start()
    try:
        made = _publish(app, "2026", wait=30)
    finally:
        later.join()
    assert made["tree_head"]["tree_size"] == 26
    # Its figures are those of the whole log: the same as a clean replay of it makes them.
    before = appending.measures(db)
    assert before == appending.replayed(db)
    assert made["figures_sha256"] == releases.publish(
        db, app.extensions["disclosure"], "2026", NOW, replaces=made["id"],
        reason="the same figures again")["figures_sha256"]


def test_the_database_keeps_one_first_release_per_period(ledger: Flask) -> None:
    _publish(ledger, "2026-03")
    with pytest.raises(sa.exc.IntegrityError), ledger.extensions["db"].writing() as session:
        row = session.scalars(sa.select(Release)).one()
        session.add(Release(**{c.name: getattr(row, c.name) for c in Release.__table__.columns
                               if c.name != "id"}))


@pytest.mark.parametrize(("period", "error", "message"), [
    ("2027-01", Conflict, "has not ended"),
    ("2027", Conflict, "has not ended"),
    ("2026-Q5", Invalid, "period must be"),
    ("26", Invalid, "period must be"),
])
def test_only_a_whole_period_that_has_ended_is_released(
        ledger: Flask, period: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        _publish(ledger, period)


def test_nothing_is_released_from_an_empty_ledger(make_app: MakeApp) -> None:
    app = make_app("ledger")
    with pytest.raises(Conflict, match="empty"):
        _publish(app, "2026")


def test_releases_can_only_be_read(ledger: Flask) -> None:
    spec = ledger.test_client().get("/openapi.json").json
    operations = {(method, path) for path, ops in spec["paths"].items()
                  if path.startswith("/v1/releases") for method in ops
                  if method != "parameters"}
    assert {method for method, _ in operations} == {"get"}
    assert all("security" not in spec["paths"][path][method] for method, path in operations)


def test_ladder_publish_releases_a_period_and_the_due_ones(
        ledger: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", ledger.extensions["db"].url)
    result = CliRunner().invoke(main, ["publish", "--period", "2026-Q1"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("release 1: 2026-Q1 at tree size 26: ")
    again = CliRunner().invoke(main, ["publish", "--period", "2026-Q1"])
    assert again.exit_code == 1 and "a correction names it" in again.output
    unscheduled = CliRunner().invoke(main, ["publish", "--due"])
    assert unscheduled.exit_code == 1 and "LADDER_PUBLISH_SCHEDULE" in unscheduled.output
    monkeypatch.setenv("LADDER_PUBLISH_SCHEDULE", "quarter")
    due = CliRunner().invoke(main, ["publish", "--due"])
    assert due.exit_code == 0, due.output
    # Q1 was released already; Q2 had figures (Q3 and Q4 have none in the example).
    assert [line.split()[2] for line in due.output.splitlines()] == ["2026-Q2"]
    assert CliRunner().invoke(main, ["publish", "--due"]).output == "nothing due\n"
    bad = CliRunner().invoke(main, ["publish", "--period", "2026-Q9"])
    assert bad.exit_code == 2 and "a quarter (2026-Q3)" in bad.output
