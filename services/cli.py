"""The ``ladder`` command: migrate, relay, run."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import click

from shared import procfile
from shared.config import DOMAIN_SERVICES, SERVICES, database_url, load, var_dir
from shared.db import Database


def _logging() -> None:
    logging.basicConfig(level=os.environ.get("LADDER_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)


@click.group()
def main() -> None:
    """Ladder: the co-production involvement ledger."""
    _logging()


@main.command()
@click.argument("services", nargs=-1, type=click.Choice(SERVICES))
def migrate(services: tuple[str, ...]) -> None:
    """Bring each service's database schema up to date (all services by default)."""
    from shared.migrations import upgrade

    for service in services or SERVICES:
        upgrade(service, database_url(service))
        click.echo(f"migrated {service}")


@main.command()
@click.option("--service", "services", multiple=True, type=click.Choice(DOMAIN_SERVICES),
              help="Relay only these services' outboxes (default: all three).")
def relay(services: tuple[str, ...]) -> None:
    """Publish pending outbox rows to the ledger queue, one Celery task per batch."""
    from shared.celery_app import make_celery, publisher
    from shared.outbox import Relay

    config = load("ledger")
    outboxes = []
    for name in services or DOMAIN_SERVICES:
        model = importlib.import_module(f"services.{name}.models").Outbox
        outboxes.append((name, Database(database_url(name)), model))
    from services.ledger.service import held

    ledger = Database(database_url("ledger"))
    worker = Relay(outboxes, publisher(make_celery("relay", config)),
                   held=lambda keys: held(ledger, keys),
                   batch_size=config["RELAY_BATCH_SIZE"], interval=config["RELAY_INTERVAL"],
                   republish_after=config["REPUBLISH_AFTER"])

    def _stop(*_: Any) -> None:
        worker.running = False

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"relaying {', '.join(n for n, _, _ in outboxes)} to the ledger queue")
    worker.run()


@main.group()
def token() -> None:
    """API tokens: bearer credentials with scopes, stored hashed."""


@token.command("create")
@click.argument("service", type=click.Choice(DOMAIN_SERVICES))
@click.option("--name", required=True, help="Who the token is for, e.g. hr-system.")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="read, write or admin (repeat for several), or SERVICE:VERB.")
def token_create(service: str, name: str, scopes: tuple[str, ...]) -> None:
    """Create a token for SERVICE and print it; it is shown this once."""
    from shared.area.models import ApiToken
    from shared.auth import VERBS, create_token

    wanted = {s if ":" in s else f"{service}:{s}" for s in scopes}
    bad = [s for s in wanted if s.split(":", 1) not in ([service, v] for v in VERBS)]
    if bad:
        raise click.BadParameter(f"unknown scope(s) {', '.join(sorted(bad))}; use "
                                 f"{', '.join(VERBS)}", param_hint="--scope")
    config = load(service)
    click.echo(create_token(Database(config["DATABASE_URL"]), ApiToken,
                            config["TOKEN_PEPPER"], name, wanted))


@main.group()
def integration() -> None:
    """Webhook integrations: one whsec_ secret each, rotatable."""


@integration.command("create")
@click.argument("service", type=click.Choice(DOMAIN_SERVICES))
@click.argument("name")
def integration_create(service: str, name: str) -> None:
    """Create integration NAME for SERVICE and print its secret and webhook URL path."""
    from shared.area.integrations import create_integration

    secret = create_integration(Database(database_url(service)), name)
    click.echo(f"secret: {secret}\nwebhook: POST /v1/webhooks/{name}")


@integration.command("rotate")
@click.argument("service", type=click.Choice(DOMAIN_SERVICES))
@click.argument("name")
def integration_rotate(service: str, name: str) -> None:
    """Give NAME a new secret; the old one stays valid until the next rotation."""
    from shared.area.integrations import rotate_integration

    click.echo(f"secret: {rotate_integration(Database(database_url(service)), name)}")


def _wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.25)
    return False


@main.command()
@click.option("--procfile", "procfile_path", default="Procfile", type=click.Path(exists=True))
def run(procfile_path: str) -> None:
    """Start Redis (if REDIS_URL is unset), migrate, and run every process in the Procfile."""
    from shared.embedded_redis import EmbeddedRedis

    env = procfile.environment()
    redis = None
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis(var_dir(env) / "redis").start()
        env["REDIS_URL"] = redis.url
        click.echo(f"started embedded Redis at {redis.url}")
    os.environ.update(env)
    logs = var_dir(env) / "log"
    logs.mkdir(parents=True, exist_ok=True)
    for service in SERVICES:
        from shared.migrations import upgrade

        upgrade(service, database_url(service, env))
    processes = procfile.start_all(Path(procfile_path), env, log_dir=logs)
    stopping = False

    def _stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    host = env["LADDER_BIND"]
    for service in SERVICES:
        url = f"http://{host}:{env[service.upper() + '_PORT']}"
        state = "ready" if _wait_ready(url, 30) else "NOT READY (see the log)"
        click.echo(f"{service:12} {url}  {state}  openapi: {url}/openapi.json")
    click.echo(f"logs in {logs}; Ctrl-C stops everything")
    try:
        while not stopping:
            dead = [p.name for p in processes.values() if not p.alive()]
            if dead:
                click.echo(f"stopped unexpectedly: {', '.join(dead)}; see {logs}", err=True)
                break
            time.sleep(0.5)
    finally:
        procfile.stop_all(processes)
        if redis:
            redis.stop()
    sys.exit(0 if stopping else 1)
