"""The README's walk-through, against the real processes."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from standardwebhooks import Webhook

from services import area_packages
from shared.area.integrations import create_integration
from shared.config import SERVICES
from shared.db import Database
from tests.e2e.conftest import Stack, module_stack
from tests.integration.conftest import PURPOSE
from tests.support.areas import ACTIVITIES, AREAS, SETUP, involvement
from tests.support.client import record_involvements, record_vacancy
from tests.support.databases import LOCAL

# One stack, every process, for the steps of the walk-through, which do not disturb each
# other: each reads what it added after the entries it found. On SQLite, as `make run`
# runs with nothing configured: test_compose_deployment.py walks through on PostgreSQL,
# and the write path's processes run on both in test_delivery.py and test_poison.py.
walk = module_stack("walk", backends=LOCAL)


def test_an_involvement_reaches_the_ledger_through_celery_and_redis(walk: Stack) -> None:
    stack, before = walk, walk.tree_size()
    base = stack.url("recruitment")
    vacancy_id = record_vacancy(base, stack.auth("recruitment"))
    [recorded] = record_involvements(base, stack.auth("recruitment"), vacancy_id, 1)
    entries = stack.wait_for_entries(before + 2, timeout=10)[before:]
    assert [e["event"]["type"] for e in entries] == [
        "org.ladder.activity.recorded", "org.ladder.involvement.recorded"]
    assert [e["seq"] for e in entries] == [before + 1, before + 2]
    data = entries[1]["event"]["data"]
    assert data["involvement_id"] == recorded["id"]
    assert (data["step"], data["rubric_version"]) == (7, "recruitment-2")
    assert data["pseudonym"] == recorded["pseudonym"]
    only_involvements = stack.entries(type="org.ladder.involvement.recorded")
    assert [e["seq"] for e in only_involvements if e["seq"] > before] == [before + 2]
    assert all(e["event"]["type"] == "org.ladder.involvement.recorded"
               for e in only_involvements)


def test_every_service_reports_health_readiness_and_openapi(walk: Stack) -> None:
    for service in SERVICES:
        base = walk.url(service)
        assert requests.get(base + "/healthz", timeout=5).json()["status"] == "ok"
        ready = requests.get(base + "/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        own = {"followers": "ok"} if service == "ledger" else {}
        assert ready.json()["checks"] == {"database": "ok", "broker": "ok", **own}
        spec = requests.get(base + "/openapi.json", timeout=5).json()
        assert spec["info"]["title"] == f"Ladder {service}"


def test_one_signed_webhook_per_area_reaches_the_ledger(walk: Stack) -> None:
    stack, before = walk, walk.tree_size()
    for area in AREAS:
        db = Database(stack.env[f"{area.upper()}_DATABASE_URL"])
        secret = create_integration(db, f"{area}-system")
        db.dispose()
        for item in SETUP[area]:
            response = requests.post(stack.url(area) + item.path, json=item.body,
                                     headers=stack.auth(area), timeout=10)
            assert response.status_code == 201, response.text
        for n, command in enumerate([
            {"type": "activity.recorded", "data": {**ACTIVITIES[area], "id": f"{area}-A1"}},
            {"type": "involvement.recorded",
             "data": {"activity_id": f"{area}-A1",
                      **involvement(area, f"{area}-WEBHOOK-1", decision_power="advisory")}},
        ]):
            body = json.dumps(command)
            msg_id = f"msg_{area}_{n}"
            now = datetime.now(UTC)
            headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": Webhook(secret).sign(msg_id, now, body),
                       "Content-Type": "application/json"}
            response = requests.post(f"{stack.url(area)}/v1/webhooks/{area}-system", data=body,
                                     headers=headers, timeout=10)
            assert response.status_code == 202, response.text
    entries = stack.wait_for_entries(before + 2 * len(AREAS), timeout=15)[before:]
    assert len(entries) == 2 * len(AREAS)
    for area in AREAS:
        [inv] = [e["event"] for e in entries if e["area"] == area
                 and e["event"]["type"] == "org.ladder.involvement.recorded"]
        assert inv["source"] == f"/ladder/{area}" and inv["subject"] == f"{area}-A1"
        data = inv["data"]
        # A request as rubric 1's integrations send it, read under rubric 2: advisory from
        # the start is designing, with no influence said (docs/rubrics.md).
        assert (data["step"], data["rubric_version"], data["rubric_rule"]) == (
            5, f"{area}-2", f"{area}-2.5b")
        assert data["facts"]["decision_power"] == "advisory" and data["facts"]["from_start"]
        assert (data["facts"]["part"], data["facts"]["influence"]) == ("designed", "unknown")


def _ladder(stack: Stack, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ladder", *args], capture_output=True, text=True, cwd=cwd,
                          env=stack.env, timeout=60)


# The README's leadership section: a carer co-chairs a co-production group from its terms
# of reference; a PPV partner advises the quality committee.
LEADERSHIP = [
    {"type": "activity.recorded", "data": {
        "id": "CPG-2026-02", "forum": "Dementia strategy co-production group",
        "forum_type": "co_production_group", "org_unit": "community-partnerships",
        "held_on": "2026-02-10"}},
    {"type": "involvement.recorded", "data": {
        "activity_id": "CPG-2026-02", "citizen_ref": "CIT-0042", "stage": "terms_of_reference",
        "role": "co_chair", "hours": 3, "recognition": "payment",
        "decision_power": "equal_vote", "from_start": True, "feedback_given": True}},
    {"type": "activity.recorded", "data": {
        "id": "QC-2026-05", "forum": "Quality committee", "forum_type": "committee",
        "org_unit": "corporate-governance", "held_on": "2026-05-14"}},
    {"type": "involvement.recorded", "data": {
        "activity_id": "QC-2026-05", "citizen_ref": "PPV-11", "stage": "deliberation",
        "role": "ppv_partner", "hours": 2, "recognition": "payment",
        "decision_power": "advisory", "from_start": False, "feedback_given": True}},
]


def _leadership_year(stack: Stack) -> dict[str, Any]:
    """The leadership area's exact figures for 2026, as an admin reads them."""
    response = requests.get(stack.url("ledger") + "/v1/metrics", timeout=10, params={
        "area": "leadership", "period": "year", "from": "2026-01-01", "to": "2026-12-31"},
        headers=stack.auth("ledger-admin"))
    assert response.status_code == 200, response.text
    total = response.json()["total"]
    return {**{k: total[k] for k in ("activities", "activities_involved", "involvements",
                                     "citizens", "hours")},
            **{f"step {n}": total["steps"][n] for n in ("7", "4")}}


def test_leadership_meetings_and_their_citizens_reach_the_ledger_as_the_readme_shows(
        walk: Stack, tmp_path: Path) -> None:
    # The README's figures are what these four events add: the module's other tests record
    # in leadership too, with other activities and citizens.
    stack, before, figures_before = walk, walk.tree_size(), _leadership_year(walk)
    made = _ladder(stack, tmp_path, "integration", "create", "leadership", "board-papers")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.split("secret: ")[1].split()[0]
    answers = []
    for n, command in enumerate(LEADERSHIP):
        body, msg_id, now = json.dumps(command), f"msg_board_{n}", datetime.now(UTC)
        response = requests.post(stack.url("leadership") + "/v1/webhooks/board-papers",
                                 data=body, timeout=10, headers={
                                     "webhook-id": msg_id, "Content-Type": "application/json",
                                     "webhook-timestamp": str(int(now.timestamp())),
                                     "webhook-signature": Webhook(secret).sign(msg_id, now,
                                                                               body)})
        assert response.status_code == 202, response.text
        answers.append(response.json()["result"])
    assert [a["kind"] for a in answers[::2]] == ["meeting", "meeting"]
    rubric = area_packages.domain("leadership").rubric
    assert [(a["step"], a["rubric_version"]) for a in answers[1::2]] == [
        (7, rubric.version), (4, rubric.version)]

    entries = stack.wait_for_entries(before + 4, timeout=15)[before:]
    assert [(e["area"], e["event"]["source"], e["event"]["subject"]) for e in entries] == [
        ("leadership", "/ladder/leadership", subject)
        for subject in ("CPG-2026-02", "CPG-2026-02", "QC-2026-05", "QC-2026-05")]
    figures = _leadership_year(stack)
    added = {k: figures[k] - figures_before[k] for k in figures}
    assert added == {"activities": 2, "activities_involved": 2, "involvements": 2,
                     "citizens": 2, "hours": 5.0, "step 7": 1, "step 4": 1}, figures


def test_boards_read_figures_inspectors_entries_and_anyone_the_tree_head(
        walk: Stack, tmp_path: Path) -> None:
    stack, before = walk, walk.tree_size()
    base = stack.url("recruitment")
    record_involvements(base, stack.auth("recruitment"),
                        record_vacancy(base, stack.auth("recruitment")), 1)
    assert len(stack.wait_for_entries(before + 2, timeout=10)) == before + 2
    ledger = stack.url("ledger")
    refused = _ladder(stack, tmp_path, "token", "create", "ledger", "--name", "cqc",
                      "--scope", "inspect")
    assert refused.returncode == 2 and "--purpose" in refused.stderr
    board = _ladder(stack, tmp_path, "token", "create", "ledger", "--name", "board",
                    "--scope", "read").stdout.strip()
    cqc = _ladder(stack, tmp_path, "token", "create", "ledger", "--name", "cqc",
                  "--scope", "inspect", "--purpose", PURPOSE).stdout.strip()

    def get(path: str, token: str | None = None, **params: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(ledger + path, params=params, headers=headers, timeout=10)

    year = {"from": "2026-01-01", "to": "2026-12-31"}
    assert get("/v1/metrics", board, group_by="area", period="year", **year).status_code == 200
    assert get("/v1/entries", board).status_code == 403
    entries = get("/v1/entries", cqc, area="recruitment", after=str(before),
                  limit="10").json()["items"]
    assert [e["seq"] for e in entries] == [before + 1, before + 2]
    # The tree head and the public key need no token; the export needs an inspector.
    (tmp_path / "sth.json").write_text(get("/ct/v1/get-sth").text)
    (tmp_path / "key.json").write_text(get("/v1/public-key").text)
    (tmp_path / "entries.ndjson").write_bytes(get("/v1/exports/entries", cqc,
                                                  format="ndjson").content)
    verify = ["verify", "entries.ndjson", "--tree-head", "sth.json", "--public-key",
              "key.json", "--url", ledger]
    checked = _ladder(stack, tmp_path, *verify, "--token", cqc)
    assert checked.returncode == 0, checked.stderr
    assert _ladder(stack, tmp_path, *verify, "--token", board).returncode == 1
    read = get("/v1/access-log", cqc, token_name="cqc").json()["items"]
    assert {e["purpose"] for e in read} == {PURPOSE}
    shown = get("/v1/access-log", board, token_name="cqc").json()["items"]
    assert all(e["purpose"] is None and "?" not in e["path"] for e in shown)
