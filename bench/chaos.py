"""make chaos: real faults injected into the real processes under load, then a count.

The faults on the same kind of database share one stack (the Procfile's processes, an
embedded Redis, fresh databases) and run one after another on it: those on SQLite, and
those on a private PostgreSQL server (fault 3 always; every fault with
CHAOS_DATABASE=postgresql). Each fault gets a load of CloudEvents of its own (its own
activity, CHAOS-<fault>) posted in batches to two services, the fault while the load
runs, and then a wait until the ledger has drained. Then it counts:

- accepted: events the services answered 202 for in this fault's load;
- in ledger: entries the ledger holds for them;
- duplicates: the same (source, id) twice, or the same domain event (type, area,
  activity or involvement id, revision) twice, in the ledger or in an outbox: over
  everything the stack holds, the earlier faults' events too;
- lost: accepted by this fault's load or an earlier one on the stack, and absent from
  the ledger, so that a later fault cannot hide an earlier fault's loss;
- verify: ``ladder verify`` of an NDJSON export of the whole ledger against the signed
  tree head and the live log;
- measures: once the followers of the log have caught up, "exact" if the measures count
  each area's involvements as the log holds them (recorded, less withdrawn);
- tiles: then, "exact" if the tiles follower has stored every full tile of level 0 of
  the log, and nothing else, each the leaf hashes of its entries.

After each fault the stack is put back (a process left dead started again, Redis's
memory limit restored, the fault's extra worker stopped), so that the next fault starts
from a running stack. A fault that leaves the stack beyond repair fails, and so do the
faults after it on that stack, each with the reason.

It prints the table and exits 1 unless every fault shows 0 lost, 0 duplicated, verify
passing and the measures and the tiles exact. A fault that cannot be injected on this
machine is printed as "not run" with the reason, and fails the run too: it proved nothing.

Sizes and switches (environment):
  CHAOS_EVENTS          events of fault 1's load (default 100,000)
  CHAOS_EVENTS_OTHER    events of the other faults' loads (default 20,000)
  CHAOS_ONLY            which faults to run, e.g. "146" (default "1234567")
  CHAOS_DATABASE        sqlite (default) or postgresql: the databases of faults other
                        than 3; postgresql puts them on fault 3's private server and
                        stack
  CHAOS_KILLS           SIGKILLs of the ledger worker in fault 1 (default 20)
  CHAOS_OUTAGE          seconds Redis or PostgreSQL stays down, or Redis full (default 5)
  CHAOS_REDIS_MAXMEMORY Redis's memory limit in fault 6 (default 64mb)
  CHAOS_PG_BIN          directory of initdb and pg_ctl (default: found under
                        /usr/lib/postgresql or with pg_config)
  CHAOS_DRAIN_TIMEOUT   seconds to wait for the ledger to drain (default 1800)
  CHAOS_KEEP=1          keep the databases and logs (kept anyway when a fault fails)
  CHAOS_SMOKE=1         tiny sizes, so that the suite keeps this working
  CHAOS_RESULTS         where the results go (default bench/results/chaos.json, or
                        chaos-smoke.json in smoke mode)

The load generator's HTTP client is the standard library's http.client, not requests,
the project's client elsewhere: a request costs the generator 63-89 µs of CPU with it
against 481-581 µs with requests (measured here), and the generator shares the two
cores with what it measures.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from bench.support.areas import ACTIVITIES, involvement
from bench.support.stack import ROOT, WRITE_PATH, Stack, prepare
from services.ledger import tree
from services.ledger.models import Aggregate, Entry, FollowerPosition, LeafTile
from services.ledger.models import Head as LedgerHead
from services.ledger.tiles import WIDTH, Tile
from shared import procfile
from shared.area.models import Outbox
from shared.celery_app import make_celery
from shared.config import SERVICES
from shared.config import load as load_config
from shared.db import Database
from shared.embedded_redis import free_port
from shared.envelope import INVOLVEMENT_RECORDED, INVOLVEMENT_WITHDRAWN
from shared.outbox.ledger import publisher

SMOKE = os.environ.get("CHAOS_SMOKE") == "1"
EVENTS = int(os.environ.get("CHAOS_EVENTS", 300 if SMOKE else 100_000))
EVENTS_OTHER = int(os.environ.get("CHAOS_EVENTS_OTHER", 300 if SMOKE else 20_000))
ONLY = os.environ.get("CHAOS_ONLY", "1234567")
KILLS = int(os.environ.get("CHAOS_KILLS", 2 if SMOKE else 20))
OUTAGE = float(os.environ.get("CHAOS_OUTAGE", 1.5 if SMOKE else 5))
REDIS_MAXMEMORY = os.environ.get("CHAOS_REDIS_MAXMEMORY", "64mb")
DRAIN_TIMEOUT = float(os.environ.get("CHAOS_DRAIN_TIMEOUT", 300 if SMOKE else 1800))
DATABASE = os.environ.get("CHAOS_DATABASE", "sqlite")
BATCH = 50 if SMOKE else 500
# The two services the load goes to, one client each.
AREAS = ("recruitment", "inspection")

# Short timeouts so that a fault's consequences play out within the run: a batch a
# killed worker held comes back after 10 s (4 s in smoke mode), and an event the broker
# lost is published again 20 s (5 s) after its first publish.
STACK_ENV = {
    # One web worker each in smoke mode: starting the stack is most of a smoke run's cost.
    "LADDER_WEB_WORKERS": "1" if SMOKE else "2",
    "LADDER_LOG_LEVEL": "INFO",
    "LADDER_VISIBILITY_TIMEOUT": "4" if SMOKE else "10",
    "LADDER_REPUBLISH_AFTER": "5" if SMOKE else "20",
    "LADDER_SOFT_SHUTDOWN_TIMEOUT": "2" if SMOKE else "10",
    # The load is one client per service, far above what a real integration sends.
    "LADDER_RATE_LIMIT_API": "1000000 per minute",
    "LADDER_RATE_LIMIT_WEBHOOKS": "1000000 per minute",
    "LADDER_RATE_LIMIT_ADDRESS": "1000000 per minute",
}


def say(message: str) -> None:
    print(f"  [{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# -- a private PostgreSQL server that this run may stop and start ----------------------


def pg_bindir() -> Path | None:
    if os.environ.get("CHAOS_PG_BIN"):
        return Path(os.environ["CHAOS_PG_BIN"])
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.insert(0, Path(out.stdout.strip()))
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


class PrivatePostgres:
    """A throwaway cluster (initdb) on a free port, so stopping it disturbs no one else.

    PostgreSQL refuses to run as root; as root, the server runs as the ``postgres``
    user, which must exist.
    """

    def __init__(self, bindir: Path) -> None:
        # Its own directory: the server's user must be able to reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="ladder-chaos-pg-"))
        self.directory.chmod(0o755)
        self.bindir = bindir
        self.port = free_port()
        self.data = self.directory / "data"
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            pwd.getpwnam("postgres")  # KeyError: no user to run it as
            self.run_as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.run_as, *argv], check=True, capture_output=True, cwd="/")

    def start(self) -> PrivatePostgres:
        if not self.data.exists():
            if self.run_as:
                shutil.chown(self.directory, "postgres", "postgres")
            self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
                      "--auth=trust", "--no-sync")
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=300 -c fsync=on -c synchronous_commit=on")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
                  "-l", str(self.directory / "server.log"), "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w",
                      "stop")

    def running(self) -> bool:
        status = subprocess.run([*self.run_as, str(self.bindir / "pg_ctl"), "-D",
                                 str(self.data), "status"], capture_output=True, cwd="/")
        return status.returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def databases(self) -> dict[str, str]:
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for service in SERVICES:
                conn.exec_driver_sql(f'CREATE DATABASE "chaos_{service}"')
        admin.dispose()
        return {s: self.url(f"chaos_{s}") for s in SERVICES}


# -- the load ------------------------------------------------------------------------------


def _cloudevent(area: str, command: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"specversion": "1.0", "id": uuid.uuid4().hex, "source": f"/chaos/{area}",
            "type": f"org.ladder.{command}", "data": data}


@dataclass
class Client:
    """One service's share of the load: batches of CloudEvents, posted in order.

    A batch that gets no 202 (the service was killed, its database was away) is
    posted again, as an integration would: the CloudEvents' ids make that safe.
    """

    area: str
    port: int
    token: str
    batches: list[list[dict[str, Any]]]
    accepted: set[str] = field(default_factory=set)
    # What the service made of each accepted event: its (kind, activity or involvement id).
    effects: set[tuple[str, str, str]] = field(default_factory=set)
    retries: Counter[str] = field(default_factory=Counter)

    def run(self, stop: threading.Event) -> None:
        conn: http.client.HTTPConnection | None = None
        headers = {"Content-Type": "application/cloudevents-batch+json",
                   "Authorization": f"Bearer {self.token}"}
        for batch in self.batches:
            body = json.dumps(batch).encode()
            while not stop.is_set():
                try:
                    conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                    conn.request("POST", "/v1/events", body=body, headers=headers)
                    response = conn.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException) as exc:
                    self.retries[type(exc).__name__] += 1
                    if conn is not None:
                        conn.close()
                    conn = None
                    time.sleep(0.5)
                    continue
                if response.status == 202:
                    self._accepted(json.loads(answer))
                    break
                self.retries[str(response.status)] += 1
                if response.status not in (429, 500, 502, 503):
                    raise RuntimeError(f"{self.area}: {response.status} {answer[:300]!r}")
                wait = response.getheader("Retry-After") if response.status in (429, 503) else None
                time.sleep(min(float(wait or 0.5), 10))

    def _accepted(self, answer: dict[str, Any]) -> None:
        for result in answer["results"]:
            self.accepted.add(result["id"])
            kind = result["type"].split(".")[0]
            self.effects.add((self.area, kind, str(result["result"]["id"])))


class Load:
    """Two clients, one per service, each with its own activity and its involvements.

    The activity's id is the fault's: a service refuses a second activity.recorded of an
    id it holds, so loads on one stack each need their own.
    """

    def __init__(self, stack: Stack, events: int, activity_id: str) -> None:
        self.events = events
        self.clients = []
        per_client = events // len(AREAS)
        for area in AREAS:
            first = _cloudevent(area, "activity.recorded", {**ACTIVITIES[area], "id": activity_id})
            rest = [_cloudevent(area, "involvement.recorded",
                                {"activity_id": activity_id, **involvement(area, f"C-{i % 5000}")})
                    for i in range(per_client - 1)]
            batches = [[first]] + [rest[i:i + BATCH] for i in range(0, len(rest), BATCH)]
            self.clients.append(Client(area, int(stack.env[f"{area.upper()}_PORT"]),
                                       stack.tokens[area], batches))
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, args=(c,), daemon=True)
                        for c in self.clients]
        self.started = self.finished = 0.0

    def _run(self, client: Client) -> None:
        try:
            client.run(self.stop)
        except BaseException as exc:
            self.errors.append(exc)

    def start(self) -> Load:
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    @property
    def accepted(self) -> int:
        return sum(len(c.accepted) for c in self.clients)

    def running(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def wait_accepted(self, share: float, timeout: float = 600) -> None:
        """Until this share of the load has been accepted (or the load is over)."""
        deadline = time.monotonic() + timeout
        while self.accepted < share * self.events and self.running():
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.accepted} events accepted in {timeout} s")
            time.sleep(0.1)

    def join(self, timeout: float = 3600) -> None:
        for thread in self.threads:
            thread.join(timeout)
        self.finished = time.monotonic()
        if self.errors:
            raise RuntimeError(f"the load failed: {self.errors[0]!r}")

    def halt(self) -> None:
        """Stop posting (after the request under way), so that a load a failed fault left
        running does not go on into the next fault's."""
        self.stop.set()
        for thread in self.threads:
            if thread.is_alive():
                thread.join(130)  # above the client's request timeout

    @property
    def effects(self) -> set[tuple[str, str, str]]:
        return set().union(*(c.effects for c in self.clients))

    @property
    def unapplied(self) -> int:
        """Accepted events the services have no effect of at all."""
        return max(0, self.accepted - len(self.effects))

    @property
    def retried(self) -> str:
        total = Counter[str]()
        for client in self.clients:
            total.update(client.retries)
        return ", ".join(f"{n} x {what}" for what, n in total.most_common()) or "none"


# -- counting --------------------------------------------------------------------------------


def ledger_size(stack: Stack) -> int:
    db = Database(stack.env["LEDGER_DATABASE_URL"])
    try:
        with db.reading() as session:
            return int(session.scalar(sa.select(LedgerHead.size)) or 0)
    finally:
        db.dispose()


def outbox_rows(stack: Stack, area: str) -> list[dict[str, Any]]:
    db = Database(stack.env[f"{area.upper()}_DATABASE_URL"])
    try:
        with db.reading() as session:
            return [json.loads(p) for p in session.scalars(sa.select(Outbox.payload))]
    finally:
        db.dispose()


def outbox_pending(stack: Stack) -> int:
    total = 0
    for area in AREAS:
        db = Database(stack.env[f"{area.upper()}_DATABASE_URL"])
        try:
            with db.reading() as session:
                total += int(session.scalar(sa.select(sa.func.count()).select_from(Outbox)
                                            .where(Outbox.published_at.is_(None))) or 0)
        finally:
            db.dispose()
    return total


def _domain_key(event: dict[str, Any]) -> tuple[str, str, str, str, int]:
    data = event.get("data") or {}
    kind = "involvement" if "involvement" in event["type"] else "activity"
    target = data.get(f"{kind}_id")
    return (event["type"], data.get("area", ""), kind, str(target), int(data.get("revision", 0)))


def supervise(stack: Stack) -> None:
    """Start again any process that has exited, as compose's restart policy and `ladder
    run` do: a process that exits on a fault (the ledger worker on Redis's out-of-memory
    error) may do so after the fault's own check, while it shuts down."""
    startable = procfile.parse(ROOT / "Procfile")
    for name, process in list(stack.processes.items()):
        if name in startable and not process.alive():
            say(f"{name} had exited; started again, as its supervisor would")
            stack.processes.pop(name)
            stack.start(name)


def drain(stack: Stack, timeout: float) -> float:
    """Wait until the ledger holds every outbox event and the broker holds nothing more."""
    start = time.monotonic()
    expected = sum(len(outbox_rows(stack, a)) for a in AREAS)
    broker = redis.Redis(port=stack.redis.port)
    while time.monotonic() - start < timeout:
        supervise(stack)
        with contextlib.suppress(redis.RedisError):
            if (ledger_size(stack) >= expected and not outbox_pending(stack)
                    and not broker.llen("ledger") and not broker.hlen("unacked")):
                # Give a redelivered batch the chance to (wrongly) append again.
                time.sleep(1 if SMOKE else 3)
                return time.monotonic() - start
        time.sleep(0.5)
    return time.monotonic() - start


@dataclass
class Row:
    fault: str
    accepted: int | None = None
    in_ledger: int | None = None
    duplicates: int | None = None
    lost: int | None = None
    verify: str = ""
    # The followers of the log caught up, and the measures count every involvement.
    measures: str = ""
    # Then every full tile of level 0 stored, as the entries' leaf hashes.
    tiles: str = ""
    notes: str = ""
    not_run: str = ""

    @property
    def passed(self) -> bool:
        return (not self.not_run and self.lost == 0 and self.duplicates == 0
                and self.verify == "passes" and self.measures == "exact"
                and self.tiles == "exact")


def count(stack: Stack, loads: list[Load], row: Row) -> None:
    """The last load's accepted and in-ledger figures; duplicates and losses over every
    load the stack has taken and everything it holds."""
    load = loads[-1]
    row.accepted = load.accepted
    db = Database(stack.env["LEDGER_DATABASE_URL"])
    with db.reading() as session:
        rows = session.execute(sa.select(Entry.source, Entry.event_id, Entry.event)).all()
    db.dispose()
    sources = {f"/ladder/{a}" for a in AREAS}
    ours = [(r.source, r.event_id, json.loads(r.event)) for r in rows if r.source in sources]
    by_id = Counter((r.source, r.event_id) for r in rows)
    by_domain = Counter(_domain_key(event) for _, _, event in ours)
    # The outboxes too: a service that applied an accepted event twice made two events.
    outbox = [e for a in AREAS for e in outbox_rows(stack, a)]
    by_outbox = Counter(_domain_key(e) for e in outbox)
    row.duplicates = (sum(n - 1 for n in by_id.values())
                      + sum(n - 1 for n in by_domain.values())
                      + sum(n - 1 for n in by_outbox.values()))
    held = {(event["data"]["area"], key[2], key[3]) for event in (e for _, _, e in ours)
            for key in [_domain_key(event)]}
    row.in_ledger = len(load.effects & held)
    # Accepted but absent: an accepted event whose effect the ledger lacks, or an accepted
    # event the service has no effect of at all.
    expected = set().union(*(earlier.effects for earlier in loads))
    row.lost = len(expected - held) + sum(earlier.unapplied for earlier in loads)


def measures(stack: Stack, timeout: float) -> str:
    """Once the followers have caught up with the log, do the measures count each area's
    involvements as the log holds them (recorded, less withdrawn)? "exact" if so."""
    deadline = time.monotonic() + timeout
    while any((lag := stack.lag()).values()):
        if time.monotonic() > deadline:
            return f"FAILS: still behind the log: {lag}"
        supervise(stack)
        time.sleep(0.5)
    db = Database(stack.env["LEDGER_DATABASE_URL"])
    try:
        with db.reading() as session:
            counted = dict(session.execute(
                sa.select(Aggregate.area, sa.func.sum(Aggregate.involvements))
                .where(Aggregate.org_unit == "*", Aggregate.kind == "year")
                .group_by(Aggregate.area)).all())
            by_type = Counter({(area, type_): n for area, type_, n in session.execute(
                sa.select(Entry.area, Entry.type, sa.func.count()).group_by(Entry.area,
                                                                         Entry.type))})
    finally:
        db.dispose()
    expected = {area: by_type[area, INVOLVEMENT_RECORDED] - by_type[area, INVOLVEMENT_WITHDRAWN]
                for area, _ in by_type}
    counted = {area: int(n) for area, n in counted.items() if n}
    expected = {area: n for area, n in expected.items() if n}
    return "exact" if counted == expected else f"FAILS: {counted} counted of {expected}"


def stored_tiles(stack: Stack) -> str:
    """Once the followers have caught up (``measures`` waits for them): has the tiles
    follower stored every full tile of level 0 of the log, and no other, each the leaf
    hashes of its entries? "exact" if so."""
    db = Database(stack.env["LEDGER_DATABASE_URL"])
    try:
        with db.reading() as session:
            full = tree.current_size(session.connection()) // WIDTH
            stored = {index: bytes(hashes) for index, hashes in session.execute(
                sa.select(LeafTile.index, LeafTile.hashes))}
            wrong = [n for n in range(full)
                     if stored.get(n) != tree.tile_hashes(session.connection(), Tile(0, n, WIDTH))]
    finally:
        db.dispose()
    extra = sorted(stored.keys() - set(range(full)))
    if wrong or extra:
        return (f"FAILS: of {full} full tiles, {len(wrong)} missing or not their entries' "
                f"(first {wrong[:3]}), {len(extra)} beyond the log (first {extra[:3]})")
    return "exact"


def verify(stack: Stack, workdir: Path) -> str:
    """Export, then ``ladder verify`` against the signed tree head and the live log."""
    base = stack.url("ledger")
    auth = {"Authorization": f"Bearer {stack.tokens['ledger']}"}
    conn = http.client.HTTPConnection("127.0.0.1", int(stack.env["LEDGER_PORT"]), timeout=600)
    conn.request("GET", "/ct/v1/get-sth", headers=auth)
    (workdir / "sth.json").write_bytes(conn.getresponse().read())
    conn.request("GET", "/v1/public-key")
    (workdir / "key.json").write_bytes(conn.getresponse().read())
    conn.request("GET", "/v1/exports/entries?format=ndjson", headers=auth)
    response = conn.getresponse()
    with (workdir / "entries.ndjson").open("wb") as f:
        while chunk := response.read(1 << 20):
            f.write(chunk)
    result = subprocess.run(
        ["ladder", "verify", str(workdir / "entries.ndjson"), "--tree-head",
         str(workdir / "sth.json"), "--public-key", str(workdir / "key.json"), "--url", base,
         "--token", stack.tokens["ledger"]],
        env=procfile.environment(stack.env), capture_output=True, text=True, cwd=workdir)
    if result.returncode == 0:
        return "passes"
    return "FAILS: " + (result.stderr.strip().splitlines() or ["?"])[-1][:80]


# -- the faults --------------------------------------------------------------------------------


Inject = Callable[[Stack, Load], str]


def kill_worker(stack: Stack, load: Load) -> str:
    """SIGKILL the ledger worker (its whole process group) and start it again, many times."""
    broker = redis.Redis(port=stack.redis.port)
    holding = 0
    during_load = 0
    for _ in range(KILLS):
        size = ledger_size(stack)
        deadline = time.monotonic() + 15
        # Let the new worker get going: kill it once it has appended something, or at
        # once when there is nothing left for it to append (the load has ended and the
        # broker holds nothing), which waiting would not change.
        while (ledger_size(stack) == size and time.monotonic() < deadline
               and (load.running() or broker.llen("ledger") or broker.hlen("unacked"))):
            time.sleep(0.1)
        time.sleep(0.3)
        holding += bool(broker.hlen("unacked"))
        during_load += load.running()
        stack.kill("ledger-worker")
        stack.start("ledger-worker")
    return (f"{KILLS} SIGKILLs ({during_load} while the load ran); {holding} caught the "
            "worker holding unacknowledged batches")


def follower_positions(stack: Stack) -> dict[str, int]:
    db = Database(stack.env["LEDGER_DATABASE_URL"])
    try:
        with db.reading() as session:
            return {p.name: p.position for p in session.scalars(sa.select(FollowerPosition))}
    finally:
        db.dispose()


def kill_follower(stack: Stack, load: Load) -> str:
    """SIGKILL the followers of the log and start them again, many times, each time once
    the new process has moved a follower: the measures must still count every entry,
    once."""
    during_load = moved = 0
    for _ in range(KILLS):
        before = follower_positions(stack)
        deadline = time.monotonic() + 15
        while follower_positions(stack) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        moved += follower_positions(stack) != before
        during_load += load.running()
        stack.kill("ledger-follower")
        stack.start("ledger-follower")
    return (f"{KILLS} SIGKILLs of the followers ({during_load} while the load ran), "
            f"{moved} after the new process had moved a follower")


def stop_redis(stack: Stack, load: Load) -> str:
    load.wait_accepted(1 / 3)
    before = load.accepted
    stack.redis.stop(signal.SIGKILL)
    time.sleep(OUTAGE)
    during = load.accepted - before
    stack.redis.start()
    return (f"Redis SIGKILLed for {OUTAGE:g} s at {before} accepted; {during} events "
            "accepted while it was down")


def stop_postgres(stack: Stack, load: Load) -> str:
    server: PrivatePostgres = stack.postgres  # type: ignore[attr-defined]
    load.wait_accepted(1 / 3)
    before = load.accepted
    server.stop("immediate")
    time.sleep(OUTAGE)
    server.start()
    return (f"PostgreSQL stopped (immediate, as a crash) for {OUTAGE:g} s at {before} "
            f"accepted; requests refused meanwhile were sent again ({load.retried})")


def crash_between_commit_and_publish(stack: Stack, load: Load) -> str:
    """The outbox makes commit (the service) and publish (the relay) separate steps: kill both.

    The relay is killed mid-pass, so some batches were published but not marked; the
    service is killed mid-request, so some transactions committed unanswered.
    """
    relay_kills = service_kills = 0
    for i in range(2 if SMOKE else 8):
        load.wait_accepted((i + 1) / (3 if SMOKE else 10))
        if i % 2 == 0:
            stack.kill("relay")
            time.sleep(0.5)  # committed events pile up unpublished meanwhile
            stack.start("relay")
            relay_kills += 1
        else:
            stack.kill("recruitment")
            stack.start("recruitment")
            service_kills += 1
    return (f"relay SIGKILLed {relay_kills} times, recruitment's gunicorn {service_kills} "
            f"times; the load sent refused batches again ({load.retried})")


def two_workers(stack: Stack, load: Load) -> str:
    names = ("ledger-worker", "ledger-worker-2")

    def appended() -> list[int]:
        # The logs hold the earlier faults' batches too.
        return [(stack.logs / f"{n}.log").read_text(errors="replace").count("succeeded in")
                if (stack.logs / f"{n}.log").exists() else 0 for n in names]

    before = appended()
    command = procfile.parse(ROOT / "Procfile")["ledger-worker"] + " --hostname second@%h"
    log = (stack.logs / "ledger-worker-2.log").open("ab")
    second = procfile.Process("ledger-worker-2", procfile.expand(command, stack.env),
                              stack.env, log).start()
    try:
        load.join()
        drain(stack, DRAIN_TIMEOUT)
        done = [after - earlier for after, earlier in zip(appended(), before, strict=True)]
    finally:
        # The next fault on this stack has one worker again.
        second.stop()
        log.close()
    return (f"two workers throughout; batches appended: {done[0]} and {done[1]}; the "
            "second stopped (SIGTERM) afterwards")


def fill_redis(stack: Stack, load: Load) -> str:
    load.wait_accepted(1 / 3)
    broker = redis.Redis(port=stack.redis.port)
    keys = 0

    def fill() -> None:
        """Big values first, then ever smaller ones, until not even a small write fits."""
        nonlocal keys
        for size in (256 * 1024, 16 * 1024, 1024, 64):
            with contextlib.suppress(redis.exceptions.OutOfMemoryError):
                while True:
                    broker.set(f"chaos:fill:{keys}", b"x" * size)
                    keys += 1

    relay_log = stack.logs / "relay.log"
    failures_before = relay_log.read_text(errors="replace").count("outbox publish failed")
    fill()
    info = broker.info("memory")
    # Probe with the relay's own publisher; the worker frees a little memory as it takes
    # batches, so fill up again before each probe.
    celery_app = make_celery("chaos", load_config("ledger", stack.env))
    probes: list[float | None] = []
    for _ in range(5):
        fill()
        started = time.monotonic()
        try:
            publisher(celery_app)([{"id": "probe"}])
            probes.append(None)
        except Exception:
            probes.append(1000 * (time.monotonic() - started))
    held = 0
    until = time.monotonic() + 2 * OUTAGE
    while time.monotonic() < until:
        fill()
        held = max(held, outbox_pending(stack))
        time.sleep(0.2)
    delete_junk(broker)
    # A worker that takes a batch while Redis is full dies on the out-of-memory error
    # (Celery counts it unrecoverable); compose's restart policy starts it again.
    restarted = ""
    if not stack.processes["ledger-worker"].alive():
        stack.processes.pop("ledger-worker")
        stack.start("ledger-worker")
        restarted = ("; the ledger worker exited on Redis's out-of-memory error and was "
                     "started again, as compose's restart policy does")
    failures = (relay_log.read_text(errors="replace").count("outbox publish failed")
                - failures_before)
    refused = [ms for ms in probes if ms is not None]
    slowest = f", the slowest in {max(refused):.0f} ms" if refused else ""
    return (f"Redis filled to {info['used_memory_human']} of {info['maxmemory_human']} "
            f"(noeviction) and kept full for {2 * OUTAGE:g} s; {len(refused)} of "
            f"{len(probes)} probe publishes refused{slowest}; the relay's publish failed "
            f"{failures} times; up to {held} events waited in the outboxes{restarted}")


def delete_junk(broker: redis.Redis) -> None:
    junk = list(broker.scan_iter("chaos:fill:*", count=10_000))
    if junk:
        broker.delete(*junk)


@dataclass
class Fault:
    key: str
    title: str
    inject: Inject
    events: int
    needs_postgres: bool = False
    redis_maxmemory: str | None = None


FAULTS = [
    Fault("1", "SIGKILL the ledger worker", kill_worker, EVENTS),
    Fault("2", "stop and start Redis", stop_redis, EVENTS_OTHER),
    Fault("3", "stop and start PostgreSQL", stop_postgres, EVENTS_OTHER, needs_postgres=True),
    Fault("4", "crash between commit and publish", crash_between_commit_and_publish,
          EVENTS_OTHER),
    Fault("5", "two ledger workers at once", two_workers, EVENTS_OTHER),
    Fault("6", "fill Redis to its memory limit", fill_redis, EVENTS_OTHER,
          redis_maxmemory=REDIS_MAXMEMORY),
    Fault("7", "SIGKILL the followers of the log", kill_follower, EVENTS_OTHER),
]


def groups(faults: list[Fault]) -> dict[str, list[Fault]]:
    """The faults that share a stack, by the kind of database it has."""
    found: dict[str, list[Fault]] = {"sqlite": [], "postgresql": []}
    for fault in faults:
        on_postgres = fault.needs_postgres or DATABASE == "postgresql"
        found["postgresql" if on_postgres else "sqlite"].append(fault)
    return {kind: members for kind, members in found.items() if members}


@contextlib.contextmanager
def databases(kind: str, workdir: Path) -> Iterator[tuple[dict[str, str], Any]]:
    if kind == "sqlite":
        yield {s: f"sqlite:///{workdir / (s + '.db')}" for s in SERVICES}, None
        return
    bindir = pg_bindir()
    if bindir is None:
        raise NotRunnable("no PostgreSQL server binaries (initdb, pg_ctl); set CHAOS_PG_BIN")
    try:
        server = PrivatePostgres(bindir)
    except KeyError as exc:
        raise NotRunnable("running as root and there is no postgres user to run "
                          "PostgreSQL as") from exc
    server.start()
    try:
        yield server.databases(), server
    finally:
        server.stop("fast")
        shutil.rmtree(server.directory, ignore_errors=True)


class NotRunnable(Exception):
    """This machine cannot inject the fault; the reason says why."""


def put_back(stack: Stack) -> None:
    """The stack as it was before the fault: every process running, Redis without its
    memory limit and the junk that filled it."""
    server: PrivatePostgres | None = stack.postgres  # type: ignore[attr-defined]
    if server is not None and not server.running():
        say("PostgreSQL was down; started again")
        server.start()
    names = (*AREAS, *WRITE_PATH)
    dead = [n for n in names if n not in stack.processes or not stack.processes[n].alive()]
    if dead:
        say(f"started again after the fault: {', '.join(dead)}")
    stack.revive(*names)
    broker = redis.Redis(port=stack.redis.port)
    broker.config_set("maxmemory", stack.redis.maxmemory or "0")
    delete_junk(broker)


def run_fault(fault: Fault, stack: Stack, loads: list[Load], row: Row, workdir: Path) -> None:
    """Inject one fault under its own load, on a stack that may hold earlier faults' events
    (``loads``, to which this fault's load is added)."""
    print(f"fault {fault.key}: {fault.title}, {fault.events:,} events", flush=True)
    earlier = sum(load.accepted for load in loads)
    load = Load(stack, fault.events, f"CHAOS-{fault.key}")
    loads.append(load)
    try:
        if fault.redis_maxmemory:
            redis.Redis(port=stack.redis.port).config_set("maxmemory", fault.redis_maxmemory)
        load.start()
        say("load started")
        row.notes = fault.inject(stack, load)
        say(f"fault injected: {row.notes}")
        load.join()
        say(f"{load.accepted:,} events accepted in {load.finished - load.started:.0f} s;"
            f" retried: {load.retried}")
        drained = drain(stack, DRAIN_TIMEOUT)
        say(f"drained {drained:.0f} s after the load")
        if earlier:
            row.notes += (f"; the stack already held the {earlier:,} events earlier faults' "
                          "loads had accepted, counted with these")
        count(stack, loads, row)
        workdir.mkdir(parents=True, exist_ok=True)
        row.verify = verify(stack, workdir)
        row.measures = measures(stack, DRAIN_TIMEOUT)
        row.tiles = stored_tiles(stack)
        say(f"{row.in_ledger:,} in the ledger, {row.duplicates} duplicates, "
            f"{row.lost} lost (of every load on this stack); verify {row.verify}; "
            f"measures {row.measures}; tiles {row.tiles}")
    except Exception as exc:
        # The fault broke the harness or the stack: the row fails, the others still run.
        traceback.print_exc()
        row.verify = f"ERROR: {exc!r}"[:200]
    finally:
        load.halt()


def run_group(kind: str, faults: list[Fault], workdir: Path) -> list[Row]:
    """The faults on one stack, one after another."""
    rows = [Row(f"{f.key}. {f.title}") for f in faults]
    print(f"faults {', '.join(f.key for f in faults)}: one stack on {kind}", flush=True)
    try:
        with databases(kind, workdir) as (urls, server):
            stack = prepare(workdir, urls, **STACK_ENV)
            stack.postgres = server  # type: ignore[attr-defined]
            try:
                # The areas the load sends to, and the ledger's side: the other areas'
                # processes would only cost their start.
                stack.start(*AREAS, *WRITE_PATH)
                loads: list[Load] = []
                broken = ""
                for fault, row in zip(faults, rows, strict=True):
                    if broken:
                        row.verify = f"ERROR: not injected: {broken}"[:200]
                        say(f"fault {fault.key} not injected: {broken}")
                        continue
                    run_fault(fault, stack, loads, row, workdir / f"fault{fault.key}")
                    try:
                        put_back(stack)
                    except Exception as exc:
                        traceback.print_exc()
                        broken = f"the stack could not be put back after fault {fault.key}: {exc!r}"
            finally:
                stack.stop()
    except NotRunnable as exc:
        for row in rows:
            row.not_run = str(exc)
        say(f"not run: {exc}")
    except Exception as exc:
        # The stack did not start, or did not stop: every row not yet counted fails.
        traceback.print_exc()
        for row in rows:
            if not row.verify:
                row.verify = f"ERROR: {exc!r}"[:200]
    return rows


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def table(rows: list[Row]) -> str:
    header = ("fault", "accepted", "in ledger", "duplicates", "lost", "verify", "measures",
              "tiles")
    lines = [header]
    for r in rows:
        if r.not_run:
            lines.append((r.fault, f"not run: {r.not_run}", "", "", "", "", "", ""))
        else:
            lines.append((r.fault, _n(r.accepted), _n(r.in_ledger), _n(r.duplicates),
                          _n(r.lost), r.verify, r.measures, r.tiles))
    widths = [max(len(line[i]) for line in lines if not line[1].startswith("not run"))
              for i in range(len(header))]
    out = []
    for line in lines:
        if line[1].startswith("not run"):
            out.append(f"{line[0]:{widths[0]}}  {line[1]}")
        else:
            out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                 for i, (c, w) in enumerate(zip(line, widths, strict=True))))
    return "\n".join(out)


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="ladder-chaos-"))
    started = datetime.now(UTC)
    chosen = [f for f in FAULTS if f.key in ONLY]
    by_fault: dict[str, Row] = {}
    for kind, faults in groups(chosen).items():
        for fault, row in zip(faults, run_group(kind, faults, workdir / kind), strict=True):
            by_fault[fault.key] = row
    rows = [by_fault[f.key] for f in chosen]
    print()
    print(table(rows))
    print()
    for r in rows:
        if r.notes:
            print(f"{r.fault}: {r.notes}")
    result = {"date": started.isoformat(), "smoke": SMOKE, "database": DATABASE,
              "sizes": {"fault_1": EVENTS, "others": EVENTS_OTHER, "kills": KILLS,
                        "outage_s": OUTAGE, "redis_maxmemory": REDIS_MAXMEMORY},
              "rows": [r.__dict__ | {"passed": r.passed} for r in rows]}
    out = Path(os.environ.get("CHAOS_RESULTS") or ROOT / "bench" / "results"
               / ("chaos-smoke.json" if SMOKE else "chaos.json")).resolve()
    out.write_text(json.dumps(result, indent=2))
    failed = [r.fault for r in rows if not r.passed]
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"\nwritten to {shown}; "
          + (f"FAILED: {', '.join(failed)}" if failed else "every fault: 0 lost, 0 duplicated, "
             "verify passes, the measures and the tiles exact"))
    if failed or os.environ.get("CHAOS_KEEP") == "1":
        print(f"databases and logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
