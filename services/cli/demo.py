"""``ladder demo``: fill a running instance with a year of involvement (services/demo.py)."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING

import click

from services.cli.readiness import wait_ready
from shared import areas, procfile
from shared.config import DOMAIN_SERVICES, SERVICES, database_url, load

if TYPE_CHECKING:
    from services.demo import Plan, Sender
    from shared.db import Database


@click.command()
@click.option("--seed", default=2026, show_default=True,
              help="The same seed gives the same year; the demo can be loaded once per seed.")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(0.01, 10),
              help="How busy the organisation is: 1 is about 480 activities a year.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Where the services listen (their ports come from the environment).")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait until the ledger holds every event.")
def demo(seed: int, scale: float, host: str, wait: bool) -> None:
    """Fill a running instance (make run) with a year of involvement, through the webhooks."""
    from datetime import UTC, datetime

    from services import demo as year
    from services.ledger.models import ApiToken as LedgerToken
    from shared.auth import create_token
    from shared.db import Database

    env = procfile.environment()
    urls = {s: f"http://{host}:{env[s.upper() + '_PORT']}" for s in SERVICES}
    down = [s for s in SERVICES if not wait_ready(urls[s], 5)]
    if down:
        raise click.ClickException(f"{', '.join(down)} did not answer at "
                                   f"{', '.join(urls[s] for s in down)}: start everything "
                                   "with `make run` first.")
    plan = year.plan_year(datetime.now(UTC), seed=seed, scale=scale, tag=f"DEMO{seed}")
    sender = year.Sender(urls, "demo", _integration_secrets())
    _set_up(plan, sender)
    ledger = Database(database_url("ledger"))
    before = _size(ledger)
    click.echo(f"a year of involvement in {', '.join(areas.names())}: {len(plan.stories)} "
               f"activities, {plan.count()} signed webhooks")
    try:
        with click.progressbar(length=plan.count(), label="sending webhooks",
                               file=sys.stderr) as bar:
            sent = year.send(plan, sender, progress=bar.update)
    except RuntimeError as exc:
        hint = " (already loaded? try another --seed)" if " 409 " in str(exc) else ""
        raise click.ClickException(f"{exc}{hint}") from exc
    click.echo(f"sent {sent} webhooks, each answered 202")
    if wait:
        deadline = time.monotonic() + max(60, sent / 20)
        while _size(ledger) < before + sent and time.monotonic() < deadline:
            time.sleep(0.5)
        held = _size(ledger) - before
        if held < sent:
            raise click.ClickException(f"the ledger holds {held} of the {sent} events so far: "
                                       "are the relay and the ledger worker running?")
        # The figures count them once the followers of the log have applied them.
        while _lagging(ledger) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _lagging(ledger):
            raise click.ClickException("the ledger holds every event, but the figures do not "
                                       "count them all yet: is the ledger-follower running?")
        click.echo(f"the ledger holds all {sent} events")
    auditor = create_token(ledger, LedgerToken, load("ledger")["TOKEN_PEPPER"],
                           f"demo-auditor-{seed}", ["ledger:read"])
    click.echo(f"\nOpen {urls['ledger']}/dashboard and sign in with this auditor token "
               f"(shown once):\n{auditor}")


def _integration_secrets() -> dict[str, str]:
    """Each area's ``demo`` integration, made or given a new secret; its secret."""
    from shared.area.integrations import create_integration, rotate_integration
    from shared.db import Database
    from shared.errors import Conflict

    secrets: dict[str, str] = {}
    for area in DOMAIN_SERVICES:
        db = Database(database_url(area))
        try:
            secrets[area] = create_integration(db, "demo")
        except Conflict:
            secrets[area] = rotate_integration(db, "demo")
    return secrets


def _set_up(plan: Plan, sender: Sender) -> None:
    """What an area sets up first (training's courses) is no webhook command: its system
    posts it over REST, with a token made for it and revoked afterwards."""
    from shared.area.models import ApiToken
    from shared.auth import create_token, revoke_token
    from shared.db import Database

    for area, prerequisites in plan.setup.items():
        if not prerequisites:
            continue
        db = Database(database_url(area))
        token = create_token(db, ApiToken, load(area)["TOKEN_PEPPER"], "demo",
                             [f"{area}:write"])
        try:
            for item in prerequisites:
                status, answer = sender.post(area, item.path, json.dumps(item.body).encode(),
                                             {"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token}"})
                if status not in (201, 409):
                    raise click.ClickException(f"{area} answered {status}: {answer[:300]!r}")
        finally:
            revoke_token(db, ApiToken, name="demo")


def _lagging(ledger: Database) -> bool:
    """Whether a follower of the log has entries yet to apply."""
    from services.ledger.followers import positions

    return any(p.lag for p in positions(ledger))


def _size(ledger: Database) -> int:
    """How many entries the ledger's log holds."""
    import sqlalchemy as sa

    from services.ledger.models import Head

    with ledger.reading() as session:
        return int(session.scalar(sa.select(Head.size).where(Head.id == 1)) or 0)
