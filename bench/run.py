"""make bench: every figure measured beside its baseline, in the same run.

BENCH_SMOKE=1 runs everything at tiny sizes so that CI keeps it working; the
figures it prints then mean nothing. Sizes: BENCH_READ_ENTRIES (default 1,000,000),
BENCH_INGEST_EVENTS (default 50,000), BENCH_SECONDS (default 10). BENCH_ONLY picks
the row groups (default "abd": a and its floor; b, c, f99 and e; d), BENCH_RESULTS where
the results go (default bench/results/latest.json), BENCH_LAG_DUMP a file for row b's samples of the
log's size and the followers' least position ([seconds, size, position], every 20 ms).
A run removes its files and PostgreSQL databases at the end; BENCH_KEEP=1 keeps them,
and BENCH_REUSE_DIR=<its d directory> then measures the reads again without building.

The load generator's HTTP client is the standard library's http.client, not requests,
the project's client elsewhere: a request costs the generator 63-89 µs of CPU with it
against 481-581 µs with requests (measured here), and the generator shares the two
cores with what it measures.
"""

from __future__ import annotations

import base64
import http.client
import json
import multiprocessing
import os
import platform
import queue
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from standardwebhooks import Webhook

from bench.support.areas import ACTIVITIES, AREAS, involvement
from bench.support.stack import WRITE_PATH, Stack, prepare
from services.ledger import followers, service, tiles
from services.ledger.models import Entry, FollowerPosition, TreeHeadRow
from services.ledger.models import Head as LedgerHead
from shared import merkle, procfile
from shared.area.integrations import create_integration
from shared.config import SERVICES
from shared.db import Database
from shared.embedded_redis import free_port
from shared.envelope import new_event

ROOT = Path(__file__).resolve().parents[1]
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
READ_ENTRIES = int(os.environ.get("BENCH_READ_ENTRIES", 3000 if SMOKE else 1_000_000))
INGEST_EVENTS = int(os.environ.get("BENCH_INGEST_EVENTS", 1000 if SMOKE else 50_000))
SECONDS = float(os.environ.get("BENCH_SECONDS", 1 if SMOKE else 10))
# Requests timed for each read figure of row d.
SAMPLES = 30 if SMOKE else 200
# Untimed requests before a proof row's timed ones: a process's first requests open its
# connections and fill its caches, and a client's first proofs fill its own.
WARM_UP = 5 if SMOKE else 30
ROWS: list[dict[str, Any]] = []
# Where the CPU went during a row, by process: what limits it.
CPU: dict[str, dict[str, float]] = {}


def row(key: str, what: str, value: float, unit: str, baseline: float | None,
        baseline_what: str, target: str, met: bool | None, ratio: float | None = None) -> None:
    if ratio is None and baseline:
        ratio = value / baseline
    ROWS.append({"row": key, "what": what, "value": round(value, 3), "unit": unit,
                 "baseline": None if baseline is None else round(baseline, 3),
                 "baseline_what": baseline_what,
                 "ratio": None if ratio is None else round(ratio, 3),
                 "target": target, "met": met})
    print(f"  {key}: {what} = {value:,.2f} {unit}; baseline {baseline_what} = "
          f"{baseline if baseline is None else round(baseline, 2)}; target {target}; "
          f"{'met' if met else 'NOT met' if met is not None else ''}", flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def rss_peak_mb(pid: int) -> float:
    """Peak resident memory of a process and its children (VmHWM), in MB."""
    peak = 0
    for p in _group(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def _group(pid: int) -> set[int]:
    pids = {pid}
    try:
        found = subprocess.run(["pgrep", "-g", str(pid)], capture_output=True, text=True)
        pids |= {int(p) for p in found.stdout.split()}
    except OSError:
        pass
    return pids


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command's name (state, ppid, ...), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by a process group's live members."""
    ticks = 0
    for p in _group(pid):
        fields = _stat(p)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def postgresql_server(db: Database) -> int | None:
    """The pid of the PostgreSQL server behind ``db`` (its postmaster), when it runs on
    this machine where /proc shows it; otherwise None."""
    if db.engine.dialect.name != "postgresql":
        return None
    with db.engine.connect() as connection:
        backend = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    fields = _stat(int(backend))
    # A server elsewhere (another machine, a container) has pids this /proc does not show,
    # or shows as some other program.
    if fields is None or not _is_postgres(int(backend)) or not _is_postgres(int(fields[1])):
        return None
    return int(fields[1])


def _is_postgres(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "postgres"
    except OSError:
        return False


def server_cpu_seconds(postmaster: int) -> float:
    """CPU time so far of a PostgreSQL server: its postmaster, every process it has
    started that is still running (backends, checkpointer, WAL writer, ...), and those
    that have exited, which the postmaster has waited for. Every client's share, so
    measure with nothing else using the server."""
    fields = _stat(postmaster)
    if fields is None:
        return 0.0
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))
    found = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True)
    for child in found.stdout.split():
        child_fields = _stat(int(child))
        if child_fields is not None:
            ticks += int(child_fields[11]) + int(child_fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_of(stack: Stack, postmaster: int | None = None) -> dict[str, float]:
    """CPU seconds so far of each process of a stack, Redis, this load generator and,
    given its postmaster, the PostgreSQL server."""
    used = {name: cpu_seconds(p.pid) for name, p in stack.processes.items()}
    if stack.redis.process is not None:
        used["redis"] = cpu_seconds(stack.redis.process.pid)
    if postmaster is not None:
        used["PostgreSQL server"] = server_cpu_seconds(postmaster)
    times = os.times()
    used["load generator"] = times.user + times.system
    return used


def stack_in(directory: Path, **env: str) -> Stack:
    urls = {s: f"sqlite:///{directory / (s + '.db')}" for s in SERVICES}
    if os.environ.get("BENCH_DATABASE") == "postgresql":
        # Kept beside the stack's files, so that BENCH_REUSE_DIR finds them again.
        kept = directory / "databases.json"
        urls = json.loads(kept.read_text()) if kept.exists() else pg_databases(directory.name)
        directory.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps(urls))
    # The load generators send far more than any one integration would: limits stay in
    # the path, counting, but high enough never to refuse.
    limits = {f"LADDER_RATE_LIMIT_{kind}": "1000000 per minute"
              for kind in ("API", "WEBHOOKS", "ADDRESS")}
    # The relay's timings as deployed (.env.example), not the test stack's quick ones:
    # republishing what the ledger has not yet taken after 8 s would add work to a
    # ledger that is behind.
    relay = {"LADDER_RELAY_INTERVAL": "0.2", "LADDER_REPUBLISH_AFTER": "600"}
    # Smoke mode only keeps the rows working: one web worker a service starts quicker.
    workers = "1" if SMOKE else "2"
    return prepare(directory, urls, LADDER_WEB_WORKERS=workers, LADDER_LOG_LEVEL="WARNING",
                   LADDER_VISIBILITY_TIMEOUT="300", **{**limits, **relay, **env})


# The PostgreSQL databases this run created: dropped at its end unless BENCH_KEEP=1.
CREATED: list[str] = []


def pg_databases(tag: str) -> dict[str, str]:
    admin_url = os.environ["TEST_DATABASE_URL"]
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    urls = {}
    with admin.connect() as conn:
        for s in SERVICES:
            name = f"ladder_bench_{s}_{uuid.uuid4().hex[:6]}"
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            CREATED.append(name)
            urls[s] = sa.engine.make_url(admin_url).set(database=name).render_as_string(False)
    admin.dispose()
    return urls


def clean_up(workdir: Path) -> None:
    """Remove what the run made (1.5 GB for a 1M-entry ledger on SQLite), unless
    BENCH_KEEP=1 keeps it for BENCH_REUSE_DIR."""
    if os.environ.get("BENCH_KEEP") == "1":
        print(f"kept: {workdir} (reads again with BENCH_REUSE_DIR={workdir / 'd'})")
        return
    shutil.rmtree(workdir, ignore_errors=True)
    if CREATED:
        admin = sa.create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in CREATED:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


# -- a: webhook ingest --------------------------------------------------------------------


WEBHOOK_PATH = "/v1/webhooks/bench"


def _hammer(port: int, requests_: list[tuple[bytes, dict[str, str]]], seconds: float,
            out: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    done = ok = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and done < len(requests_):
        body, headers = requests_[done]
        conn.request("POST", WEBHOOK_PATH, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        ok += response.status == 202
        done += 1
    out.put(ok)


def _gets(port: int, paths: list[str], seconds: float, out: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ok = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn.request("GET", paths[ok % len(paths)])
        response = conn.getresponse()
        response.read()
        assert response.status == 200, (paths[ok % len(paths)], response.status)
        ok += 1
    out.put(ok)


def _load(port: int, batches: list[list[Any]], seconds: float,
          work: Callable[[int, list[Any], float, Any], None] = _hammer) -> float:
    """Requests/s of one process per batch, each on its own connection."""
    queue: Any = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=work, args=(port, b, seconds, queue))
             for b in batches]
    start = time.monotonic()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return sum(queue.get() for _ in procs) / (time.monotonic() - start)


def bench_webhooks(workdir: Path) -> None:
    print("a: signed webhooks through recruitment, against a bare Flask app", flush=True)
    stack = stack_in(workdir / "a")
    stack.start("recruitment")
    db = Database(stack.env["RECRUITMENT_DATABASE_URL"])
    secret = create_integration(db, "bench")
    db.dispose()
    wh = Webhook(secret)

    def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(payload)
        msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
        return body.encode(), {"webhook-id": msg_id,
                               "webhook-timestamp": str(int(now.timestamp())),
                               "webhook-signature": wh.sign(msg_id, now, body),
                               "Content-Type": "application/json"}

    activity = signed({"type": "activity.recorded",
                       "data": {**ACTIVITIES["recruitment"], "id": "BENCH-1"}})
    conn = http.client.HTTPConnection("127.0.0.1", int(stack.env["RECRUITMENT_PORT"]))
    conn.request("POST", WEBHOOK_PATH, body=activity[0], headers=activity[1])
    assert conn.getresponse().status == 202
    per_process = int(4000 * SECONDS)
    batches = [[signed({"type": "involvement.recorded", "data": {
        "activity_id": "BENCH-1", **involvement("recruitment", f"C-{p}-{i}")}})
        for i in range(per_process)] for p in range(2)]
    ours = _load(int(stack.env["RECRUITMENT_PORT"]), batches, SECONDS)
    stack.stop()
    # The floor (bench/floor_app.py) writes into the database the service has just filled.
    floor = {driver: _gunicorn_load("bench.floor_app:create_app()", batches, FLOOR_DRIVER=driver,
                                    FLOOR_DATABASE_URL=stack.env["RECRUITMENT_DATABASE_URL"],
                                    FLOOR_SECRET=secret)
             for driver in ("driver", "core")}
    base = _gunicorn_load("bench.bare_app:create_app()", batches)
    row("a", "signed webhooks/s through recruitment", ours, "req/s", base,
        "bare Flask parse-and-202", "ratio >= 0.5", ours / base >= 0.5)
    row("af", "floor: check, then 4 rows durably by the driver", floor["driver"], "req/s",
        base, "bare Flask parse-and-202", "reported (row a's floor)", None)
    row("afc", "floor: the same through SQLAlchemy Core", floor["core"], "req/s", base,
        "bare Flask parse-and-202", "reported (row a's floor)", None)
    # What the service's own work costs beside its floor, from the same run's figures.
    row("ag", "the service against its floor through Core", ours, "req/s", floor["core"],
        "afc", "reported (row a's gap to its floor)", None)


def _gunicorn_load(app: str, batches: list[list[Any]], **env: str) -> float:
    """Row a's load against ``app`` under gunicorn with two sync workers, as the service runs
    (and, as it does, without a control socket: shared/gunicorn_config.py)."""
    port = free_port()
    server = subprocess.Popen(
        ["gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--no-control-socket",
         app],
        cwd=ROOT, env={**procfile.environment(), **env}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        return _load(port, batches, SECONDS)
    finally:
        server.terminate()
        server.wait()


def _wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


# -- b, c, e: end to end ------------------------------------------------------------------


# Row b's events spread as a region's records are: an activity in each of UNITS units,
# involvements over the last twelve whole months and over CITIZENS people, most of
# whom take part more than once. One activity, one unit and new people every time
# would flatter the ledger's counters, which move per (unit, period, citizen).
UNITS = 40
CITIZENS = 20_000


def _last_twelve_months() -> list[str]:
    """The last twelve whole months, as YYYY-MM, oldest first."""
    today = datetime.now(UTC)
    year, month = today.year, today.month
    months = []
    for _ in range(12):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        months.append(f"{year}-{month:02d}")
    return months[::-1]


MONTHS = _last_twelve_months()


def _activities() -> list[dict[str, Any]]:
    """One activity in each unit, opened on the first of the oldest month."""
    opened = MONTHS[0] + "-01"
    return [new_event(type="org.ladder.activity.recorded", source="/bench/lms",
                      subject=f"BENCH-{u}", time=datetime.fromisoformat(opened + "T09:00:00Z"),
                      data={**ACTIVITIES["recruitment"], "id": f"BENCH-{u}",
                            "org_unit": f"unit-{u}", "opened_on": opened})
            for u in range(1, UNITS + 1)]


def _involvement(rng: random.Random) -> dict[str, Any]:
    """An involvement in a unit and a month drawn at random, of a citizen drawn too."""
    unit, month = rng.randint(1, UNITS), rng.choice(MONTHS)
    return new_event(type="org.ladder.involvement.recorded", source="/bench/lms",
                     subject=f"BENCH-{unit}",
                     time=datetime.fromisoformat(f"{month}-{rng.randint(2, 28):02d}T09:00:00Z"),
                     data={"activity_id": f"BENCH-{unit}",
                           **involvement("recruitment", f"C-{rng.randint(1, CITIZENS)}")})


def _ce_batches(n: int, size: int) -> list[bytes]:
    rng = random.Random(11)
    events = [_involvement(rng) for _ in range(n)]
    return [json.dumps(events[i:i + size]).encode() for i in range(0, n, size)]


def _ledger_size(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(sa.select(sa.func.max(TreeHeadRow.size))) or 0)


class FollowerLag(threading.Thread):
    """Samples the log's size and the followers' least position every 20 ms: how long
    after an entry was appended the followers had applied it."""

    def __init__(self, ledger: Database) -> None:
        super().__init__(daemon=True)
        self.ledger = ledger
        self.samples: list[tuple[float, int, int]] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            with self.ledger.reading() as session:
                size = session.scalar(sa.select(LedgerHead.size)) or 0
                position = session.scalar(sa.select(sa.func.min(FollowerPosition.position)))
            self.samples.append((time.monotonic(), int(size), int(position or 0)))
            time.sleep(0.02)

    def wait_followed(self, size: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while not self.samples or self.samples[-1][2] < size:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the followers are still behind: {self.samples[-1:]}")
            time.sleep(0.05)
        self.running = False
        self.join()
        if os.environ.get("BENCH_LAG_DUMP"):
            Path(os.environ["BENCH_LAG_DUMP"]).write_text(json.dumps(self.samples))

    def lags_ms(self) -> list[float]:
        """For each entry appended while sampling, from the first sample that held it in
        the log to the first in which every follower had applied it."""
        appended: dict[int, float] = {}
        followed: dict[int, float] = {}
        seen_size = seen_position = self.samples[0][1]
        for at, size, position in self.samples:
            for seq in range(seen_size + 1, size + 1):
                appended[seq] = at
            for seq in range(seen_position + 1, position + 1):
                followed[seq] = at
            seen_size, seen_position = max(seen_size, size), max(seen_position, position)
        return [1000 * (followed[seq] - at) for seq, at in appended.items() if seq in followed]


def bench_end_to_end(workdir: Path) -> None:
    print("b, c, e: HTTP batches to a signed tree head, against one no-op task per event",
          flush=True)
    stack = stack_in(workdir / "b")
    # The area the load sends to and the ledger's side: the other areas would only idle.
    stack.start("recruitment", *WRITE_PATH)
    port = int(stack.env["RECRUITMENT_PORT"])
    auth = {"Authorization": f"Bearer {stack.tokens['recruitment']}"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("POST", "/v1/events", body=json.dumps(_activities()),
                 headers={"Content-Type": "application/cloudevents-batch+json", **auth})
    response = conn.getresponse()
    assert response.status == 202, (response.status, response.read()[:300])
    response.read()
    ledger = Database(stack.env["LEDGER_DATABASE_URL"])
    batches = _ce_batches(INGEST_EVENTS, 500)
    headers = {"Content-Type": "application/cloudevents-batch+json", **auth}
    worker = stack.processes["ledger-worker"].pid

    def post(part: list[bytes]) -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for body in part:
            c.request("POST", "/v1/events", body=body, headers=headers)
            response = c.getresponse()
            response.read()
            assert response.status == 202, response.status

    lag = FollowerLag(ledger)
    lag.start()
    postmaster = postgresql_server(ledger)
    cpu_before = cpu_of(stack, postmaster)
    start = time.monotonic()
    threads = [threading.Thread(target=post, args=(batches[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    accepted = time.monotonic() - start
    while _ledger_size(ledger) < INGEST_EVENTS + UNITS:
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    lag.wait_followed(INGEST_EVENTS + UNITS)
    followed = time.monotonic() - start
    lags = lag.lags_ms()
    cpu_after = cpu_of(stack, postmaster)
    ours = INGEST_EVENTS / elapsed
    peak = rss_peak_mb(worker)
    cpu = {name: round(cpu_after[name] - cpu_before.get(name, 0.0), 2) for name in cpu_after}
    CPU["b"] = dict(sorted(cpu.items(), key=lambda item: -item[1]))
    print("  CPU seconds during it: " + ", ".join(
        f"{name} {used:.1f}" for name, used in CPU["b"].items() if used >= 0.05)
        + f"; {2 * elapsed:.1f} available on 2 cores", flush=True)
    print(f"  {INGEST_EVENTS} events accepted in {accepted:.1f}s, under a signed tree head "
          f"in {elapsed:.1f}s, applied by the followers in {followed:.1f}s", flush=True)

    # Latency at half the rate just measured, one event per request.
    rate = max(1.0, ours / 2)
    sent: dict[str, float] = {}
    single = {"Content-Type": "application/cloudevents+json", **auth}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    total = int(rate * SECONDS) if not SMOKE else min(100, int(rate * SECONDS))
    rng = random.Random(13)
    t0 = time.monotonic()
    for i in range(total):
        event = _involvement(rng)
        c.request("POST", "/v1/events", body=json.dumps(event), headers=single)
        response = c.getresponse()
        body = response.read()
        assert response.status == 202, (response.status, body[:300])
        sent[event["id"]] = time.time()
        pause = t0 + (i + 1) / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    target_size = INGEST_EVENTS + UNITS + total
    deadline = time.monotonic() + 120
    while _ledger_size(ledger) < target_size:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the ledger holds {_ledger_size(ledger)} of {target_size}")
        time.sleep(0.05)
    latencies = _inclusion_latencies(ledger, stack.env["RECRUITMENT_DATABASE_URL"], sent)
    stack.stop()

    # Baseline: the same number of events, one Celery task each, doing nothing.
    base_rate = _noop_baseline(workdir, INGEST_EVENTS)
    database = "PostgreSQL" if os.environ.get("BENCH_DATABASE") == "postgresql" else "SQLite"
    row("b", f"events/s, HTTP batch to signed tree head ({database})", ours, "events/s",
        base_rate, "one no-op Celery task per event", ">= 10,000/s and >= 8x baseline",
        ours >= 10_000 and ours / base_rate >= 8)
    row("c50", f"p50 latency, 202 to signed tree head, at {rate:.0f}/s", percentile(latencies, 50),
        "ms", None, "", "", None)
    row("c99", f"p99 latency, 202 to signed tree head, at {rate:.0f}/s", percentile(latencies, 99),
        "ms", None, "", "p99 <= 300 ms", percentile(latencies, 99) <= 300)
    row("f99", "p99 follower lag during b, appended to applied by every follower",
        percentile(lags, 99), "ms", None, "", "p99 <= 1,000 ms", percentile(lags, 99) <= 1000)
    row("e", "peak RSS of the ledger worker during the ingest", peak, "MB", None, "",
        "<= 300 MB", peak <= 300)


def _inclusion_latencies(ledger: Database, service_url: str,
                         sent: dict[str, float]) -> list[float]:
    """From the 202 to the timestamp of the first tree head that covers the entry."""
    with ledger.reading() as session:
        heads = session.execute(sa.select(TreeHeadRow.size, TreeHeadRow.timestamp)
                                .order_by(TreeHeadRow.size)).all()
        seqs = dict(session.execute(sa.select(Entry.event_id, Entry.seq)
                                    .where(Entry.source == "/ladder/recruitment")
                                    .order_by(Entry.seq.desc()).limit(len(sent) * 2)).all())
    # The service re-issues each event with its own id; map by outbox order instead.
    service = Database(service_url)
    with service.reading() as session:
        payloads = session.scalars(sa.text("SELECT payload FROM outbox ORDER BY id DESC LIMIT :n"),
                                   {"n": len(sent)}).all()
    service.dispose()
    ours = [json.loads(p) for p in reversed(payloads)]
    sizes = [h.size for h in heads]
    import bisect

    latencies = []
    for (_, at), event in zip(sent.items(), ours, strict=True):
        seq = seqs[event["id"]]
        head = heads[bisect.bisect_left(sizes, seq)]
        latencies.append(head.timestamp - at * 1000)
    return latencies


def _noop_baseline(workdir: Path, n: int) -> float:
    # Only Redis and the no-op worker: no database, so nothing to migrate.
    stack = Stack(workdir / "noop", {})
    stack.redis.start()
    env = {**stack.env}
    worker = subprocess.Popen(
        ["celery", "--app", "bench.noop", "worker", "--queues", "noop", "--concurrency", "2",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    import redis

    import bench.noop as noop

    os.environ["REDIS_URL"] = stack.env["REDIS_URL"]
    counter = redis.Redis.from_url(stack.env["REDIS_URL"])
    app = noop.celery
    app.conf.broker_url = stack.env["REDIS_URL"]
    deadline = time.monotonic() + 60
    while not app.control.ping(timeout=0.5):  # the worker is up and consuming
        assert time.monotonic() < deadline, "the no-op worker did not start"
    start = time.monotonic()
    event = {"id": "x", "data": involvement("recruitment")}
    with app.producer_or_acquire() as producer:
        for _ in range(n):
            app.send_task("bench.noop", args=[event], queue="noop", producer=producer,
                          ignore_result=True)
    while int(counter.get("bench:noop") or 0) < n:
        time.sleep(0.05)
    elapsed = time.monotonic() - start
    os.killpg(worker.pid, 15)
    worker.wait()
    stack.stop()
    return n / elapsed


# -- d: auditor reads ---------------------------------------------------------------------


def build_ledger(url: str, n: int, env: dict[str, str]) -> tuple[Database, float]:
    """Append n entries through the worker's own use case, signed with the ledger's key,
    and let the followers apply each batch."""
    from bench.support import events as ev
    from services.ledger.signing import load_signer
    from services.ledger.webhooks.settings import Settings
    from shared.config import load

    db = Database(url)
    config = load("ledger", env)
    signer, settings = load_signer(config), Settings.from_config(config)
    rng = random.Random(7)
    activities: list[tuple[str, str]] = []
    start = time.monotonic()
    done = 0
    while done < n:
        batch = []
        for _ in range(min(1000, n - done)):
            area = rng.choice(AREAS)
            unit = f"unit-{rng.randint(1, 40)}"
            month = rng.randint(1, 12)
            if not activities or rng.random() < 0.25:
                a = ev.activity(area, unit, time=f"2026-{month:02d}-05T09:00:00Z")
                activities.append((area, a["data"]["activity_id"]))
                batch.append(a)
            else:
                area, activity_id = rng.choice(activities)
                batch.append(ev.involvement(
                    area, rng.randint(1, 7), activity_id=activity_id, org_unit=unit,
                    pseudonym=f"p{rng.randint(1, 20000)}", hours=rng.randint(1, 6),
                    time=f"2026-{month:02d}-06T09:00:00Z"))
        service.append_batch(db, batch, signer)
        # The follower process's work, in this one: the measures the reads need.
        for _ in followers.catch_up(db, settings, limit=len(batch)):
            pass
        done += len(batch)
        if done % 100_000 < 1000:
            print(f"  built {done:,} entries", flush=True)
    return db, n / (time.monotonic() - start)


def _timed_gets(port: int, paths: list[str], token: str) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for path in paths:
        t = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
        times.append((time.perf_counter() - t) * 1000)
    return times


def bench_reads(workdir: Path) -> None:
    print(f"d: auditor reads over {READ_ENTRIES:,} entries", flush=True)
    reuse = os.environ.get("BENCH_REUSE_DIR")
    if reuse:
        # A ledger an earlier run built (its d/ directory): measure the reads again.
        stack = stack_in(Path(reuse))
        db = Database(stack.env["LEDGER_DATABASE_URL"])
        # Migrated by the code under test: a follower it added catches up first.
        from services.ledger.webhooks.settings import Settings
        from shared.config import load as load_config

        settings = Settings.from_config(load_config("ledger", stack.env))
        for _ in followers.catch_up(db, settings):
            pass
    else:
        stack = stack_in(workdir / "d")
        db, build_rate = build_ledger(stack.env["LEDGER_DATABASE_URL"], READ_ENTRIES, stack.env)
        print(f"  built at {build_rate:,.0f} entries/s (worker use case, in process)",
              flush=True)
    stack.start("ledger")
    port = int(stack.env["LEDGER_PORT"])
    from services.ledger.models import ApiToken
    from shared.auth import create_token
    from shared.config import load

    admin = create_token(db, ApiToken, load("ledger", stack.env)["TOKEN_PEPPER"], "bench",
                         ["ledger:admin"])
    rng = random.Random(3)
    queries = [f"/v1/metrics?area={a}&period={p}&from=2026-01-01&to=2026-12-31&group_by={g}"
               for a in AREAS
               for p in ("month", "quarter", "year") for g in ("period", "org_unit")]
    metric_ms = _timed_gets(port, [rng.choice(queries) for _ in range(SAMPLES)], admin)
    # Baseline: what a request that scans the entries would cost.
    scan_ms = []
    for _ in range(5 if not SMOKE else 2):
        t = time.perf_counter()
        with db.reading() as session:
            session.execute(sa.select(Entry.type, Entry.org_unit, sa.func.count())
                            .where(Entry.area == "recruitment")
                            .group_by(Entry.type, Entry.org_unit)).all()
        scan_ms.append((time.perf_counter() - t) * 1000)
    p95 = percentile(metric_ms, 95)
    row("d1", "metrics p95", p95, "ms", statistics.median(scan_ms),
        "one grouped scan of the entries", "<= 50 ms", p95 <= 50)
    # The same queries as a board reads them: disclosure-controlled, from the rounded
    # month cells, against the exact figures an admin reads.
    board = create_token(db, ApiToken, load("ledger", stack.env)["TOKEN_PEPPER"], "board",
                         ["ledger:read"])
    rounded_ms = _timed_gets(port, [rng.choice(queries) for _ in range(SAMPLES)], board)
    rounded_p95 = percentile(rounded_ms, 95)
    row("d1r", "metrics p95, disclosure-controlled", rounded_p95, "ms", p95,
        "the same queries, exact (admin)", "<= 50 ms", rounded_p95 <= 50)
    # Ranges that are not one calendar period (February to November): no aggregate row
    # holds their citizens, so each query counts them from the citizens' year rows.
    spans = [q.replace("from=2026-01-01&to=2026-12-31", "from=2026-02-01&to=2026-11-30")
             for q in queries]
    spans_ms = _timed_gets(port, [rng.choice(spans) for _ in range(SAMPLES // 2)], admin)
    spans_ms += _timed_gets(port, [rng.choice(spans) for _ in range(SAMPLES // 2)], board)
    spans_p95 = percentile(spans_ms, 95)
    row("d1c", "metrics p95, Feb-Nov: citizens counted per query", spans_p95, "ms", p95,
        "d1's p95, whole years", "<= 50 ms", spans_p95 <= 50)

    with db.reading() as session:
        hashes = session.scalars(sa.select(Entry.leaf_hash).where(Entry.seq.in_(
            [rng.randint(1, READ_ENTRIES) for _ in range(SAMPLES + WARM_UP)]))).all()
    proof_paths = [f"/ct/v1/get-proof-by-hash?tree_size={READ_ENTRIES}&hash="
                   + base64.urlsafe_b64encode(h).decode().replace("-", "%2B").replace("_", "%2F")
                   .replace("=", "%3D") for h in hashes]
    _timed_gets(port, proof_paths[:WARM_UP], admin)
    proof_ms = _timed_gets(port, proof_paths[WARM_UP:], admin)
    t = time.perf_counter()
    with db.reading() as session:
        merkle.root_of(session.scalars(sa.select(Entry.leaf_hash).order_by(Entry.seq)))
    rebuild_ms = (time.perf_counter() - t) * 1000
    p95 = percentile(proof_ms, 95)
    row("d2", "inclusion proof p95", p95, "ms", rebuild_ms,
        "recomputing the root from every leaf", "<= 5 ms", p95 <= 5)
    _tiles(port, workdir, rng, p95)

    export = workdir / "entries.ndjson"
    csv_rate, csv_rss = _export(port, admin, "csv", workdir / "entries.csv", stack)
    _export(port, admin, "ndjson", export, stack)
    t = time.perf_counter()
    with db.streaming() as session:
        for _ in session.execute(sa.select(Entry.seq, Entry.event)
                                 .execution_options(yield_per=2000)):
            pass
    raw_rate = READ_ENTRIES / (time.perf_counter() - t)
    row("d3", "CSV export over HTTP", csv_rate, "entries/s", raw_rate,
        "reading the rows, unformatted", ">= 100,000/s", csv_rate >= 100_000)
    row("d3m", "peak RSS of the API worker during the exports", csv_rss, "MB", None, "",
        "constant: no growth with size", None)

    sth = workdir / "sth.json"
    key = workdir / "key.pem"
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/ct/v1/get-sth", headers={"Authorization": f"Bearer {admin}"})
    sth.write_bytes(conn.getresponse().read())
    conn.request("GET", "/v1/public-key")
    key.write_text(json.loads(conn.getresponse().read())["public_key_pem"])
    t = time.perf_counter()
    subprocess.run(["ladder", "verify", str(export), "--tree-head", str(sth), "--public-key",
                    str(key)], check=True, env=procfile.environment(), capture_output=True)
    verify_s = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(["sha256sum", str(export)], check=True, capture_output=True)
    sha_s = time.perf_counter() - t
    row("d4", "ladder verify of the whole export", verify_s, "s", sha_s,
        "sha256sum of the same file", "<= 15 s", verify_s <= 15)
    stack.stop()


def _tiles(port: int, workdir: Path, rng: random.Random, server_proof_p95: float) -> None:
    """d5, an inclusion proof as a C2SP client makes it, from the hash tiles it fetches
    (no token); d6, hash tiles served per second, against the same bytes as static files."""
    # Kept-alive connections, one taken by each tile a proof fetches at the same time.
    idle: queue.SimpleQueue[http.client.HTTPConnection] = queue.SimpleQueue()

    def get(path: str) -> bytes:
        try:
            conn = idle.get_nowait()
        except queue.Empty:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"/{path}")
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, (path, response.status)
        idle.put(conn)
        return body

    # A client keeps the tiles it has fetched, as C2SP clients do (a tile never changes
    # once the tree has it all; the partial ones are this checkpoint's): its store starts
    # empty, and after the first proofs each proof fetches the leaf's level-0 tile alone.
    kept = tiles.Store()

    for name, store in (("d5", kept), ("d5n", None)):
        proof_ms = []
        for n in range(WARM_UP + SAMPLES):
            index = rng.randrange(READ_ENTRIES)
            t = time.perf_counter()
            merkle.prove(merkle.inclusion_ranges(index, READ_ENTRIES),
                         tiles.fetcher(READ_ENTRIES, get, store))
            if n >= WARM_UP:
                proof_ms.append((time.perf_counter() - t) * 1000)
        p95 = percentile(proof_ms, 95)
        if store is not None:
            row(name, "inclusion proof from the tiles p95, a client that keeps its tiles",
                p95, "ms", server_proof_p95, "d2: the server's proof", "<= 5 ms", p95 <= 5)
        else:
            row(name, "inclusion proof from the tiles p95, a client that keeps none", p95,
                "ms", server_proof_p95, "d2: the server's proof", "reported", None)

    full = READ_ENTRIES // tiles.WIDTH
    paths = [tiles.Tile(0, rng.randrange(full), tiles.WIDTH).path() for _ in range(200)]
    paths += [tiles.Tile(1, i, tiles.width_at(1, i, READ_ENTRIES)).path()
              for i in range(-(-(READ_ENTRIES // tiles.WIDTH) // tiles.WIDTH))]
    static = workdir / "static"
    for path in paths:
        (static / path).parent.mkdir(parents=True, exist_ok=True)
        (static / path).write_bytes(get(path))
    batches = [[f"/{p}" for p in rng.sample(paths, len(paths))] for _ in range(2)]
    ours = _load(port, batches, SECONDS, _gets)
    static_port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory",
         str(static), str(static_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(static_port)
        base = _load(static_port, batches, SECONDS, _gets)
    finally:
        server.terminate()
        server.wait()
    row("d6", "hash tiles served per second, two clients", ours, "req/s", base,
        "the same tiles as static files (python -m http.server)", "reported", None)


def _export(port: int, token: str, fmt: str, out: Path, stack: Stack) -> tuple[float, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t = time.perf_counter()
    conn.request("GET", f"/v1/exports/entries?format={fmt}",
                 headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    lines = 0
    with out.open("wb") as f:
        while chunk := response.read(1 << 20):
            lines += chunk.count(b"\n")
            f.write(chunk)
    rate = (lines - (fmt == "csv")) / (time.perf_counter() - t)
    return rate, rss_peak_mb(stack.processes["ledger"].pid)


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="ladder-bench-"))
    started = datetime.now(UTC)
    steps: dict[str, Callable[[Path], None]] = {"a": bench_webhooks, "b": bench_end_to_end,
                                                "d": bench_reads}
    only = os.environ.get("BENCH_ONLY", "abd")
    try:
        for key, step in steps.items():
            if key in only:
                step(workdir)
    finally:
        clean_up(workdir)
    result = {"date": started.isoformat(), "smoke": SMOKE, "machine": {
        "cpus": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version()},
        "sizes": {"read_entries": READ_ENTRIES, "ingest_events": INGEST_EVENTS,
                  "seconds": SECONDS},
        "database": os.environ.get("BENCH_DATABASE", "sqlite"), "rows": ROWS,
        "cpu_seconds": CPU}
    out = Path(os.environ.get("BENCH_RESULTS") or ROOT / "bench" / "results"
               / "latest.json").resolve()
    out.write_text(json.dumps(result, indent=2))
    print()
    print(f"{'row':5} {'figure':58} {'value':>12} {'baseline':>12} {'ratio':>8}  target")
    for r in ROWS:
        base = "" if r["baseline"] is None else f"{r['baseline']:,.1f}"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        mark = {True: "met", False: "NOT MET", None: ""}[r["met"]]
        print(f"{r['row']:5} {r['what'][:58]:58} {r['value']:>12,.1f} {base:>12} {ratio:>8}  "
              f"{r['target']} {mark}")
    note = " (smoke mode: sizes too small to mean anything)" if SMOKE else ""
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"\nwritten to {shown}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
