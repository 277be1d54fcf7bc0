"""Operating a deployment: migrate, areas, tokens, integrations, erasing a citizen,
publishing figures, and explaining the rubric."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from services.cli.params import INTEGRATION_NAME, REFERENCE, Text
from shared import areas
from shared.config import (
    DOMAIN_SERVICES,
    SERVICES,
    ConfigError,
    database_url,
    load,
    stop_grace_period,
)
from shared.grounds import GROUNDS
from shared.involvement import DECISION_POWER, INFLUENCE, PARTS, RECOGNITION

log = logging.getLogger("ladder")


@click.command()
@click.argument("services", nargs=-1, type=click.Choice([*SERVICES, "witness"]))
def migrate(services: tuple[str, ...]) -> None:
    """Bring each service's database schema up to date (all of Ladder's by default; a
    witness, which an independent body runs, only when named).

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


@click.command("areas")
def list_areas() -> None:
    """Print the areas (shared/areas.py), one a line, for scripts that go through them."""
    for name in areas.names():
        click.echo(name)


@click.group()
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
    from shared.db import Database

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
    from shared.db import Database

    n = revoke_token(Database(database_url(service)), _token_model(service), name=name)
    click.echo(f"revoked {n} token(s)")
    if not n:
        sys.exit(1)


@token.command("list")
@click.argument("service", type=click.Choice(SERVICES))
def token_list(service: str) -> None:
    """List a service's tokens, live and revoked: id, name, scopes, when made, and the
    purpose an inspect token states; never a token itself."""
    from shared.auth import list_tokens
    from shared.db import Database

    for t in list_tokens(Database(database_url(service)), _token_model(service)):
        state = f"revoked {t['revoked_at']:%Y-%m-%d %H:%M}" if t["revoked_at"] else "live"
        purpose = f"  purpose: {t['purpose']}" if t["purpose"] else ""
        click.echo(f"{t['id']:>4}  {t['name']:<24} {' '.join(t['scopes']):<32} "
                   f"made {t['created_at']:%Y-%m-%d %H:%M}  {state}{purpose}")


@click.group()
def integration() -> None:
    """Webhook integrations: one whsec_ secret each, rotatable."""


@integration.command("create")
@click.argument("service", type=click.Choice(DOMAIN_SERVICES))
@click.argument("name", type=INTEGRATION_NAME)
def integration_create(service: str, name: str) -> None:
    """Create integration NAME for SERVICE and print its secret and webhook URL path."""
    from shared.area.integrations import create_integration
    from shared.db import Database

    secret = create_integration(Database(database_url(service)), name)
    click.echo(f"secret: {secret}\nwebhook: POST /v1/webhooks/{name}")


@integration.command("rotate")
@click.argument("service", type=click.Choice(DOMAIN_SERVICES))
@click.argument("name", type=INTEGRATION_NAME)
def integration_rotate(service: str, name: str) -> None:
    """Give NAME a new secret; the old one stays valid until the next rotation."""
    from shared.area.integrations import rotate_integration
    from shared.db import Database

    click.echo(f"secret: {rotate_integration(Database(database_url(service)), name)}")


@integration.command("list")
@click.argument("service", type=click.Choice(DOMAIN_SERVICES))
def integration_list(service: str) -> None:
    """List SERVICE's integrations: name, when made, when last rotated; never a secret."""
    from shared.area.integrations import list_integrations
    from shared.db import Database

    for i in list_integrations(Database(database_url(service))):
        rotated = f"rotated {i['rotated_at']:%Y-%m-%d %H:%M}" if i["rotated_at"] else ""
        click.echo(f"{i['name']:<40} made {i['created_at']:%Y-%m-%d %H:%M}  {rotated}".rstrip())


@integration.command("revoke")
@click.argument("service", type=click.Choice(DOMAIN_SERVICES))
@click.argument("name", type=INTEGRATION_NAME)
def integration_revoke(service: str, name: str) -> None:
    """Revoke integration NAME: its secrets go, and its webhooks are refused from now on."""
    from shared.area.integrations import revoke_integration
    from shared.db import Database

    revoke_integration(Database(database_url(service)), name)
    click.echo(f"revoked integration {name}")


@click.group()
def citizen() -> None:
    """Citizens: erase a person from every area at once."""


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


@click.group()
def entry() -> None:
    """Ledger entries: erase one's content, keeping its leaf hash."""


@entry.command("erase")
@click.argument("seq", type=click.IntRange(1, 2**63 - 1))
@click.option("--ground", required=True, type=click.Choice(list(GROUNDS)),
    help="The ground of UK GDPR Article 17(1) the erasure rests on.")
@click.option("--reference", type=Text(200),
              help="The data-protection case it answers; never the person's name.")
def entry_erase(seq: int, ground: str, reference: str | None) -> None:
    """Erase entry SEQ's content on GROUND, as POST /v1/entries/SEQ/erasure does: its leaf
    hash, and so every proof, stays (docs/ledger-format.md, "Erasure"). Exits 0 once it is
    erased and the database scrubbed; otherwise 1, saying what is left. Running it again
    is safe, and finishes the scrub."""
    import getpass

    from services.ledger import erasures
    from shared.db import Database
    from shared.errors import NotFound

    try:
        done = erasures.erase(Database(database_url("ledger")), seq, ground, reference,
                              f"ladder entry erase ({getpass.getuser()})")
    except NotFound as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"entry {seq}: erased on {done['ground']} at {done['erased_at']:%Y-%m-%d %H:%M} "
               f"UTC by {done['erased_by']}; its leaf hash stays")
    if not done["scrub"]["complete"]:
        raise click.ClickException("Erased, but the database could not be scrubbed: "
                                   + "; ".join(done["scrub"]["incomplete_because"]))


@click.command()
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
    from shared.times import naive_utcnow

    if due == bool(period):
        raise click.UsageError("Give either --period or --due.")
    app = create_app()
    if due and not app.config["PUBLISH_SCHEDULE"]:
        raise click.ClickException("LADDER_PUBLISH_SCHEDULE is not set: nothing is due.")
    try:
        with app.app_context():
            made = publish_due(app) if due else [releases.publish(
                app.extensions["db"], app.extensions["disclosure"], str(period), naive_utcnow(),
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


@click.group()
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

