"""Checking an export against a signed tree head, and the live log against a saved one."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command()
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

