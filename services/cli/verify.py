"""Checking an export against a signed tree head, and the live log against a saved one."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from shared.notes import Verifier


def _seqs(seqs: list[int], shown: int = 20) -> str:
    more = f" and {len(seqs) - shown} more" if len(seqs) > shown else ""
    return "entries " + ", ".join(map(str, seqs[:shown])) + more


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
            verified = check.verify_export(path, saved, key, bar.update)
        click.echo(f"OK: the export's first {verified.size} entries match the signed tree "
                   f"head (root {json.loads(Path(tree_head).read_text())['sha256_root_hash']})")
        if verified.erased:
            click.echo(f"{len(verified.erased)} of them were erased, their content gone and "
                       f"their leaf hashes checked: {_seqs(verified.erased)}")
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



def _witness_options(command: Callable[..., None]) -> Callable[..., None]:
    """--witness and --quorum: the witnesses whose cosignatures a checkpoint must carry."""
    command = click.option(
        "--quorum", type=click.IntRange(min=0), default=None,
        help="How many of the --witness keys must have cosigned the checkpoint (default: "
             "every one).")(command)
    return click.option(
        "--witness", "witnesses", multiple=True, metavar="VKEY",
        help="A witness's cosignature verifier key (\"vkey\" of its GET /v1/witness), or a "
             "file that holds it; repeat for each witness you trust.")(command)


def _keys(vkey: str, witnesses: tuple[str, ...], quorum: int | None
          ) -> tuple[Verifier, list[Verifier], int]:
    """The log's verifier key, the witnesses' and the quorum, from the options."""
    from shared import notes

    def key(value: str, key_type: int, option: str) -> notes.Verifier:
        text = Path(value).read_text() if Path(value).is_file() else value
        try:
            return notes.Verifier.parse(text, key_type)
        except notes.NoteError as exc:
            raise click.BadParameter(str(exc), param_hint=option) from exc

    trusted = [key(w, notes.COSIGNATURE, "--witness") for w in witnesses]
    needed = len(trusted) if quorum is None else quorum
    if needed > len(trusted):
        raise click.BadParameter(f"{needed} is more than the {len(trusted)} witnesses given",
                                 param_hint="--quorum")
    return key(vkey, notes.ED25519, "--vkey"), trusted, needed


@click.command("verify-log")
@click.argument("url")
@click.option("--vkey", required=True, help="The log's verifier key (\"vkey\" of GET "
              "/v1/public-key), or a file that holds it.")
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=False),
              help="A checkpoint saved before (GET /checkpoint): also prove the log "
              "extends it.")
@click.option("--save-checkpoint", type=click.Path(dir_okay=False, writable=True),
              help="Save the live checkpoint, once verified, for next time.")
@click.option("--every-tile", is_flag=True,
              help="Also fetch every full tile and check it against the tile above it, so "
              "that every tile a client may be served is the signed tree's (a 1M-entry "
              "log has about 3,900 tiles, 32 MB).")
@_witness_options
def verify_log(url: str, vkey: str, checkpoint: str | None, save_checkpoint: str | None,
               every_tile: bool, witnesses: tuple[str, ...], quorum: int | None) -> None:
    """Check the live log at URL from its C2SP checkpoint and hash tiles, with no token.

    The checkpoint's signature must verify under the verifier key, enough of the witnesses
    you trust must have cosigned it, the tiles that give its root must hash to it, and,
    given a saved checkpoint, the tiles must prove the log extends it. With --every-tile,
    each full tile must hash to its hash in the tile above it as well.
    Exits 0 when everything verifies, 1 with the reason when anything does not.
    """
    from services.ledger import verify as check

    verifier, trusted, needed = _keys(vkey, witnesses, quorum)
    saved = Path(checkpoint).read_text(encoding="utf-8") if checkpoint else None
    try:
        note, current, before = check.check_tiles(url, verifier, saved, trusted, needed,
                                                  every_tile)
    except check.VerifyError as exc:
        click.echo(f"FAILED: {exc}", err=True)
        sys.exit(1)
    extends = f", and extends the saved checkpoint of {before.size}" if before else ""
    cosigned = f"; at least {needed} of {len(trusted)} witnesses cosigned it" if trusted else ""
    every = "; every tile of it hashes into the tile above it" if every_tile else ""
    click.echo(f"OK: {current.origin} holds {current.size} entries; its tiles hash to the "
               f"signed checkpoint's root{every}{extends}{cosigned}")
    if save_checkpoint:
        Path(save_checkpoint).write_text(note, encoding="utf-8")


@click.command("verify-receipt")
@click.argument("receipt_file", metavar="RECEIPT", type=click.Path(exists=True,
                                                                   dir_okay=False))
@click.option("--vkey", required=True, help="The log's verifier key (\"vkey\" of GET "
              "/v1/public-key), or a file that holds it.")
@_witness_options
def verify_receipt(receipt_file: str, vkey: str, witnesses: tuple[str, ...],
                   quorum: int | None) -> None:
    """Check an offline receipt (a .tlog-proof file of GET /v1/receipts) with the public
    keys alone: the checkpoint's signature, its witnesses' cosignatures, and that the
    entry is in its tree. Exits 0 when it verifies, 1 with the reason when it does not."""
    from services.ledger import verify as check

    verifier, trusted, needed = _keys(vkey, witnesses, quorum)
    try:
        found = check.check_receipt(Path(receipt_file).read_text(encoding="utf-8"), verifier,
                                    trusted, needed)
    except (check.VerifyError, UnicodeDecodeError) as exc:
        click.echo(f"FAILED: {exc}", err=True)
        sys.exit(1)
    cosigned = f"; at least {needed} of {len(trusted)} witnesses cosigned it" if trusted else ""
    click.echo(f"OK: the entry is number {found.index + 1} of {found.checkpoint.origin}, in "
               f"its signed checkpoint of {found.checkpoint.size} entries{cosigned}")
    click.echo(found.leaf.decode("utf-8", "replace"))
