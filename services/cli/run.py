"""Ladder's processes: all of them at once (run, with a witness in development), one as
docker-compose runs it (start), the relay's loop (relay), the followers of the log
(follow), and whether one is healthy (health)."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from services.cli.readiness import ready, wait_ready
from shared import heartbeat, procfile, supervision
from shared.config import (
    DEFAULT_PORTS,
    DOMAIN_SERVICES,
    SERVICES,
    ConfigError,
    database_url,
    load,
    local_url,
    metrics_dir,
    stop_grace_period,
    var_dir,
)

log = logging.getLogger("ladder")
# How long `ladder run` waits for every service to answer /readyz before it says which
# did not: on a busy machine of two cores, a dozen Python processes starting at once
# take most of a minute.
READY_SECONDS = 120


@click.command()
@click.option("--procfile", "procfile_path", default="Procfile", type=click.Path(exists=True))
def run(procfile_path: str) -> None:
    """Start Redis (if REDIS_URL is unset), migrate, and run every process in the Procfile,
    restarting any that exits; in development, a witness of the ledger too, which the
    ledger asks to cosign its checkpoints, and its monitor of the ledger's releases."""
    from shared.embedded_redis import EmbeddedRedis

    env = procfile.environment()
    try:
        grace = stop_grace_period(env)
        optional = development_witness(env)
    except (ConfigError, ValueError) as exc:  # a setting, or a key file, it cannot use
        raise click.ClickException(str(exc)) from exc
    redis = None
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis(var_dir(env) / "redis").start()
        env["REDIS_URL"] = redis.url
        click.echo(f"started embedded Redis at {redis.url}")
    try:
        _supervise(Path(procfile_path), env, grace, optional)
    finally:
        if redis:
            redis.stop()


def development_witness(env: dict[str, str]) -> dict[str, str]:
    """In development, wire a witness to the ledger in ``env``: it follows the ledger's
    verifier key and URL (LADDER_WITNESS_LOGS), so that its monitor fetches the ledger's
    published releases, and the ledger asks it to cosign each checkpoint
    (LADDER_WITNESSES), each key made under the var directory if missing, as the services
    make theirs. A setting already given is kept. Production wires nothing: a witness is
    run by an independent body, and named in LADDER_WITNESSES by hand.

    The optional processes to start, each with what to say of it once the services are
    ready: the witness, and its monitor unless LADDER_WITNESS_LOGS gives no ledger's URL.
    """
    if env.get("LADDER_ENV", "development") != "development":
        click.echo("witness      not started: in production a witness is run by an "
                   "independent body, and named in LADDER_WITNESSES (docs/operations.md)")
        return {}
    from services import witness
    from services.ledger.signing import load_signer

    if not env.get("LADDER_WITNESS_LOGS"):
        ledger_url = local_url(env["LADDER_BIND"], env["LEDGER_PORT"])
        env["LADDER_WITNESS_LOGS"] = f"{load_signer(load('ledger', env)).vkey()} {ledger_url}"
    config = load("witness", env)
    _, _, vkey = witness.identity(config)
    if env.get("LADDER_WITNESSES"):
        said = "LADDER_WITNESSES is set: the ledger asks only the witnesses it names"
    else:
        env["LADDER_WITNESSES"] = f"{local_url(env['LADDER_BIND'], env['WITNESS_PORT'])} {vkey}"
        said = "cosigns the ledger's checkpoints: /checkpoint carries its cosignature"
    optional = {"witness": f"{'':12} {said}; vkey {vkey}"}
    urls = config["WITNESS_LOG_URLS"]
    if urls:
        optional["witness-monitor"] = (
            "witness-monitor  runs: fetches the published releases of "
            f"{', '.join(urls.values())} every {config['WITNESS_MONITOR_INTERVAL']:g} s")
    else:
        # It would exit at once, and be given up after its retries: say why instead.
        click.echo("witness-monitor  not started: LADDER_WITNESS_LOGS gives no ledger's URL "
                   "(docs/witness.md)")
    return optional


def _supervise(procfile_path: Path, env: dict[str, str], grace: float,
               optional: Mapping[str, str]) -> None:
    """Migrate, then run the Procfile's processes (of the optional ones, those named in
    ``optional``) under supervisord until a signal."""
    os.environ.update(env)
    log_dir = var_dir(env) / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    # Nothing else runs on this var directory: every process's metric files start afresh.
    shutil.rmtree(metrics_dir(env), ignore_errors=True)
    for release in procfile.release_steps(optional):
        if procfile.release(procfile_path, env, log_dir, release) != 0:
            raise click.ClickException(f"{release} failed; see {log_dir / release}.log")
    try:
        config = supervision.write_config(var_dir(env) / "run" / "supervisord.conf",
                                          procfile_path, log_dir, grace, optional)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    supervisord: subprocess.Popen[bytes] | None = None
    stopping = False

    def _stop(*_: Any) -> None:
        # supervisord's SIGTERM stops every process, each within the grace period.
        nonlocal stopping
        stopping = True
        if supervisord is not None:
            supervisord.terminate()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    supervisord = subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "--configuration", str(config)],
        env=env)
    if stopping:
        supervisord.terminate()
    host = env["LADDER_BIND"]
    deadline = time.monotonic() + READY_SECONDS
    for service in (*SERVICES, *optional):
        if stopping or supervisord.poll() is not None:
            break
        if service not in DEFAULT_PORTS:  # serves no HTTP (the witness's monitor): one line
            click.echo(optional[service])
            continue
        url = f"http://{host}:{env[service.upper() + '_PORT']}"
        ready_now = wait_ready(url, max(1.0, deadline - time.monotonic()))
        state = "ready" if ready_now else "NOT READY (see the log)"
        click.echo(f"{service:12} {url}  {state}  openapi: {url}/openapi.json")
        if service in optional:
            click.echo(optional[service])
    else:
        _wait_started(var_dir(env) / "run" / "supervisor.sock")
        click.echo(f"logs in {log_dir}; Ctrl-C stops everything")
    status = supervisord.wait()
    if not stopping:
        raise click.ClickException(f"supervisord stopped unexpectedly (exit status {status}); "
                                   f"see {log_dir / 'supervisord.log'}")


def _wait_started(socket: Path, timeout: float = 30) -> None:
    """Wait until supervisord counts every process as started (running for longer than
    ``supervision.START_SECONDS``), so that what exits from now on is restarted and said."""
    from supervisor import childutils

    rpc: Any = childutils.getRPCInterface({"SUPERVISOR_SERVER_URL": f"unix://{socket}"})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {p["name"]: p["statename"] for p in rpc.supervisor.getAllProcessInfo()
                  if p["group"] == supervision.GROUP}
        if all(state == "RUNNING" for state in states.values()):
            return
        time.sleep(0.25)
    starting = ", ".join(f"{n} {s}" for n, s in sorted(states.items()) if s != "RUNNING")
    click.echo(f"not started within {timeout:g} s: {starting}", err=True)


@click.command()
@click.argument("name")
@click.option("--procfile", "procfile_path", default="Procfile", type=click.Path(exists=True))
@click.option("--print", "print_only", is_flag=True,
              help="Print the command line instead of running it.")
def start(name: str, procfile_path: str, print_only: bool) -> None:
    """Become the Procfile's process NAME: what each docker-compose service runs.

    The command line is the Procfile's, expanded from the environment; `ladder run`
    starts each of its processes this way too. This process is replaced by it, so
    signals reach it.
    """
    env = procfile.environment()
    try:
        argv, own = procfile.command(Path(procfile_path), name, env)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from exc
    if print_only:
        click.echo(shlex.join(argv))
        return
    if not procfile.is_release(name):
        procfile.fresh_metrics_dir(own)
    os.execvpe(argv[0], argv, own)


@click.command()
@click.argument("name")
@click.option("--procfile", "procfile_path", default="Procfile", type=click.Path(exists=True))
@click.option("--max-age", default=heartbeat.MAX_AGE, show_default=True,
              help="Seconds a heartbeat stays fresh (processes that serve no HTTP).")
def health(name: str, procfile_path: str, max_age: float) -> None:
    """Exit 0 if the Procfile's process NAME is healthy: docker-compose's health check.

    A web service is healthy when its /readyz answers 200 (its database and Redis
    are reachable); a process that serves no HTTP (the relay, the followers, the Celery
    workers, the witness's monitor) when its heartbeat is fresh.
    """
    try:
        argv, own = procfile.command(Path(procfile_path), name, procfile.environment())
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from exc
    if "--bind" in argv:
        host, _, port = argv[argv.index("--bind") + 1].rpartition(":")
        url = local_url(host, port)
        if not ready(url, timeout=5):
            raise click.ClickException(f"{name}: {url}/readyz does not answer 200")
        click.echo(f"{name}: ready")
        return
    age = heartbeat.age(heartbeat.path(name, own))
    if age is None or age > max_age:
        raise click.ClickException(f"{name}: no heartbeat in the last {max_age:g} s")
    click.echo(f"{name}: heartbeat {age:.1f} s ago")


@click.command()
@click.option("--service", "services", multiple=True, type=click.Choice(DOMAIN_SERVICES),
              help="Relay only these areas' outboxes (default: every area's).")
def relay(services: tuple[str, ...]) -> None:
    """Publish pending outbox rows to the ledger queue, one Celery task per batch."""
    from shared.area.models import Outbox
    from shared.celery_app import make_celery
    from shared.db import Database
    from shared.outbox import Relay
    from shared.outbox.ledger import publisher, settled

    config = load("relay")
    outboxes = [(name, Database(database_url(name)), Outbox)
                for name in services or DOMAIN_SERVICES]
    # The ledger only through its Celery tasks: the relay never opens its database.
    celery_app = make_celery("relay", config)
    worker = Relay(outboxes, publisher(celery_app), settled=settled(celery_app),
                   batch_size=config["RELAY_BATCH_SIZE"], interval=config["RELAY_INTERVAL"],
                   republish_after=config["REPUBLISH_AFTER"], on_pass=heartbeat.beat)

    def _stop(*_: Any) -> None:
        worker.running = False

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("relaying %s to the ledger queue", ", ".join(n for n, _, _ in outboxes))
    worker.run()


@click.command()
@click.option("--skipped", is_flag=True,
              help="Print the entries a follower went past without their effect, and why, "
                   "then exit.")
def follow(skipped: bool) -> None:
    """Apply the log's new entries to the measures and the webhook messages, each
    follower from its own stored position, and hand the messages to the broker; and ask
    the witnesses (LADDER_WITNESSES) to cosign each new checkpoint."""
    from services.ledger import followers, witnessing
    from shared.db import Database

    if skipped:
        found = followers.skipped(Database(database_url("ledger")))
        for gone in found:
            click.echo(f"{gone.skipped_at:%Y-%m-%dT%H:%M:%SZ}  {gone.follower:9} "
                       f"seq {gone.seq}  {gone.reason}")
        click.echo(f"{len(found)} entries skipped", err=True)
        return
    from services.ledger.webhooks.settings import Settings
    from services.ledger.webhooks.tasks import enqueue
    from services.ledger.worker import build

    app, celery_app = build()
    config = app.config
    state = {"running": True}

    def _stop(*_: Any) -> None:
        state["running"] = False

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("following the log: %s", ", ".join(followers.FOLLOWERS))
    with app.app_context():
        if app.extensions["witnesses"]:
            # Each new tree head, to the witnesses for their cosignatures.
            witnessing.run(app.extensions["db"], app.extensions["signer"],
                           app.extensions["witnesses"], config["WITNESS_INTERVAL"],
                           running=lambda: state["running"])
        followers.run(app.extensions["db"], Settings.from_config(config),
                      lambda messages: enqueue(celery_app, messages),
                      limit=config["FOLLOW_BATCH_SIZE"], interval=config["FOLLOW_INTERVAL"],
                      running=lambda: state["running"], on_pass=heartbeat.beat,
                      skip_after=config["FOLLOW_SKIP_AFTER"])
