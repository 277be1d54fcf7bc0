"""The ``ladder`` command: run, start, health, migrate, relay, areas, tokens, reports, verify,
rubric, demo."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import signal
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import click

from shared import areas, logs, procfile, text
from shared.config import (
    DOMAIN_SERVICES,
    SERVICES,
    ConfigError,
    database_url,
    load,
    metrics_dir,
    read_dotenv,
    stop_grace_period,
    var_dir,
)
from shared.db import Database
from shared.involvement import DECISION_POWER, INFLUENCE, PARTS, RECOGNITION

log = logging.getLogger("ladder")


class Text(click.ParamType):
    """Text that will be stored: valid UTF-8 without NUL, at most ``limit`` characters.

    Arguments that are not UTF-8 reach Python as lone surrogates (shared/text.py).
    """

    name = "text"

    def __init__(self, limit: int, pattern: str | None = None, hint: str = "") -> None:
        self.limit = limit
        self.pattern = re.compile(pattern) if pattern else None
        self.hint = hint

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        value = str(value)
        why = text.problem(value)
        if why:
            self.fail(f"{text.shown(value)!r}: {why}", param, ctx)
        if not 0 < len(value) <= self.limit:
            self.fail(f"must be 1 to {self.limit} characters", param, ctx)
        if self.pattern and not self.pattern.fullmatch(value):
            self.fail(f"{value!r}: {self.hint}", param, ctx)
        return value


# An integration's name is the last part of its webhook's URL.
INTEGRATION_NAME = Text(100, r"[A-Za-z0-9][A-Za-z0-9._-]*",
                        "letters, digits, '.', '_' or '-', starting with a letter or digit")


@click.group()
def main() -> None:
    """Ladder: the co-production involvement ledger."""
    # .env fills in what the environment does not set, as docker-compose's env_file does.
    for key, value in read_dotenv(Path(".env")).items():
        os.environ.setdefault(key, value)
    logs.configure()


@main.command()
@click.argument("services", nargs=-1, type=click.Choice(SERVICES))
def migrate(services: tuple[str, ...]) -> None:
    """Bring each service's database schema up to date (all services by default).

    First it checks every service's settings, so that a deployment with a missing
    or default secret stops here, before anything starts. A PostgreSQL database that
    does not exist yet (a new area's) is created first.
    """
    from shared.migrations import create_database, upgrade

    chosen = services or SERVICES
    try:
        stop_grace_period()
        for service in chosen:
            load(service)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    for service in chosen:
        url = database_url(service)
        if create_database(url):
            log.info("created the database of %s", service, extra={"service": service})
        upgrade(service, url)
        log.info("migrated %s", service, extra={"service": service})


@main.command()
@click.option("--service", "services", multiple=True, type=click.Choice(DOMAIN_SERVICES),
              help="Relay only these areas' outboxes (default: every area's).")
def relay(services: tuple[str, ...]) -> None:
    """Publish pending outbox rows to the ledger queue, one Celery task per batch."""
    from shared import heartbeat
    from shared.area.models import Outbox
    from shared.celery_app import make_celery
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


@main.command("areas")
def list_areas() -> None:
    """Print the areas (shared/areas.py), one a line, for scripts that go through them."""
    for name in areas.names():
        click.echo(name)


@main.group()
def token() -> None:
    """API tokens: bearer credentials with scopes, stored hashed."""


def _token_model(service: str) -> Any:
    if service == "ledger":
        from services.ledger.models import ApiToken as LedgerToken

        return LedgerToken
    from shared.area.models import ApiToken

    return ApiToken


@token.command("create")
@click.argument("service", type=click.Choice(SERVICES))
@click.option("--name", required=True, type=Text(200),
              help="Who the token is for, e.g. hr-system.")
@click.option("--scope", "scopes", multiple=True, required=True,
              help="read, write or admin (repeat for several), or SERVICE:VERB. On the "
              "ledger: read (figures only), inspect (entries too) or admin.")
@click.option("--purpose", help="Ledger only: why the token reads entries, e.g. \"CQC "
              "inspection of Rose House, DSA-2026-14\". Required with inspect; logged with "
              "every read.")
def token_create(service: str, name: str, scopes: tuple[str, ...], purpose: str | None) -> None:
    """Create a token for SERVICE and print it; it is shown this once."""
    from shared.auth import INSPECT, SCOPE_VERBS, create_token, purpose_problem

    verbs = SCOPE_VERBS[service]
    wanted = {s if ":" in s else f"{service}:{s}" for s in scopes}
    bad = [s for s in wanted if s.split(":", 1) not in ([service, v] for v in verbs)]
    if bad:
        raise click.BadParameter(f"unknown scope(s) {', '.join(sorted(bad))}; use "
                                 f"{', '.join(verbs)}", param_hint="--scope")
    if purpose is not None and INSPECT not in verbs:
        raise click.BadParameter(f"{service} tokens state no purpose; only the ledger's "
                                 "inspect tier reads entries", param_hint="--purpose")
    # The rule the API applies too: storable text, not blank, not too long.
    why = purpose_problem(purpose, f"{service}:{INSPECT}" in wanted)
    if why:
        raise click.BadParameter(why, param_hint="--purpose")
    config = load(service)
    click.echo(create_token(Database(config["DATABASE_URL"]), _token_model(service),
                            config["TOKEN_PEPPER"], name, wanted, purpose))


@token.command("revoke")
@click.argument("service", type=click.Choice(SERVICES))
@click.option("--name", required=True, type=Text(200),
              help="Revoke every live token of this name.")
def token_revoke(service: str, name: str) -> None:
    """Revoke a service's tokens by name."""
    from shared.auth import revoke_token

    n = revoke_token(Database(database_url(service)), _token_model(service), name=name)
    click.echo(f"revoked {n} token(s)")
    if not n:
        sys.exit(1)


@main.command()
@click.option("--area", type=click.Choice(areas.names()),
              help="One area, by period; without it the areas side by side.")
@click.option("--org-unit", type=Text(256), help="One organisational unit (default: all).")
@click.option("--period", default="quarter", show_default=True,
              type=click.Choice(("month", "quarter", "year")))
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Inclusive.")
@click.option("--exact", is_flag=True,
              help="Exact figures, as admins read them; without it, disclosure-controlled "
                   "as every other reader sees them.")
def report(area: str | None, org_unit: str | None, period: str, start: Any, end: Any,
           exact: bool) -> None:
    """Print the measures of involvement as a table."""
    from services.ledger.disclosure import Control
    from services.ledger.exports import disclosure_text
    from services.ledger.metrics import MetricsQuery, metrics

    if start > end:
        raise click.BadParameter("--to must not be before --from", param_hint="--to")
    config = load("ledger")
    query = MetricsQuery(start=start.date(), end=end.date(), area=area, org_unit=org_unit,
                         period=period, group_by="period" if area else "area")
    result = metrics(Database(config["DATABASE_URL"]), query,
                     None if exact else Control.from_config(config))
    rows = result["rows"] + ([{**result["total"], "period": "total"}] if result["total"] else [])
    click.echo(_table(rows, "period" if area else "area"))
    click.echo(f"Figures: {disclosure_text(result['disclosure'])}.")


REPORT_COLUMNS = (("activities", "activities"), ("involved", "activities_involved"),
                  ("coverage", "coverage"), ("involvements", "involvements"),
                  ("median", "median_step"), (">=co-design", "co_design_or_higher"),
                  ("co-prod", "co_production"), ("citizens", "citizens"),
                  ("returning", "returning_citizens"), ("hours", "hours"),
                  ("recognised", "recognition_rate"), ("vote", "decision_vote_share"),
                  ("feedback", "feedback_rate"), ("index", "index"))


def _cell(value: Any, name: str, hidden: list[str]) -> str:
    if name in hidden:
        return "*"
    if value is None:
        return "-"
    if isinstance(value, float) and name.endswith(("rate", "share", "coverage", "higher",
                                                    "production")):
        return f"{100 * value:.1f}%"
    return str(value)


def _table(rows: list[dict[str, Any]], first: str) -> str:
    header = [first] + [title for title, _ in REPORT_COLUMNS] + [f"step {n}" for n in range(1, 8)]
    body = [[str(row[first])]
            + [_cell(row[name], name, row["suppressed"]) for _, name in REPORT_COLUMNS]
            + [_cell(row["steps"][str(n)], "n", []) for n in range(1, 8)] for row in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(r, widths, strict=True))) for r in [header, *body]]
    return "\n".join(lines) + ("\n(* suppressed: it rests on a count under the threshold;"
                              " - nothing to divide by)")


@main.command()
@click.option("--period", type=Text(8, r"\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?",
                                    "a year (2026), a quarter (2026-Q3) or a month (2026-07)"),
              help="The period to release: 2026, 2026-Q3 or 2026-07.")
@click.option("--replaces", type=click.IntRange(1, 2**31 - 1),
              help="Correct this release (the period's latest); needs --reason.")
@click.option("--reason", type=Text(500), help="Why the correction was made.")
@click.option("--due", is_flag=True,
              help="Release every period of LADDER_PUBLISH_SCHEDULE's kind that has ended "
                   "and has no release, as the schedule does.")
def publish(period: str | None, replaces: int | None, reason: str | None, due: bool) -> None:
    """Release a period's disclosure-controlled figures as open data (/v1/releases)."""
    from services.ledger import create_app, releases
    from services.ledger.publisher import publish_due
    from shared.errors import DomainError
    from shared.outbox import utcnow

    if due == bool(period):
        raise click.UsageError("Give either --period or --due.")
    app = create_app()
    if due and not app.config["PUBLISH_SCHEDULE"]:
        raise click.ClickException("LADDER_PUBLISH_SCHEDULE is not set: nothing is due.")
    try:
        with app.app_context():
            made = publish_due(app) if due else [releases.publish(
                app.extensions["db"], app.extensions["disclosure"], str(period), utcnow(),
                replaces, reason)]
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    for release in made:
        corrects = f", correcting release {release['replaces']}" if release["replaces"] else ""
        click.echo(f"release {release['id']}: {release['period']} at tree size "
                   f"{release['tree_head']['tree_size']}{corrects}: "
                   f"/v1/releases/{release['id']}/figures.csv")
    if due and not made:
        click.echo("nothing due")


@main.command()
@click.option("--format", "fmt", default="ndjson", show_default=True,
              type=click.Choice(("ndjson", "csv")))
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--area", type=click.Choice(areas.names()))
def export(fmt: str, out: str, area: str | None) -> None:
    """Export the ledger's entries to a file, with a progress bar."""
    from services.ledger import exports
    from services.ledger.service import EntryQuery, count_entries

    db = Database(database_url("ledger"))
    query = EntryQuery(limit=None, area=area)
    total = count_entries(db, query)
    chunks = (exports.entries_csv if fmt == "csv" else exports.entries_ndjson)(db, query)
    written = 0
    with open(out, "w", encoding="utf-8") as f, click.progressbar(
            length=total, label=f"exporting {total} entries", file=sys.stderr) as bar:
        for chunk in chunks:
            f.write(chunk)
            n = chunk.count("\n") - (1 if fmt == "csv" and written == 0 and chunk else 0)
            written += n
            bar.update(n)
    click.echo(f"wrote {total} entries to {out}")


@main.command()
@click.argument("export_file", metavar="EXPORT", type=click.Path(exists=True, dir_okay=False))
@click.option("--tree-head", required=True, type=click.Path(exists=True, dir_okay=False),
              help="A saved signed tree head (the JSON of GET /ct/v1/get-sth).")
@click.option("--public-key", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The log's public key: PEM, or the JSON of GET /v1/public-key.")
@click.option("--url", help="The ledger's base URL: also prove the live log extends the "
              "saved tree head.")
@click.option("--token", envvar="LADDER_TOKEN", help="Auditor token for --url "
              "(or LADDER_TOKEN).")
@click.option("--save-tree-head", type=click.Path(dir_okay=False, writable=True),
              help="With --url: save the live tree head, once verified, for next time.")
def verify(export_file: str, tree_head: str, public_key: str, url: str | None,
           token: str | None, save_tree_head: str | None) -> None:
    """Check an export against a signed tree head, offline; with --url, check consistency.

    Exits 0 when everything verifies, 1 with the reason when anything does not.
    """
    import json
    from pathlib import Path

    from services.ledger import verify as check
    from services.ledger.signing import TreeHead, load_public_key

    try:
        key = load_public_key(Path(public_key).read_text())
        saved = TreeHead.from_json(json.loads(Path(tree_head).read_text()))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    path = Path(export_file)
    try:
        with click.progressbar(length=path.stat().st_size, label="verifying",
                               file=sys.stderr) as bar:
            count = check.verify_export(path, saved, key, bar.update)
        click.echo(f"OK: the export's first {count} entries match the signed tree head "
                   f"(root {json.loads(Path(tree_head).read_text())['sha256_root_hash']})")
        if url:
            with click.progressbar(length=0, label="checking the live log",
                                   file=sys.stderr) as bar:
                current = check.check_consistency(url, token, saved, key, bar.update)
            click.echo(f"OK: the log at {url} now holds {current.size} entries, hashes to its "
                       f"signed tree head, and is consistent with the saved one of {saved.size}")
            if save_tree_head:
                Path(save_tree_head).write_text(json.dumps(current.as_json(), indent=2))
    except check.VerifyError as exc:
        click.echo(f"FAILED: {exc}", err=True)
        sys.exit(1)


@main.group()
def integration() -> None:
    """Webhook integrations: one whsec_ secret each, rotatable."""


@integration.command("create")
@click.argument("service", type=click.Choice(DOMAIN_SERVICES))
@click.argument("name", type=INTEGRATION_NAME)
def integration_create(service: str, name: str) -> None:
    """Create integration NAME for SERVICE and print its secret and webhook URL path."""
    from shared.area.integrations import create_integration

    secret = create_integration(Database(database_url(service)), name)
    click.echo(f"secret: {secret}\nwebhook: POST /v1/webhooks/{name}")


@integration.command("rotate")
@click.argument("service", type=click.Choice(DOMAIN_SERVICES))
@click.argument("name", type=INTEGRATION_NAME)
def integration_rotate(service: str, name: str) -> None:
    """Give NAME a new secret; the old one stays valid until the next rotation."""
    from shared.area.integrations import rotate_integration

    click.echo(f"secret: {rotate_integration(Database(database_url(service)), name)}")


@main.group()
def citizen() -> None:
    """Citizens: erase a person from every area at once."""


class Reference(Text):
    """A citizen's reference: storable text with a visible character, as the API takes it."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from shared.area.references import normalise

        value = super().convert(value, param, ctx)
        if not normalise(value):
            self.fail("holds no visible character: it names no one", param, ctx)
        return value


REFERENCE = Reference(200)


@citizen.command("erase")
@click.argument("reference", required=False, type=REFERENCE)
def citizen_erase(reference: str | None) -> None:
    """Erase REFERENCE in every area: nothing links it to their contributions any more.

    Without REFERENCE, it is asked for without echo, or read from the first line of
    standard input when that is not a terminal, so that it need not be kept in the
    shell's history. Any variant of the reference will do. Exits 0 once the person is
    erased and every database scrubbed; otherwise 1, saying what is left. Running it
    again is safe, and finishes what is left.
    """
    from shared.area import erasure
    from shared.errors import Unavailable

    if reference is None:
        typed = (click.prompt("Citizen reference", hide_input=True) if sys.stdin.isatty()
                 else sys.stdin.buffer.readline().decode("utf-8", "surrogateescape"))
        reference = REFERENCE.convert(typed.rstrip("\r\n"), None, click.get_current_context())
    try:
        # Every area holds the pseudonym key and every area's database URL.
        config = load(DOMAIN_SERVICES[0])
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        with erasure.opened(config["AREA_DATABASE_URLS"]) as databases:
            result = erasure.erase_citizen(databases, config["PSEUDONYM_KEY"], reference)
    except Unavailable as exc:
        for area, why in exc.errors.items():
            click.echo(f"{area}: FAILED: {' '.join(why)}", err=True)
        raise click.ClickException(exc.message) from exc
    for area, done in result["areas"].items():
        found = (f"found, {done['contributions_unlinked']} contribution(s) unlinked"
                 if done["found"] else "nothing found")
        scrub = done["scrub"]
        click.echo(f"{area}: {found}; " + ("scrubbed" if scrub["complete"] else
                                            "NOT scrubbed: " + "; ".join(
                                                scrub["incomplete_because"])))
    if not result["scrubbed"]:
        raise click.ClickException("Erased, but not every database could be scrubbed: "
                                   "see above.")


@main.group()
def rubric() -> None:
    """The rubric each area derives the step with (docs/rubrics.md)."""


@rubric.command("explain")
@click.argument("area", type=click.Choice(areas.names()))
@click.option("--stage", required=True, help="One of the area's stages.")
@click.option("--role", required=True, help="One of the area's roles.")
@click.option("--part", type=click.Choice(PARTS),
              help="What the citizen did. Without it, it follows from the decision power "
              "and the role, as for a version-1 request.")
@click.option("--influence", type=click.Choice(INFLUENCE),
              help="Did their contribution demonstrably change the outcome? [default: "
              "unknown]")
@click.option("--decision-power", required=True, type=click.Choice(DECISION_POWER))
@click.option("--from-start/--not-from-start", default=False, show_default=True,
              help="Were they there from the start?")
@click.option("--feedback-given/--no-feedback-given", default=False, show_default=True,
              help="Were they told the outcome, and why?")
@click.option("--recognition", type=click.Choice(RECOGNITION), default="none",
              show_default=True)
def rubric_explain(area: str, **facts: Any) -> None:
    """Show the step that the facts give in AREA, the row of the rubric in force that
    decides it, and the definition that row implements. Nothing is recorded."""
    from marshmallow import ValidationError

    from services import area_packages
    from shared.area import service
    from shared.area.schemas import facts_schema
    from shared.errors import Invalid

    declared = area_packages.domain(area)
    said = {name: value for name, value in facts.items() if value is not None}
    try:
        # The schema the API takes: the CLI refuses exactly what the API refuses.
        answer = service.explain(declared, facts_schema(declared)().load(said))
    except ValidationError as exc:
        raise click.UsageError("; ".join(
            f"--{name.replace('_', '-')}: {' '.join(why)}"
            for name, why in exc.normalized_messages().items())) from exc
    except Invalid as exc:
        raise click.UsageError(exc.message) from exc
    row, source = answer["row"], answer["row"]["source"]
    click.echo(f"{answer['rubric_version']}: step {answer['step']}, {answer['rung']}")
    click.echo(f"row {row['id']}: {row['rule']}")
    click.echo(f"source: {source['title']}\n  \"{source['quote']}\"\n  {source['url']}")
    click.echo("facts: " + " ".join(f"{name}={json.dumps(value)}"
                                    for name, value in answer["facts"].items()))


@main.command()
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

    import sqlalchemy as sa

    from services import demo as year
    from services.ledger.models import ApiToken as LedgerToken
    from services.ledger.models import Head
    from shared.area.integrations import create_integration, rotate_integration
    from shared.area.models import ApiToken
    from shared.auth import create_token, revoke_token
    from shared.errors import Conflict

    env = procfile.environment()
    urls = {s: f"http://{host}:{env[s.upper() + '_PORT']}" for s in SERVICES}
    down = [s for s in SERVICES if not _wait_ready(urls[s], 5)]
    if down:
        raise click.ClickException(f"{', '.join(down)} did not answer at "
                                   f"{', '.join(urls[s] for s in down)}: start everything "
                                   "with `make run` first.")
    plan = year.plan_year(datetime.now(UTC), seed=seed, scale=scale, tag=f"DEMO{seed}")
    secrets: dict[str, str] = {}
    for area in DOMAIN_SERVICES:
        db = Database(database_url(area))
        try:
            secrets[area] = create_integration(db, "demo")
        except Conflict:
            secrets[area] = rotate_integration(db, "demo")
    sender = year.Sender(urls, "demo", secrets)
    # What an area sets up first (training's courses) is no webhook command: its system
    # posts it over REST, with a token made for it and revoked afterwards.
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
    ledger = Database(database_url("ledger"))

    def size() -> int:
        with ledger.reading() as session:
            return int(session.scalar(sa.select(Head.size).where(Head.id == 1)) or 0)

    before = size()
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
        while size() < before + sent and time.monotonic() < deadline:
            time.sleep(0.5)
        held = size() - before
        if held < sent:
            raise click.ClickException(f"the ledger holds {held} of the {sent} events so far: "
                                       "are the relay and the ledger worker running?")
        click.echo(f"the ledger holds all {sent} events")
    auditor = create_token(ledger, LedgerToken, load("ledger")["TOKEN_PEPPER"],
                           f"demo-auditor-{seed}", ["ledger:read"])
    click.echo(f"\nOpen {urls['ledger']}/dashboard and sign in with this auditor token "
               f"(shown once):\n{auditor}")


def _ready(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _wait_ready(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _ready(url):
            return True
        time.sleep(0.25)
    return False


@main.command()
@click.option("--procfile", "procfile_path", default="Procfile", type=click.Path(exists=True))
def run(procfile_path: str) -> None:
    """Start Redis (if REDIS_URL is unset), migrate, and run every process in the Procfile."""
    from shared.embedded_redis import EmbeddedRedis

    env = procfile.environment()
    try:
        grace = stop_grace_period(env)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    redis = None
    if not env.get("REDIS_URL"):
        redis = EmbeddedRedis(var_dir(env) / "redis").start()
        env["REDIS_URL"] = redis.url
        click.echo(f"started embedded Redis at {redis.url}")
    os.environ.update(env)
    log_dir = var_dir(env) / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    # Nothing else runs on this var directory: every process's metric files start afresh.
    shutil.rmtree(metrics_dir(env), ignore_errors=True)
    if procfile.release(Path(procfile_path), env, log_dir) != 0:
        if redis:
            redis.stop()
        raise click.ClickException(f"{procfile.RELEASE} failed; see {log_dir}")
    processes = procfile.start_all(Path(procfile_path), env, log_dir=log_dir)
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
    click.echo(f"logs in {log_dir}; Ctrl-C stops everything")
    try:
        while not stopping:
            dead = [p.name for p in processes.values() if not p.alive()]
            if dead:
                click.echo(f"stopped unexpectedly: {', '.join(dead)}; see {log_dir}", err=True)
                break
            time.sleep(0.5)
    finally:
        procfile.stop_all(processes, grace)
        if redis:
            redis.stop()
    sys.exit(0 if stopping else 1)


@main.command()
@click.argument("name")
@click.option("--procfile", "procfile_path", default="Procfile", type=click.Path(exists=True))
@click.option("--print", "print_only", is_flag=True,
              help="Print the command line instead of running it.")
def start(name: str, procfile_path: str, print_only: bool) -> None:
    """Become the Procfile's process NAME: what each docker-compose service runs.

    The command line is the Procfile's, expanded from the environment exactly as
    `ladder run` expands it; this process is replaced by it, so signals reach it.
    """
    env = procfile.environment()
    try:
        argv, own = procfile.command(Path(procfile_path), name, env)
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from exc
    if print_only:
        click.echo(shlex.join(argv))
        return
    if name != procfile.RELEASE:
        procfile.fresh_metrics_dir(own)
    os.execvpe(argv[0], argv, own)


@main.command()
@click.argument("name")
@click.option("--procfile", "procfile_path", default="Procfile", type=click.Path(exists=True))
@click.option("--max-age", default=30.0, show_default=True,
              help="Seconds a heartbeat stays fresh (processes that serve no HTTP).")
def health(name: str, procfile_path: str, max_age: float) -> None:
    """Exit 0 if the Procfile's process NAME is healthy: docker-compose's health check.

    A web service is healthy when its /readyz answers 200 (its database and Redis
    are reachable); the relay and Celery workers when their heartbeat is fresh.
    """
    from shared import heartbeat

    try:
        argv, own = procfile.command(Path(procfile_path), name, procfile.environment())
    except KeyError as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from exc
    if "--bind" in argv:
        host, _, port = argv[argv.index("--bind") + 1].rpartition(":")
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
        if not _ready(url, timeout=5):
            raise click.ClickException(f"{name}: {url}/readyz does not answer 200")
        click.echo(f"{name}: ready")
        return
    age = heartbeat.age(heartbeat.path(name, own))
    if age is None or age > max_age:
        raise click.ClickException(f"{name}: no heartbeat in the last {max_age:g} s")
    click.echo(f"{name}: heartbeat {age:.1f} s ago")
