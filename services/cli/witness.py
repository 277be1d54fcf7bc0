"""A witness's own process: fetching the published figures of the ledgers it follows."""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

import click

from shared import heartbeat
from shared.config import ConfigError, load

log = logging.getLogger("ladder")


@click.command("witness-monitor")
@click.option("--once", is_flag=True,
              help="Check every ledger once, now, say what was kept and refused, and exit: "
                   "1 if a ledger could not be reached or a release was refused.")
def witness_monitor(once: bool) -> None:
    """Fetch the published figures of every ledger the witness follows (a URL after its key
    in LADDER_WITNESS_LOGS), keep each release that verifies and record each that does not,
    every LADDER_WITNESS_MONITOR_INTERVAL seconds until stopped (docs/witness.md)."""
    from services.witness import service
    from shared.db import Database

    try:
        config = load("witness")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    ledgers = service.followed(config)
    if not any(ledger.url for ledger in ledgers):
        raise click.ClickException("LADDER_WITNESS_LOGS gives no ledger's URL: there is "
                                   "nothing to fetch.")
    db = Database(config["DATABASE_URL"])
    try:
        if once:
            http = service.Http()
            try:
                done = service.check_all(db, ledgers, http)
            finally:
                http.close()
            for checked in done:
                kept = ", ".join(map(str, checked.kept)) or "none"
                click.echo(f"{checked.origin}: new releases kept: {kept}"
                           + (f"; {checked.problem()}" if checked.problem() else ""))
            if len(done) < sum(1 for ledger in ledgers if ledger.url) or any(
                    checked.failing for checked in done):
                raise SystemExit(1)
            return
        state = {"running": True}
        beaten = -heartbeat.INTERVAL

        def _stop(*_: Any) -> None:
            state["running"] = False

        def _running() -> bool:
            # The loop asks between two releases and every fifth of a second while it
            # sleeps: a beat every few seconds of that is a loop that turns, which is
            # what `ladder health witness-monitor` reads.
            nonlocal beaten
            if time.monotonic() - beaten >= heartbeat.INTERVAL:
                heartbeat.beat()
                beaten = time.monotonic()
            return state["running"]

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        log.info("monitoring the published figures of %s",
                 ", ".join(ledger.origin for ledger in ledgers if ledger.url))
        service.run(db, ledgers, config["WITNESS_MONITOR_INTERVAL"], running=_running)
    finally:
        db.engine.dispose()
