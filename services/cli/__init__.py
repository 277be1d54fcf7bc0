"""The ``ladder`` command: one group, its commands in a module per concern.

- ``run``: run, start, relay, follow, health (Ladder's processes);
- ``operations``: migrate, areas, token, integration, citizen, entry, publish, rubric;
- ``report``: report, export;
- ``verify``: verify;
- ``witness``: witness-monitor;
- ``demo``: demo.
"""

from __future__ import annotations

from pathlib import Path

import click

from services.cli import demo, operations, report, run, verify, witness
from shared import logs
from shared.config import load_dotenv_file


@click.group()
def main() -> None:
    """Ladder: the co-production involvement ledger."""
    load_dotenv_file(Path(".env"))
    logs.configure()


for command in (run.run, run.start, run.relay, run.follow, run.health,
                operations.migrate, operations.list_areas, operations.token,
                operations.integration, operations.citizen, operations.entry, operations.publish,
                operations.rubric, report.report, report.export, verify.verify, verify.verify_log,
                verify.verify_receipt, witness.witness_monitor,
                demo.demo):
    main.add_command(command)
