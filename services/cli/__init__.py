"""The ``ladder`` command: one group, its commands in a module per concern.

- ``run``: run, start, relay, follow, health (Ladder's processes);
- ``operations``: migrate, areas, token (create, list, revoke), integration (create, list,
  rotate, revoke), citizen, entry, publish, rubric;
- ``report``: report, export;
- ``verify``: verify;
- ``witness``: witness-monitor;
- ``demo``: demo.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from services.cli import demo, operations, report, run, verify, witness
from shared import logs
from shared.config import ConfigError, load_dotenv_file


class _Ladder(click.Group):
    """The group: a refusal of the use cases' (a name taken, nothing of that name) or a
    setting it cannot use is one line on standard error and exit status 1, never a
    traceback (docs/operations.md, "The ladder command")."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Looked up only when something fails: shared.errors brings Flask and
            # SQLAlchemy, half a second of CPU that `ladder health`, run by docker-compose
            # every 10 s in every container, does not otherwise need. A domain error can
            # only come from a command that imported it.
            errors = sys.modules.get("shared.errors")
            if errors is not None and isinstance(exc, errors.DomainError):
                raise click.ClickException(exc.message) from exc
            if isinstance(exc, ConfigError):
                raise click.ClickException(str(exc)) from exc
            raise


@click.group(cls=_Ladder, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ladder", prog_name="ladder")
def main() -> None:
    """Ladder: the co-production involvement ledger.

    Exit status: 0 done; 1 refused or failed, with one line saying why; 2 a wrong
    command, option or value.
    """
    load_dotenv_file(Path(".env"))
    logs.configure()


for command in (run.run, run.start, run.relay, run.follow, run.health,
                operations.migrate, operations.list_areas, operations.token,
                operations.integration, operations.citizen, operations.entry, operations.publish,
                operations.rubric, report.report, report.export, verify.verify, verify.verify_log,
                verify.verify_receipt, witness.witness_monitor,
                demo.demo):
    main.add_command(command)
