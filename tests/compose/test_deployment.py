"""docker-compose.yml in real containers: up, healthy, the README's walk-through, a restart
and a SIGKILL under a stream of events, then down and up again with the data kept.

The tests run in order on one deployment (module scope), as an operator would go.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook

from shared import procfile
from shared.config import SERVICES
from tests.compose.deployment import Deployment, docker, instant
from tests.compose.stages import TIMES, stage
from tests.support.areas import ACTIVITIES, involvement
from tests.support.client import record_vacancy
from tests.support.receiver import Receiver

BIN = Path(sys.executable).parent
COMMANDS = ("areas",)  # what `ladder` answers without a database, to check exec works


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """docker-compose.yml up on the test engine, with the test override; down at the end."""
    running = Deployment.on_free_ports(tmp_path_factory.mktemp("compose"))
    try:
        with stage("up -d"):
            running.ok("up", "-d", "--no-build")
        with stage("every health check healthy"):
            healthy = running.wait_healthy()
        TIMES.append("  healthy after: " + ", ".join(
            f"{name} {seconds:.0f}s" for name, seconds in sorted(healthy.items(),
                                                                key=lambda x: x[1])))
        yield running
    finally:
        running.compose("down", "--volumes", "--timeout", "5")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A subscriber on this machine's loopback that checks every signature."""
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tokens(deployment: Deployment) -> dict[str, dict[str, str]]:
    """The README's tokens, made with `docker compose exec SERVICE ladder token create`."""

    def token(service: str, *scopes: str, purpose: str | None = None) -> dict[str, str]:
        args = [arg for scope in scopes for arg in ("--scope", scope)]
        args += ["--purpose", purpose] if purpose else []
        made = deployment.exec(service, "ladder", "token", "create", service, "--name",
                               f"walkthrough-{'-'.join(scopes)}", *args)
        return {"Authorization": f"Bearer {made.strip()}"}

    return {
        "admin": token("ledger", "admin"),
        "inspect": token("ledger", "inspect", purpose="checking the compose deployment"),
        "writer": token("recruitment", "read", "write"),
    }


def _hook(url: str, secret: str, command: dict[str, Any]) -> requests.Response:
    body, msg_id, now = json.dumps(command), f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    return requests.post(url, data=body, timeout=10, headers={
        "Content-Type": "application/json", "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body)})


def _entries(deployment: Deployment, auth: dict[str, str]) -> list[dict[str, Any]]:
    """Every ledger entry, following the cursor."""
    found: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = requests.get(deployment.url("ledger") + "/v1/entries", headers=auth,
                            params={"after": after, "limit": 1000}, timeout=10)
        page.raise_for_status()
        found += page.json()["items"]
        after = page.json()["next_after"]
    return found


def _wait_for_entries(deployment: Deployment, auth: dict[str, str], count: int,
                      timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            entries = _entries(deployment, auth)
        except requests.RequestException:
            entries = []
        if len(entries) >= count or time.monotonic() > deadline:
            return entries
        time.sleep(0.5)


def _verify(deployment: Deployment, auth: dict[str, str], directory: Path) -> str:
    """`ladder verify --url`: an export against the signed tree head and the live log."""
    ledger = deployment.url("ledger")
    directory.mkdir(exist_ok=True)
    (directory / "sth.json").write_text(requests.get(f"{ledger}/ct/v1/get-sth", timeout=10).text)
    (directory / "key.json").write_text(requests.get(f"{ledger}/v1/public-key", timeout=10).text)
    (directory / "entries.ndjson").write_bytes(requests.get(
        f"{ledger}/v1/exports/entries", params={"format": "ndjson"}, headers=auth,
        timeout=60).content)
    verified = subprocess.run(
        [str(BIN / "ladder"), "verify", "entries.ndjson", "--tree-head", "sth.json",
         "--public-key", "key.json", "--url", ledger,
         "--token", auth["Authorization"].split()[1]],
        cwd=directory, capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    return verified.stdout


def test_every_service_reaches_healthy_through_its_own_health_check(
        deployment: Deployment) -> None:
    states = {name: deployment.inspect(name) for name in deployment.config["services"]}
    for name in deployment.long_running():
        state = states[name]
        assert state["State"]["Health"]["Status"] == "healthy", name
        # The check is docker-compose.yml's, run by the engine (redis-cli given the port).
        assert state["Config"]["Healthcheck"]["Test"][:2] == ["CMD", (
            deployment.config["services"][name]["healthcheck"]["test"][1])]
        assert state["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped", name
    for name in SERVICES:
        ready = requests.get(deployment.url(name) + "/readyz", timeout=10)
        # The ledger's own check too: no follower of the log is stuck.
        own = {"followers": "ok"} if name == "ledger" else {}
        assert ready.status_code == 200 and ready.json()["checks"] == {
            "database": "ok", "broker": "ok", **own}, (name, ready.text)
    ladder = states["ledger"]
    assert ladder["Config"]["User"] == "ladder" and ladder["HostConfig"]["Init"] is True
    assert ladder["HostConfig"]["CapDrop"] == ["ALL"]


def test_migrate_runs_first_and_creates_every_services_database(
        deployment: Deployment) -> None:
    release = deployment.inspect(procfile.RELEASE)["State"]
    assert (release["Status"], release["ExitCode"]) == ("exited", 0)
    finished = instant(release["FinishedAt"])
    assert instant(deployment.inspect("postgres")["State"]["StartedAt"]) < instant(
        release["StartedAt"])
    for name in deployment.long_running():
        if name in ("postgres", "redis"):
            continue
        assert instant(deployment.inspect(name)["State"]["StartedAt"]) > finished, name
    # The volume starts with none of Ladder's databases: migrate made each, then migrated it.
    logged = deployment.logged(procfile.RELEASE)
    created = {line.get("service") for line in logged
               if line.get("message", "").startswith("created the database")}
    migrated = {line.get("service") for line in logged if line.get("message", "").startswith(
        "migrated")}
    assert created == migrated == set(SERVICES), logged
    listed = deployment.exec("postgres", "psql", "--username", "ladder", "--dbname", "postgres",
                             "-Atc", "SELECT datname FROM pg_database").split()
    assert {f"ladder_{name}" for name in SERVICES} <= set(listed)
    for name in SERVICES:
        version = deployment.exec("postgres", "psql", "--username", "ladder", "--dbname",
                                  f"ladder_{name}", "-Atc",
                                  "SELECT count(*) FROM alembic_version").strip()
        assert version != "0", name
    assert deployment.exec("ledger", "ladder", *COMMANDS).split()


def test_the_image_renders_the_pdf_report(deployment: Deployment) -> None:
    """The dashboard's PDF report needs Pango and a font, which the image installs."""
    rendered = deployment.exec("ledger", "python", "-c", (
        "import sys; from services.ledger.report import pdf; "
        "sys.stdout.write(pdf('<h1>Ladder</h1>', 'http://localhost/')[:5].decode())"))
    assert rendered.strip() == "%PDF-"


def test_the_readme_walkthrough_runs_against_the_containers(
        deployment: Deployment, tokens: dict[str, dict[str, str]], receiver: Receiver,
        tmp_path: Path) -> None:
    started = time.monotonic()
    recruitment, ledger = deployment.url("recruitment"), deployment.url("ledger")
    # A subscriber on the loopback, as the README's webhooks-out section sets up.
    subscribed = requests.post(f"{ledger}/v1/subscriptions", headers=tokens["admin"], json={
        "url": receiver.url("/ladder"), "description": "Board dashboard",
        "areas": ["recruitment"]}, timeout=10)
    assert subscribed.status_code == 201, subscribed.text
    receiver.trust("/ladder", subscribed.json()["secret"])

    # A vacancy and an involvement over REST, with our request id...
    request_id = str(uuid.uuid4())
    vacancy = requests.post(f"{recruitment}/v1/vacancies", json=ACTIVITIES["recruitment"],
                            headers={**tokens["writer"], "X-Request-ID": request_id},
                            timeout=10)
    assert vacancy.status_code == 202, vacancy.text
    assert vacancy.headers["X-Request-ID"] == request_id
    recorded = requests.post(f"{recruitment}/v1/vacancies/{vacancy.json()['id']}/involvements",
                             json=involvement("recruitment"), headers=tokens["writer"],
                             timeout=10)
    assert recorded.status_code == 202 and recorded.json()["step"] == 7, recorded.text
    # ...and the same from an HR system, as signed webhooks.
    made = deployment.exec("recruitment", "ladder", "integration", "create", "recruitment",
                           "hr-system")
    secret = made.split("secret: ")[1].split()[0]
    hook = f"{recruitment}/v1/webhooks/hr-system"
    assert _hook(hook, secret, {"type": "activity.recorded", "data": {
        **ACTIVITIES["recruitment"], "id": "HR-2026-031"}}).status_code == 202
    assert _hook(hook, secret, {"type": "involvement.recorded", "data": {
        "activity_id": "HR-2026-031", **involvement("recruitment", "CIT-7")}}).status_code == 202
    assert _hook(hook, "whsec_" + "A" * 32, {"type": "activity.recorded", "data": {
        **ACTIVITIES["recruitment"], "id": "HR-2026-032"}}).status_code == 401

    entries = _wait_for_entries(deployment, tokens["inspect"], 4, timeout=60)
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[0]["event"]["requestid"] == request_id
    measures = requests.get(f"{ledger}/v1/metrics", headers=tokens["inspect"], timeout=10,
                            params={"area": "recruitment", "period": "year",
                                    "from": "2026-01-01", "to": "2026-12-31"})
    assert measures.status_code == 200, measures.text
    assert "OK: the export's first 4 entries match" in _verify(
        deployment, tokens["inspect"], tmp_path / "verify")

    # Webhooks out: signed, to the loopback, naming the batches' sequence numbers.
    deadline = time.monotonic() + 60
    while sum(_covered(r.event) for r in receiver.at("/ladder")) < 4:
        assert time.monotonic() < deadline, [r.event for r in receiver.at("/ladder")]
        receiver.wait_for("/ladder", len(receiver.at("/ladder")) + 1, timeout=2)
    delivered = receiver.at("/ladder")
    assert all(r.verified for r in delivered)
    assert {r.event["type"] for r in delivered} == {"org.ladder.entries.appended"}

    # The request id runs from HTTP through the relay to the worker, in JSON logs.
    assert any(line.get("request_id") == request_id and line.get("path") == "/v1/vacancies"
               for line in deployment.logged("recruitment"))
    assert any(request_id in line.get("request_ids", []) for line in deployment.logged("relay"))
    assert any(request_id in line.get("request_ids", []) and "appended" in line
               for line in deployment.logged("ledger-worker"))
    print(f"walk-through {time.monotonic() - started:.1f}s")


def _covered(event: dict[str, Any]) -> int:
    """How many entries an entries.appended event names (its subject: entries/FIRST-LAST)."""
    first, _, last = event["subject"].removeprefix("entries/").partition("-")
    return int(last or first) - int(first) + 1


class Stream:
    """A bounded stream of involvements, in a thread: ``count`` at most, for ``seconds`` at
    most; keeps the id of each one answered 202 (refused or unanswered ones are not owed)."""

    def __init__(self, base: str, auth: dict[str, str], vacancy_id: str, count: int,
                 seconds: float) -> None:
        self.base, self.auth, self.vacancy_id = base, auth, vacancy_id
        self.count, self.seconds = count, seconds
        self.accepted: list[str] = []
        self.failed = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        with requests.Session() as http:
            for i in range(self.count):
                if time.monotonic() > deadline:
                    break
                try:
                    answer = http.post(
                        f"{self.base}/v1/vacancies/{self.vacancy_id}/involvements",
                        json=involvement("recruitment", f"STREAM-{i:04d}"), headers=self.auth,
                        timeout=10)
                except requests.RequestException:
                    self.failed += 1
                    continue
                if answer.status_code == 202:
                    self.accepted.append(answer.json()["id"])
                else:
                    self.failed += 1
                time.sleep(0.05)

    def __enter__(self) -> Stream:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.thread.join(self.seconds + 30)


def _restarted(deployment: Deployment, service: str, after: int, timeout: float) -> None:
    """Until ``service`` has restarted more than ``after`` times and is healthy again."""
    deadline = time.monotonic() + timeout
    while True:
        state = deployment.inspect(service)
        if state["RestartCount"] > after and state["State"].get("Health", {}).get(
                "Status") == "healthy":
            return
        assert time.monotonic() < deadline, (service, state["State"], state["RestartCount"])
        time.sleep(1)


def test_a_restart_and_a_sigkill_under_a_stream_lose_nothing(
        deployment: Deployment, tokens: dict[str, dict[str, str]]) -> None:
    recruitment = deployment.url("recruitment")
    before = len(_entries(deployment, tokens["inspect"]))
    vacancy_id = record_vacancy(recruitment, tokens["writer"])
    killed = "ledger-worker"
    restarts = deployment.inspect(killed)["RestartCount"]
    since = time.time()
    with stage("restart and SIGKILL under a stream"), Stream(
            recruitment, tokens["writer"], vacancy_id, count=300, seconds=40) as stream:
        time.sleep(5)
        # `docker compose restart`: SIGTERM, the worker's soft shutdown, and start again.
        deployment.ok("restart", "relay")
        time.sleep(5)
        # A crash: the worker's main process dies by SIGKILL, mid-batch maybe. The restart
        # policy, not the test, brings the container back.
        pid = deployment.inspect(killed)["State"]["Pid"]
        os.kill(pid, signal.SIGKILL)
        _restarted(deployment, killed, restarts, timeout=120)
    assert stream.accepted, stream.failed
    died = deployment.died(since)
    assert ("relay", 0) in died or ("relay", 143) in died, died
    assert (killed, 137) in died, died
    with stage("every accepted event in the ledger"):
        owed = before + 1 + len(stream.accepted)
        # What the killed worker held goes back to the queue after the visibility timeout.
        entries = _wait_for_entries(deployment, tokens["inspect"], owed, timeout=180)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    ids = [e["event"]["data"].get("involvement_id") for e in entries]
    missing = set(stream.accepted) - set(ids)
    assert not missing, f"{len(missing)} of {len(stream.accepted)} accepted: {missing}"
    assert len(entries) == owed, "an entry the ledger holds twice, or one nobody sent"
    print(f"stream: {len(stream.accepted)} accepted, {stream.failed} refused or unanswered; "
          f"died: {died}")


def test_down_stops_within_the_grace_period_and_up_keeps_the_data(
        deployment: Deployment, tokens: dict[str, dict[str, str]], tmp_path: Path) -> None:
    held = _entries(deployment, tokens["inspect"])
    since = time.time()
    grace = max(float(s["stop_grace_period"].rstrip("s"))
                for s in deployment.config["services"].values() if "stop_grace_period" in s)
    with stage("down"):
        started = time.monotonic()
        deployment.ok("down")
        took = time.monotonic() - started
    died = deployment.died(since)
    assert {name for name, _ in died} == set(deployment.long_running()), died
    assert not [d for d in died if d[1] == 137], f"killed after the grace period: {died}"
    assert took < grace, took
    volumes = docker("volume", "ls", "--format", "{{.Name}}").split()
    assert {f"ladder-compose-test_{v}" for v in deployment.config["volumes"]} <= set(volumes)

    with stage("up -d again, healthy"):
        deployment.ok("up", "-d", "--no-build")
        deployment.wait_healthy()
    # The same entries, the same tokens, the same tree, and migrate found nothing to create.
    assert _entries(deployment, tokens["inspect"]) == held
    assert not [line for line in deployment.logged(procfile.RELEASE)
                if line.get("message", "").startswith("created the database")]
    _verify(deployment, tokens["inspect"], tmp_path / "verify")
    print(f"down took {took:.1f}s (grace {grace:g}s); died: {died}")
