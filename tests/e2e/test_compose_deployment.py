"""The docker-compose deployment, without a Docker engine.

Every process starts as compose would start it: its command, the image's ENV and
the environment docker-compose resolves from .env.example with test secrets, on
PostgreSQL (each database made by the release step) and a Redis configured as
compose's. Only what Docker itself would provide differs, and it is listed in
``Deployment.host``: the container's filesystem and volumes become directories,
its network becomes this machine's loopback and free ports. Then the README's
walk-through runs against it, and a stop is timed against stop_grace_period.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url
from standardwebhooks import Webhook

from shared import procfile
from shared.config import SERVICES
from shared.embedded_redis import EmbeddedRedis, free_port
from tests.support import compose
from tests.support.areas import ACTIVITIES, involvement
from tests.support.databases import url_template
from tests.support.stack import listening

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="docker-compose runs on PostgreSQL: set TEST_DATABASE_URL to run this")

BIN = Path(sys.executable).parent


@dataclass
class Container:
    """One compose service's process, in a directory that stands for its container."""

    name: str
    service: dict[str, Any]
    env: dict[str, str]
    root: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def workdir(self) -> Path:
        return self.root / "app"

    @property
    def log_path(self) -> Path:
        return self.root / "stdout.log"

    def start(self) -> Container:
        with self.log_path.open("ab") as out:
            self.popen = subprocess.Popen(self.service["command"], env=self.env,
                                          cwd=self.workdir, stdout=out,
                                          stderr=subprocess.STDOUT)
        return self

    def exec(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """As `docker compose exec NAME ...`: the container's environment and directory."""
        return subprocess.run(argv, env=self.env, cwd=self.workdir, capture_output=True,
                              text=True, timeout=60)

    def healthy(self) -> bool:
        test = self.service["healthcheck"]["test"]
        assert test[0] == "CMD"
        return self.exec(*test[1:]).returncode == 0

    def lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()

    def logged(self, strict: bool = True) -> list[dict[str, Any]]:
        """The JSON log lines; ``strict``: every line must be one.

        Celery writes its shutdown notices straight to stdout from its signal
        handlers, as plain text: after a stop, read with ``strict=False``.
        """
        return [json.loads(line) for line in self.lines()
                if strict or line.startswith("{")]


@dataclass
class Deployment:
    containers: dict[str, Container]
    redis: EmbeddedRedis
    ports: dict[str, int]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"


def _seconds(duration: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(s|m)", duration).groups()  # type: ignore[union-attr]
    return float(number) * (60 if unit == "m" else 1)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    """docker-compose.yml's services, running as compose would run them."""
    # What `docker compose up` starts: no profile, so no witness.
    config = compose.started(compose.resolved(compose.env_file(tmp_path)))
    ladder = compose.ladder_services(config)
    admin_url = make_url(os.environ["TEST_DATABASE_URL"])
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    # compose's one convention for every service's database, under names private to this
    # test, on the test's server: the release step creates them, as it does in compose.
    suffix = uuid.uuid4().hex[:8]
    databases = [f"ladder_{name}_{suffix}" for name in SERVICES]
    server = EmbeddedRedis(tmp_path / "redis", port=free_port()).start()
    ports = {service: free_port() for service in SERVICES}
    image = compose.image_env()
    containers: dict[str, Container] = {}
    for name, service in ladder.items():
        root = tmp_path / name
        (root / "app").mkdir(parents=True)
        shutil.copy(compose.PROCFILE, root / "app" / "Procfile")
        env = {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "HOME": str(root),
               **image, **{k: str(v) for k, v in service["environment"].items()}}
        # What Docker provides, on this machine instead:
        env["LADDER_VAR_DIR"] = str(root / "var")                 # the container's files
        for volume in service.get("volumes", []):                 # named volumes
            source, target = _volume(volume)
            assert target == f"{image['LADDER_VAR_DIR']}/metrics", volume
            env["LADDER_METRICS_DIR"] = str(tmp_path / "volumes" / source)
        env["LADDER_BIND"] = "127.0.0.1"                          # the network
        env.update({f"{s.upper()}_PORT": str(port) for s, port in ports.items()})
        env["REDIS_URL"] = server.url
        assert not [k for k in env if k.endswith("_DATABASE_URL")], "one convention"
        url = make_url(env["LADDER_DATABASE_URL_TEMPLATE"])
        assert (url.host, url.port, url.database) == ("postgres", 5432, "ladder_{service}")
        env["LADDER_DATABASE_URL_TEMPLATE"] = url_template(
            admin_url, f"ladder_{{service}}_{suffix}")
        containers[name] = Container(name, service, env, root)
    running = Deployment(containers, server, ports)
    try:
        yield running
    finally:
        for container in containers.values():
            if container.popen is not None and container.popen.poll() is None:
                container.popen.kill()
                container.popen.wait()
        server.stop()
        with admin.connect() as conn:
            for name in databases:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _volume(spec: Any) -> tuple[str, str]:
    if isinstance(spec, str):
        source, target = spec.split(":")[:2]
        return source, target
    return str(spec["source"]), str(spec["target"])


def _up(deployment: Deployment) -> None:
    """`docker compose up`: the release step to completion, then the rest, until healthy."""
    release = deployment.containers[procfile.RELEASE].start()
    assert release.popen is not None
    assert release.popen.wait(timeout=120) == 0, release.lines()
    others = [c for name, c in deployment.containers.items() if name != procfile.RELEASE]
    for container in others:
        assert container.service["depends_on"][procfile.RELEASE]["condition"] == (
            "service_completed_successfully")
        container.start()
    for name in SERVICES:
        # A free port can be taken before gunicorn binds it: then take another.
        container, key = deployment.containers[name], f"{name.upper()}_PORT"
        for _ in range(3):
            assert container.popen is not None
            if listening(container.log_path, 0, container.env[key], container.popen.pid):
                break
            container.popen.kill()
            container.popen.wait()
            container.log_path.unlink()
            deployment.ports[name] = free_port()
            container.env[key] = str(deployment.ports[name])
            container.start()
    for container in others:
        health = container.service["healthcheck"]
        deadline = time.monotonic() + _seconds(health["start_period"]) + _seconds(
            health["interval"]) * health["retries"]
        while not container.healthy():
            assert container.popen is not None and container.popen.poll() is None, (
                container.lines()[-20:])
            assert time.monotonic() < deadline, f"{container.name} never became healthy"
            time.sleep(1)


def _token(container: Container, service: str, *scopes: str,
           purpose: str | None = None) -> dict[str, str]:
    args = [arg for scope in scopes for arg in ("--scope", scope)]
    args += ["--purpose", purpose] if purpose else []
    made = container.exec("ladder", "token", "create", service, "--name", "walkthrough", *args)
    assert made.returncode == 0, made.stderr
    return {"Authorization": f"Bearer {made.stdout.strip()}"}


def _hook(url: str, secret: str, command: dict[str, Any]) -> requests.Response:
    body, msg_id, now = json.dumps(command), f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    return requests.post(url, data=body, timeout=10, headers={
        "Content-Type": "application/json", "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body)})


def _metrics(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(url + "/metrics", timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_compose_deployment_serves_the_walkthrough_and_stops_cleanly(
    deployment: Deployment, tmp_path: Path,
) -> None:
    _up(deployment)
    c = deployment.containers
    recruitment, ledger = deployment.url("recruitment"), deployment.url("ledger")
    writer = _token(c["recruitment"], "recruitment", "read", "write")
    # Entries and their export are for an inspector, who states a purpose.
    auditor = _token(c["ledger"], "ledger", "inspect", purpose="checking the deployment")

    # The walk-through: a vacancy and an involvement over REST, with our request id...
    request_id = str(uuid.uuid4())
    vacancy = requests.post(f"{recruitment}/v1/vacancies", json=ACTIVITIES["recruitment"],
                            headers={**writer, "X-Request-ID": request_id}, timeout=10)
    assert vacancy.status_code == 202, vacancy.text
    assert vacancy.headers["X-Request-ID"] == request_id
    recorded = requests.post(f"{recruitment}/v1/vacancies/{vacancy.json()['id']}/involvements",
                             json=involvement("recruitment"), headers=writer, timeout=10)
    assert recorded.status_code == 202 and recorded.json()["step"] == 7, recorded.text
    # ...and the same from an HR system, as signed webhooks.
    made = c["recruitment"].exec("ladder", "integration", "create", "recruitment", "hr-system")
    secret = made.stdout.split("secret: ")[1].split()[0]
    hook = f"{recruitment}/v1/webhooks/hr-system"
    assert _hook(hook, secret, {"type": "activity.recorded", "data": {
        **ACTIVITIES["recruitment"], "id": "HR-2026-031"}}).status_code == 202
    assert _hook(hook, secret, {"type": "involvement.recorded", "data": {
        "activity_id": "HR-2026-031", **involvement("recruitment", "CIT-7")}}).status_code == 202

    deadline, entries = time.monotonic() + 30, []
    while len(entries) < 4 and time.monotonic() < deadline:
        time.sleep(0.5)
        entries = requests.get(f"{ledger}/v1/entries", headers=auditor, timeout=10).json()[
            "items"]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[0]["event"]["requestid"] == request_id
    measures = requests.get(f"{ledger}/v1/metrics", headers=auditor, timeout=10, params={
        "area": "recruitment", "period": "year", "from": "2026-01-01", "to": "2026-12-31"})
    assert measures.status_code == 200, measures.text

    # An auditor checks an export against the signed tree head, and the live log.
    (tmp_path / "sth.json").write_text(
        requests.get(f"{ledger}/ct/v1/get-sth", headers=auditor, timeout=10).text)
    (tmp_path / "key.json").write_text(requests.get(f"{ledger}/v1/public-key", timeout=10).text)
    (tmp_path / "entries.ndjson").write_text(requests.get(
        f"{ledger}/v1/exports/entries", params={"format": "ndjson"}, headers=auditor,
        timeout=10).text)
    verified = subprocess.run(
        [str(BIN / "ladder"), "verify", "entries.ndjson", "--tree-head", "sth.json",
         "--public-key", "key.json", "--url", ledger,
         "--token", auditor["Authorization"].split()[1]],
        cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert verified.returncode == 0, verified.stderr
    assert "OK: the export's first 4 entries match" in verified.stdout

    # Every process logs JSON; the request id runs from HTTP through the relay to the worker.
    for container in c.values():
        assert container.logged(), container.name
    assert any(line.get("request_id") == request_id and line.get("path") == "/v1/vacancies"
               for line in c["recruitment"].logged())
    assert any(request_id in line.get("request_ids", []) for line in c["relay"].logged())
    assert any(request_id in line.get("request_ids", []) and "appended" in line
               for line in c["ledger-worker"].logged())

    # Metrics: the worker's batches at the ledger's /metrics, the backlog at the service's.
    shown = _metrics(ledger)
    assert shown[("ladder_ledger_events_total", (("outcome", "appended"),
                                                 ("service", "ledger")))] == 4
    assert shown[("ladder_ledger_batch_size_count", (("service", "ledger"),))] >= 1
    assert shown[("ladder_ledger_entries", (("service", "ledger"),))] == 4
    assert shown[("ladder_ledger_rejected_events", (("service", "ledger"),))] == 0
    shown = _metrics(recruitment)
    assert shown[("ladder_http_requests_total", (
        ("endpoint", "/v1/vacancies"), ("method", "POST"), ("service", "recruitment"),
        ("status", "202")))] == 1
    assert shown[("ladder_outbox_pending_events", (("service", "recruitment"),))] == 0

    # `docker compose stop`: SIGTERM, and SIGKILL after stop_grace_period.
    running = [x for name, x in c.items() if name != procfile.RELEASE]
    for container in running:
        assert container.popen is not None
        container.popen.send_signal(signal.SIGTERM)
    started = time.monotonic()
    for container in running:
        assert container.popen is not None
        grace = _seconds(container.service["stop_grace_period"])
        try:
            container.popen.wait(max(0.1, grace - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            pytest.fail(f"{container.name} was still running after its stop_grace_period")
    soft = float(c["ledger-worker"].env["LADDER_SOFT_SHUTDOWN_TIMEOUT"])
    assert any(str(int(soft)) in line.get("message", "") and "Soft Shutdown" in line["message"]
               for line in c["ledger-worker"].logged(strict=False))
    # Nothing was left behind in Redis, delivered or not.
    broker = redis.Redis(port=deployment.redis.port)
    assert broker.llen("ledger") == 0 and broker.hlen("unacked") == 0
