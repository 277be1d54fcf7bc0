"""The witness as a regional monitor: it fetches the releases each ledger it follows
published, over HTTP, keeps those that verify, refuses the rest, and sets the ledgers'
figures side by side, in JSON and CSV.

The ledgers are real ledger apps served over HTTP, on their own databases; the witness is
its own app, on its own. A release is made by ``releases.publish``, as ``ladder publish``
does, and the witness cosigns each ledger's checkpoint as in test_witness.py.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from werkzeug.wrappers import Request, Response

from services.cli import main
from services.ledger import releases
from services.witness import published as checks
from services.witness import service
from services.witness.models import MonitoredFigures, MonitoredRelease
from shared import notes
from shared.spreadsheets import FORMULA_STARTS
from tests.integration.conftest import MakeApp
from tests.support import appending, c2sp, serving
from tests.support import events as ev
from tests.support.scenario import events as scenario

NOW = datetime(2027, 1, 15, 12, 0)
WITNESS_SEED = base64.b64encode(bytes(range(32, 64))).decode()
WITNESS_NAME = "witness.example.org/icb"
ROSE = "ledger.rose-trust.example/ladder"
OAK = "ledger.oak-council.example/ladder"
AREAS = ["inspection", "leadership", "recruitment", "training"]
LADDER = str(Path(sys.executable).parent / "ladder")


def _seed(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


class Ledger:
    """A ledger app, what it publishes, and what it sends its witness."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.http = app.test_client()

    @property
    def origin(self) -> str:
        return str(self.app.extensions["signer"].origin)

    def append(self, events: list[dict[str, Any]]) -> None:
        result = appending.append(self.app.extensions["db"], events,
                                  self.app.extensions["signer"])
        assert result.rejected == 0

    def publish(self, period: str, **kwargs: Any) -> dict[str, Any]:
        return releases.publish(self.app.extensions["db"], self.app.extensions["disclosure"],
                                period, NOW, **kwargs)

    def figures(self, release: int) -> list[dict[str, str]]:
        text = self.http.get(f"/v1/releases/{release}/figures.csv").get_data(as_text=True)
        return list(csv.DictReader(io.StringIO(text)))

    def vkey(self) -> str:
        return str(self.http.get("/v1/public-key").json["vkey"])

    def cosigned_by(self, witness: Flask) -> int:
        """The witness cosigns the ledger's latest checkpoint; its size."""
        held = {log["origin"]: log["size"]
                for log in witness.test_client().get("/v1/witness").json["logs"]}
        note = self.http.get("/checkpoint").get_data(as_text=True)
        size, old = int(note.split("\n")[1]), held[self.origin]
        proof: list[bytes] = []
        if 0 < old < size:
            found = self.http.get("/ct/v1/get-sth-consistency",
                                  query_string={"first": old, "second": size}).json
            proof = [base64.b64decode(h) for h in found["consistency"]]
        answer = witness.test_client().post(
            "/add-checkpoint", data=c2sp.add_checkpoint_body(old, proof, note),
            content_type="text/plain")
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return size


def _ledger(make_app: MakeApp, origin: str, seed: int, events: list[dict[str, Any]]) -> Ledger:
    ledger = Ledger(make_app("ledger", LOG_ORIGIN=origin, SIGNING_KEY=_seed(seed)))
    ledger.append(events)
    return ledger


def _more_in_january(n: int) -> list[dict[str, Any]]:
    """Co-design in recruitment at the east unit, in January 2026: other figures."""
    return [ev.involvement("recruitment", 6, activity_id="R1", involvement_id=f"X{i}",
                           pseudonym=f"px{i:02d}", org_unit="east", decision_power="equal_vote",
                           time="2026-01-15T10:00:00Z") for i in range(n)]


def _witness(make_app: MakeApp, ledgers: list[tuple[str, str | None]], **config: Any) -> Flask:
    """A witness following each (vkey, URL) given; without a URL it does not monitor."""
    return make_app("witness", WITNESS_NAME=WITNESS_NAME, WITNESS_KEY=WITNESS_SEED,
                    WITNESS_LOGS=[notes.Verifier.parse(vkey) for vkey, _ in ledgers],
                    WITNESS_LOG_URLS={notes.Verifier.parse(vkey).name: url
                                      for vkey, url in ledgers if url},
                    **config)


def _check(witness: Flask) -> dict[str, service.Checked]:
    """One check of every ledger, over HTTP, as ``ladder witness-monitor --once`` runs it."""
    http = service.Http()
    try:
        done = service.check_all(witness.extensions["db"], service.followed(witness.config),
                                 http)
    finally:
        http.close()
    return {checked.origin: checked for checked in done}


def _compare(witness: Flask, **query: str) -> dict[str, Any]:
    answer = witness.test_client().get("/v1/figures", query_string=query)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return dict(answer.json)


def _kept(witness: Flask) -> dict[str, list[int]]:
    with witness.extensions["db"].reading() as session:
        found: dict[str, list[int]] = {}
        for origin, number in session.execute(sa.select(
                MonitoredRelease.origin, MonitoredRelease.release_id).order_by(
                MonitoredRelease.release_id)):
            found.setdefault(origin, []).append(number)
        return found


def _as_published(cell: str) -> Any:
    return None if cell == "" else float(cell)


def test_two_ledgers_published_figures_are_kept_and_set_side_by_side(
        make_app: MakeApp) -> None:
    rose = _ledger(make_app, ROSE, 1, scenario())
    oak = _ledger(make_app, OAK, 2, [*scenario(), *_more_in_january(12)])
    for ledger in (rose, oak):
        assert ledger.publish("2026-Q1")["id"] == 1
    elsewhere = notes.vkey("ledger.elsewhere.example", notes.raw_public_key(
        Ed25519PrivateKey.generate()))
    with serving.served(rose.app) as rose_url, serving.served(oak.app) as oak_url:
        witness = _witness(make_app, [(rose.vkey(), rose_url), (oak.vkey(), oak_url),
                                      (elsewhere, None)])
        # Nothing cosigned yet: the releases wait, and nothing is kept.
        waiting = _check(witness)
        assert set(waiting) == {ROSE, OAK} and _kept(witness) == {}
        assert all(not c.failing and "last checkpoint this witness cosigned has 0"
                   in (c.problem() or "") for c in waiting.values())
        for ledger in (rose, oak):
            ledger.cosigned_by(witness)
        done = _check(witness)
        assert {o: (c.kept, c.failing) for o, c in done.items()} == {
            ROSE: ([1], False), OAK: ([1], False)}
        # The published figures, each row of all units, as the release gives them.
        report = _compare(witness, period="2026-Q1")
        assert report["period"] == "2026-Q1"
        by_origin: dict[str, list[dict[str, Any]]] = {}
        for row in report["rows"]:
            by_origin.setdefault(row["origin"], []).append(row)
        assert list(by_origin) == [ROSE, OAK, "ledger.elsewhere.example"]
        for ledger in (rose, oak):
            rows = by_origin[ledger.origin]
            assert [r["area"] for r in rows] == AREAS
            published = {p["area"]: p for p in ledger.figures(1)
                         if p["org_unit"] == "all" and p["period"] == "2026-Q1"}
            for row in rows:
                assert (row["state"], row["release_id"], row["release_period"],
                        row["org_unit"], row["checkpoint_size"], row["entries_behind"]) == (
                    "current", 1, "2026-Q1", "all", row["release_tree_size"], 0)
                assert row["disclosure"] == "cell key random rounding (base 5, threshold 10)"
                shown = published[row["area"]]
                assert row["figures"] == {m: _as_published(shown[m]) for m in row["figures"]}
                assert row["suppressed"] == shown["suppressed"].split()
                # A hidden figure stays hidden: null, and named, never a number.
                assert all(row["figures"][name] is None for name in row["suppressed"])
            # The measures in the order of the release's columns.
            assert report["measures"] == [c for c in ledger.figures(1)[0]
                                          if c in rows[0]["figures"]]
        assert by_origin[OAK][2]["figures"]["involvements"] > \
            by_origin[ROSE][2]["figures"]["involvements"]
        assert "coverage" in by_origin[ROSE][2]["suppressed"]
        unfollowed = by_origin["ledger.elsewhere.example"]
        assert [(r["state"], r["figures"], r["release_id"]) for r in unfollowed] == [
            ("unmonitored", {}, None)]
        # By default the newest month any ledger published; each unit's rows on request.
        assert _compare(witness)["period"] == "2026-03"
        units = _compare(witness, period="2026-01", area="recruitment", units="each")
        assert [(r["origin"], r["org_unit"]) for r in units["rows"]][:3] == [
            (ROSE, "all"), (ROSE, "east"), (ROSE, "west")]
        # The ledger grows; once cosigned, the figures are 3 entries behind the checkpoint.
        rose.append([ev.activity("training", "academy", time="2026-09-01T09:00:00Z")
                     for _ in range(3)])
        rose.cosigned_by(witness)
        assert _check(witness)[ROSE].kept == []
        row = _compare(witness, period="2026-Q1")["rows"][0]
        assert (row["entries_behind"], row["checkpoint_size"]) == (3, 29)
        # The CSV: a download, the same rows and columns, one column per measure.
        csv_answer = witness.test_client().get("/v1/figures.csv?period=2026-Q1")
        assert csv_answer.status_code == 200 and csv_answer.mimetype == "text/csv"
        assert csv_answer.headers["Content-Disposition"] == (
            'attachment; filename="ladder-ledgers-2026-Q1.csv"')
        lines = list(csv.reader(io.StringIO(csv_answer.get_data(as_text=True))))
        report = _compare(witness, period="2026-Q1")
        assert lines[0] == [*checks.COMPARISON, *report["measures"], "suppressed"]
        assert len(lines) == 1 + len(report["rows"])
        for cells, row in zip(lines[1:], report["rows"], strict=True):
            flat = dict(zip(lines[0], cells, strict=True))
            assert flat["origin"] == row["origin"] and flat["area"] == (row["area"] or "")
            for name in report["measures"]:
                value = row["figures"].get(name)
                assert flat[name] == ("" if value is None else str(value))
            assert flat["suppressed"] == " ".join(row["suppressed"])
            assert flat["cosigned_at"] == (row["cosigned_at"] or "")


BAD_QUERIES = [({"period": "2026-13"}, "period"), ({"period": "2026-Q5"}, "period"),
               ({"period": "2026\n"}, "period"), ({"units": "some"}, "units"),
               ({"area": "Recruitment!"}, "area"), ({"after": "-1"}, "after")]


def test_a_bad_query_is_422_in_the_error_shape_naming_the_field(make_app: MakeApp) -> None:
    http = _witness(make_app, []).test_client()
    for query, field in BAD_QUERIES:
        paths = ("/v1/refusals",) if field == "after" else ("/v1/figures", "/v1/figures.csv")
        for path in paths:
            answer = http.get(path, query_string=query)
            assert answer.status_code == 422, (path, query)
            assert set(answer.json) == {"code", "status", "message", "errors"}
            assert field in answer.json["message"], answer.json


class Tampering:
    """A ledger's routes, over HTTP, with what a test changes in their answers: a ledger
    or a network between it and the witness that lies."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.change: Callable[[str, bytes], bytes] | None = None
        self.stall: str | None = None
        self.stalled = threading.Event()
        self.go_on = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = Request(environ).path
        if path == self.stall:
            self.stalled.set()
            self.go_on.wait(30)
        response = Response.from_app(self.app, environ, buffered=True)
        if self.change is not None:
            response.set_data(self.change(path, response.get_data()))
        return response(environ, start_response)


def _listing(change: Callable[[dict[str, Any]], None]) -> Callable[[str, bytes], bytes]:
    """A change to each release as the ledger lists it."""

    def apply(path: str, body: bytes) -> bytes:
        if path != "/v1/releases":
            return body
        page = json.loads(body)
        for item in page["items"]:
            change(item)
        return json.dumps(page).encode()

    return apply


def _figures(original: bytes, change: Callable[[list[list[str]]], None]
             ) -> Callable[[str, bytes], bytes]:
    """Release 1's figures changed, and the SHA-256 its description gives changed to match:
    what only the checks of the figures themselves can catch."""
    lines = list(csv.reader(io.StringIO(original.decode(), newline="")))
    change(lines)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    figures = buffer.getvalue().encode()
    describe = _listing(lambda item: item.update(
        figures_sha256=hashlib.sha256(figures).hexdigest()))
    return lambda path, body: (figures if path == "/v1/releases/1/figures.csv"
                               else describe(path, body))


def _count(lines: list[list[str]]) -> None:
    """The first row's activities, 7: not a multiple of the base."""
    lines[1][lines[0].index("activities")] = "7"


def _unhide(lines: list[list[str]]) -> None:
    """A figure the release names hidden, given a value."""
    at, hidden = lines[0].index("coverage"), lines[0].index("suppressed")
    row = next(r for r in lines[1:] if "coverage" in r[hidden].split())
    row[at] = "1.0"


def _flip(item: dict[str, Any]) -> None:
    signature = bytearray(base64.b64decode(item["tree_head"]["tree_head_signature"]))
    signature[0] ^= 1
    item["tree_head"]["tree_head_signature"] = base64.b64encode(bytes(signature)).decode()


def _in_transit(path: str, body: bytes) -> bytes:
    """A count changed, the description left as it was."""
    return body.replace(b",5,5,,5,", b",10,5,,5,", 1) if path.endswith("figures.csv") else body


def _tampered(original: bytes) -> list[tuple[str, Callable[[str, bytes], bytes] | None, str]]:
    """(what, the change, what the refusal says); no change: the ledger's fork answers."""
    return [
        ("figures changed in transit", _in_transit, "are not the ones it describes"),
        ("a count not rounded", _figures(original, _count), "multiple of 5"),
        ("a hidden figure shown", _figures(original, _unhide), "names 'coverage' hidden"),
        ("a tree head not signed by the ledger's key", _listing(_flip), "not signed by"),
        ("exact figures", _listing(lambda item: item.update(disclosure={"method": "exact"})),
         "disclosure-controlled"),
        ("a tree this witness did not cosign", None, "a fork"),
    ]


def test_a_release_that_does_not_verify_is_refused_recorded_and_never_kept(
        make_app: MakeApp) -> None:
    rose = _ledger(make_app, ROSE, 1, scenario())
    rose.publish("2026-Q1")
    # A copy of the ledger under the same key, one involvement changed: its release is
    # signed by the ledger's key, of a tree the witness never cosigned.
    forked = scenario()
    forked[1] = {**forked[1], "data": {**forked[1]["data"], "hours": 9}}
    fork = _ledger(make_app, ROSE, 1, forked)
    fork.publish("2026-Q1")
    proxy = Tampering(rose.app)
    tampered = _tampered(rose.http.get("/v1/releases/1/figures.csv").get_data())
    with serving.served(proxy) as url:
        witness = _witness(make_app, [(rose.vkey(), url)])
        rose.cosigned_by(witness)
        for number, (what, change, reason) in enumerate(tampered, 1):
            proxy.change, proxy.app = change, (fork.app if change is None else rose.app)
            checked = _check(witness)[ROSE]
            assert checked.failing and checked.kept == [], what
            assert reason in checked.refused[0], (what, checked.refused)
            assert _kept(witness) == {}, what
            refusals = witness.test_client().get("/v1/refusals").json["items"]
            assert [(r["origin"], r["release_id"], r["times"]) for r in refusals] == [
                (ROSE, 1, number)], what
            assert reason in refusals[0]["reason"] and refusals[0]["period"] == "2026-Q1"
            row = _compare(witness, period="2026-Q1")["rows"][0]
            assert (row["state"], row["figures"], row["release_id"]) == (
                "failing", {}, None), what
            assert reason in row["problem"], what
        # The ledger's own answers again: the release is kept; the refusals stay on record.
        proxy.change, proxy.app = None, rose.app
        assert _check(witness)[ROSE].kept == [1]
        assert _compare(witness, period="2026-Q1")["rows"][0]["state"] == "current"
        refusals = witness.test_client().get("/v1/refusals").json["items"]
        assert [r["times"] for r in refusals] == [len(tampered)]
        # A release kept never changes: listed with another SHA-256, it is refused, and
        # the figures kept stay as they were.
        proxy.change = _listing(lambda item: item.update(figures_sha256="0" * 64))
        checked = _check(witness)[ROSE]
        assert checked.failing and "now gives the SHA-256 0000" in checked.refused[0]
        row = _compare(witness, period="2026-Q1")["rows"][0]
        assert (row["state"], row["release_id"]) == ("failing", 1)
        assert _kept(witness) == {ROSE: [1]}


HOSTILE_UNITS = ["=1+2", "@SUM(A1:A9)", "-3", "+44", "\tcmd", "a,b\"c\nd", "\uff1dcmd",
                 " =HYPERLINK(\"http://evil.example\")"]


def test_the_csv_is_well_formed_whatever_the_names_in_it(make_app: MakeApp) -> None:
    """Hostile org units, and a ledger's origin that a spreadsheet would run: each cell
    that would start a formula starts with an apostrophe; commas, quotes and line breaks
    stay inside their cells."""
    origin = '=HYPERLINK("http://evil.example/x")'
    events: list[dict[str, Any]] = []
    for n, unit in enumerate(HOSTILE_UNITS):
        events.append(ev.activity("recruitment", unit, activity_id=f"H{n}",
                                  time="2026-01-10T09:00:00Z"))
        events += [ev.involvement("recruitment", 7, activity_id=f"H{n}", org_unit=unit,
                                  pseudonym=f"p{n}{i:02d}", time="2026-01-11T10:00:00Z")
                   for i in range(12)]
    ledger = _ledger(make_app, origin, 3, events)
    ledger.publish("2026-01")
    with serving.served(ledger.app) as url:
        witness = _witness(make_app, [(ledger.vkey(), url)])
        ledger.cosigned_by(witness)
        assert _check(witness)[origin].kept == [1]
    report = _compare(witness, period="2026-01", units="each")
    assert {r["org_unit"] for r in report["rows"] if r["area"] == "recruitment"} == {
        "all", *HOSTILE_UNITS}
    answer = witness.test_client().get("/v1/figures.csv",
                                       query_string={"period": "2026-01", "units": "each"})
    lines = list(csv.reader(io.StringIO(answer.get_data(as_text=True), newline="")))
    assert len(lines) == 1 + len(report["rows"])
    assert all(len(cells) == len(lines[0]) for cells in lines)
    for cells, row in zip(lines[1:], report["rows"], strict=True):
        flat = dict(zip(lines[0], cells, strict=True))
        assert flat["origin"] == "'" + origin
        unit = row["org_unit"]
        assert flat["org_unit"] == (unit if unit in ("all", "a,b\"c\nd") else "'" + unit)
        for cell in cells:
            assert not cell.lstrip(" ").startswith(FORMULA_STARTS), cell


def _environment(tmp_path: Path, witness: Flask, vkey: str, url: str) -> dict[str, str]:
    """The witness's settings, its database and the ledger's URL, as a deployment sets them."""
    return {"LADDER_VAR_DIR": str(tmp_path / "var"),
            "WITNESS_DATABASE_URL": witness.config["DATABASE_URL"],
            "LADDER_WITNESS_LOGS": f"{vkey} {url}", "LADDER_WITNESS_KEY": WITNESS_SEED,
            "LADDER_WITNESS_NAME": WITNESS_NAME, "LADDER_WITNESS_MONITOR_INTERVAL": "0.1"}


@contextmanager
def _monitor(tmp_path: Path, witness: Flask, vkey: str, url: str, *args: str
             ) -> Iterator[subprocess.Popen[str]]:
    """``ladder witness-monitor`` in a process of its own, on the witness's database."""
    process = subprocess.Popen([LADDER, "witness-monitor", *args], cwd=tmp_path,
                               env={"PATH": os.environ["PATH"],
                                    **_environment(tmp_path, witness, vkey, url)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_a_killed_fetch_leaves_whole_releases_and_the_next_one_finishes(
        make_app: MakeApp, tmp_path: Path) -> None:
    """``ladder witness-monitor`` killed (SIGKILL) while it fetches the second release:
    the first is kept whole, the second not at all. Started again, it keeps the second,
    and stops at SIGTERM; ``--once``, on demand, then finds nothing new."""
    rose = _ledger(make_app, ROSE, 1, scenario())
    rose.publish("2026-Q1")
    rose.publish("2026-Q2")
    proxy = Tampering(rose.app)
    proxy.stall = "/v1/releases/2/figures.csv"
    with ExitStack() as stack:
        stack.callback(proxy.go_on.set)
        url = stack.enter_context(serving.served(proxy))
        witness = _witness(make_app, [(rose.vkey(), url)])
        rose.cosigned_by(witness)
        with _monitor(tmp_path, witness, rose.vkey(), url) as process:
            assert proxy.stalled.wait(30), process.communicate(timeout=5)[0]
            process.kill()
            process.wait(10)
        assert _kept(witness) == {ROSE: [1]}
        assert _figure_rows(witness) == {1: len(rose.figures(1))}
        proxy.go_on.set()
        with _monitor(tmp_path, witness, rose.vkey(), url) as process:
            deadline = time.monotonic() + 30
            while _kept(witness) != {ROSE: [1, 2]} and time.monotonic() < deadline:
                time.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            assert process.wait(10) == 0
        assert _figure_rows(witness) == {1: len(rose.figures(1)), 2: len(rose.figures(2))}
        rows = _compare(witness, period="2026-Q2")["rows"]
        assert [(r["release_id"], r["area"]) for r in rows] == [(2, a) for a in AREAS]
        once = CliRunner().invoke(main, ["witness-monitor", "--once"],
                                  env=_environment(tmp_path, witness, rose.vkey(), url))
        assert once.exit_code == 0, once.output
        assert f"{ROSE}: new releases kept: none\n" in once.output


def _figure_rows(witness: Flask) -> dict[int, int]:
    """How many rows of figures the witness keeps of each release."""
    with witness.extensions["db"].reading() as session:
        return {number: count for number, count in session.execute(
            sa.select(MonitoredFigures.release_id, sa.func.count())
            .group_by(MonitoredFigures.release_id))}
