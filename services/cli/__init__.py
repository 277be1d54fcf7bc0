"""The ``ladder`` command: one group, its commands in a module per concern.

- ``run``: run, start, relay, health (Ladder's processes);
- ``operations``: migrate, areas, token, integration, citizen, publish, rubric;
- ``report``: report, export;
- ``verify``: verify;
- ``demo``: demo.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from services.cli import demo, operations, report, run, verify
from shared import logs
from shared.config import read_dotenv


@click.group()
def main() -> None:
    """Ladder: the co-production involvement ledger."""
    # .env fills in what the environment does not set, as docker-compose's env_file does.
    for key, value in read_dotenv(Path(".env")).items():
        os.environ.setdefault(key, value)
    logs.configure()


for command in (run.run, run.start, run.relay, run.health,
                operations.migrate, operations.list_areas, operations.token,
                operations.integration, operations.citizen, operations.publish,
                operations.rubric, report.report, report.export, verify.verify, demo.demo):
    main.add_command(command)
