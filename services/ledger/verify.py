"""Offline verification of an export against a signed tree head, and of consistency
between a saved tree head and a live log. An auditor needs only the public key.
"""

from __future__ import annotations

import base64
import binascii
import csv
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import urllib3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.ledger import leaves, receipts, tiles
from services.ledger.signing import TreeHead, TreeHeadSignatureInvalid
from shared import merkle, notes

Progress = Callable[[int], None]


class VerifyError(Exception):
    """The export or the log does not match what was signed; the message says where."""


# An entry as a verifier reads it: its seq, its leaf hash, and whether it was erased.
Read = tuple[int, bytes, bool]


@dataclass(frozen=True)
class Verified:
    """How many entries matched the signed tree head, and which of them were erased: an
    erased entry's content is gone, and its leaf hash, which the root still binds, is
    all that is checked of it."""

    size: int
    erased: list[int]


def _read(line: bytes) -> Read:
    seq = leaves.seq_of(line)
    if seq < 1:
        raise VerifyError(f"a line of the export is not a ledger entry: {line[:80]!r}")
    try:
        kept = leaves.erased_hash(line)
    except ValueError as exc:
        raise VerifyError(f"entry {seq}: {exc}") from exc
    if kept is not None:
        return seq, kept, True
    return seq, merkle.leaf_hash(leaves.leaf_input(line)), False


def ndjson_leaves(lines: Iterable[bytes], progress: Progress) -> Iterator[Read]:
    for line in lines:
        progress(len(line))
        line = line.rstrip(b"\r\n")
        if line:
            yield _read(line)


def _ndjson(path: Path, progress: Progress) -> Iterator[Read]:
    with path.open("rb") as f:
        yield from ndjson_leaves(f, progress)


def _csv(path: Path, progress: Progress) -> Iterator[Read]:
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            progress(sum(len(v or "") for v in row.values()) + len(row))
            try:
                seq = int(row["seq"])
                if row["event"]:
                    salt = bytes.fromhex(row["salt"]) if row.get("salt") else None
                    line = leaves.line(seq, row["received_at"].replace("T", " ", 1)[:-1],
                                       row["event"], salt)
                else:  # erased: its leaf hash is all there is
                    line = leaves.erased_line(seq, base64.b64decode(row["leaf_hash"]))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise VerifyError(f"a row of the export is not a ledger entry: {exc!r}"
                                  ) from exc
            yield _read(line)


def leaves_of(path: Path, progress: Progress = lambda _: None) -> Iterator[Read]:
    with path.open("rb") as f:
        first = f.read(1)
    return _ndjson(path, progress) if first in (b"{", b"") else _csv(path, progress)


def verify_export(path: Path, head: TreeHead, public_key: Ed25519PublicKey,
                  progress: Progress = lambda _: None) -> Verified:
    """Recompute the root of the export's first ``head.size`` entries; check the signature."""
    try:
        head.verify(public_key)
    except TreeHeadSignatureInvalid as exc:
        raise VerifyError(f"{exc}: it was not signed by this key") from exc
    return verify_leaves(leaves_of(path, progress), head, "the export")


def verify_leaves(entries: Iterable[Read], head: TreeHead, what: str) -> Verified:
    tree = merkle.CompactRange()
    erased: list[int] = []
    for seq, leaf_hash, gone in entries:
        if tree.size == head.size:
            break
        if seq != tree.size + 1:
            raise VerifyError(f"entry {tree.size + 1} is missing from {what} "
                              f"(the next entry is {seq})")
        tree.append(leaf_hash)
        if gone:
            erased.append(seq)
    if tree.size < head.size:
        raise VerifyError(f"{what} ends after {tree.size} entries but the tree head "
                          f"covers {head.size}")
    if tree.root() != head.root:
        raise VerifyError(
            f"the first {head.size} entries of {what} hash to root "
            f"{base64.b64encode(tree.root()).decode()}, but the signed tree head says "
            f"{base64.b64encode(head.root).decode()}: {what} is not what was signed")
    return Verified(tree.size, erased)


def _open(url: str, token: str | None, params: dict[str, int] | None = None
          ) -> requests.Response:
    """GET ``url`` as the auditor: the answer streams, for an export of any size."""
    headers = {"Accept": "application/json",
               **({"Authorization": f"Bearer {token}"} if token else {})}
    try:
        response = requests.get(url, params=params, headers=headers, timeout=30, stream=True)
    except requests.RequestException as exc:
        raise VerifyError(f"could not reach {url}: {exc}") from exc
    if response.status_code >= 400:
        with response:
            raise VerifyError(f"{response.url} answered {response.status_code}: "
                              f"{response.content[:300]!r}")
    return response


def _get(url: str, token: str | None, params: dict[str, int] | None = None) -> Any:
    with _open(url, token, params) as response:
        try:
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            raise VerifyError(f"could not read the answer of {response.url}: {exc}") from exc


def check_consistency(base_url: str, token: str | None, saved: TreeHead,
                      public_key: Ed25519PublicKey,
                      progress: Progress = lambda _: None) -> TreeHead:
    """Prove the live log extends ``saved``, and that its entries are what it signed.

    The proof alone would miss entries changed under intact stored hashes; the
    entries alone would miss a tree rebuilt around a change. Together they leave
    no way to rewrite what ``saved`` covers.
    """
    base = base_url.rstrip("/")
    current = TreeHead.from_json(_get(f"{base}/ct/v1/get-sth", token))
    try:
        current.verify(public_key)
    except TreeHeadSignatureInvalid as exc:
        raise VerifyError(f"the log's current tree head: {exc}") from exc
    if current.size < saved.size:
        raise VerifyError(f"the log now holds {current.size} entries, fewer than the "
                          f"{saved.size} of the saved tree head: history was truncated")
    proof = _get(f"{base}/ct/v1/get-sth-consistency", token,
                 {"first": saved.size, "second": current.size})["consistency"]
    try:
        merkle.verify_consistency(saved.size, current.size,
                                  [base64.b64decode(h) for h in proof], saved.root,
                                  current.root)
    except merkle.ProofError as exc:
        raise VerifyError(f"the log of {current.size} entries is not consistent with the "
                          f"saved tree head of {saved.size}: {exc}") from exc
    with _open(f"{base}/v1/exports/entries?format=ndjson", token) as response:
        try:
            # The raw stream, line by line as it arrives (decompressed, if it came so).
            verify_leaves(ndjson_leaves(response.raw, progress), current, "the live log")
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise VerifyError(f"reading the live log from {response.url} failed: {exc}"
                              ) from exc
    return current


def _cosigned(note: str, witness: notes.Verifier) -> bool:
    """Whether the witness cosigned the note; a cosignature of its that does not verify
    fails the check (NoteError), as a bad signature would."""
    try:
        notes.cosigned_at(note, witness)
    except notes.Unsigned:
        return False
    return True


def _bytes(url: str) -> bytes:
    with _open(url, None) as response:
        try:
            return response.content
        except requests.RequestException as exc:
            raise VerifyError(f"could not read {response.url}: {exc}") from exc


# How many full tiles ``check_every_tile`` asks for at once (the fetcher reads them in
# parallel), and lets go of before the next: a log's tiles need not fit in memory.
TILES_AT_ONCE = 64


def check_every_tile(size: int, get: Callable[[str], bytes]) -> int:
    """Check that each full tile of the tree of ``size`` folds into the hash that the tile
    above it holds for it; return how many were checked.

    A root from the tiles reads only the tiles that give it: the partial tiles at the
    right edge, and the highest tile above the rest. With this, every hash of every tile
    of the tree is bound to the root, so no tile served to a client can differ from the
    tree it was signed as."""
    checked = 0
    level = 0
    while (parents := size >> (tiles.HEIGHT * (level + 1))) > 0:
        top = tiles.HEIGHT * (level + 1)
        above = tiles.fetcher(size, get)  # one store a level: the tiles above, kept
        for first in range(0, parents, TILES_AT_ONCE):
            indexes = range(first, min(first + TILES_AT_ONCE, parents))
            halves = tiles.fetcher(size, get)(
                {(top - 1, 2 * n + side) for n in indexes for side in (0, 1)})
            held = above({(top, n) for n in indexes})
            for n in indexes:
                if merkle.node_hash(halves[top - 1, 2 * n], halves[top - 1, 2 * n + 1]) \
                        != held[top, n]:
                    parent = n // tiles.WIDTH
                    above_it = tiles.Tile(level + 1, parent,
                                          tiles.width_at(level + 1, parent, size))
                    raise VerifyError(
                        f"{tiles.Tile(level, n, tiles.WIDTH).path()} does not hash to hash "
                        f"{n % tiles.WIDTH} of {above_it.path()}: one of them is not of "
                        f"the tree the checkpoint signed")
            checked += len(indexes)
        level += 1
    return checked


def check_tiles(base_url: str, verifier: notes.Verifier, saved: str | None,
                witnesses: Sequence[notes.Verifier] = (), quorum: int = 0,
                every_tile: bool = False
                ) -> tuple[str, notes.Checkpoint, notes.Checkpoint | None]:
    """The live checkpoint, checked without a token: its signature under the verifier key,
    ``quorum`` cosignatures of the witnesses', its root recomputed from the hash tiles, and,
    given a checkpoint saved before, a consistency proof from the same tiles that the log
    extends it; with ``every_tile``, each full tile against the tile above it as well
    (``check_every_tile``)."""
    base = base_url.rstrip("/")
    note = _bytes(f"{base}/checkpoint").decode("utf-8", "replace")
    try:
        current = notes.parse_checkpoint(notes.open_note(note, verifier))
        cosigned = [w.name for w in witnesses if _cosigned(note, w)]
        before = None if saved is None else notes.parse_checkpoint(
            notes.open_note(saved, verifier))
    except notes.NoteError as exc:
        raise VerifyError(f"checkpoint: {exc}") from exc
    if len(cosigned) < quorum:
        raise VerifyError(f"the checkpoint of size {current.size} is cosigned by "
                          f"{len(cosigned)} of the {len(witnesses)} witnesses "
                          f"({', '.join(cosigned) or 'none'}), fewer than the {quorum} "
                          f"required")
    for checkpoint in (current, before):
        if checkpoint is not None and checkpoint.origin != verifier.name:
            raise VerifyError(f"the checkpoint is of {checkpoint.origin!r}, not of the log "
                              f"the verifier key names, {verifier.name!r}")
    def get(path: str) -> bytes:
        return _bytes(f"{base}/{path}")

    fetch = tiles.fetcher(current.size, get)
    try:
        root = merkle.tree_root(current.size, fetch)
        if root != current.root:
            raise VerifyError(
                f"the tiles of the tree of size {current.size} hash to root "
                f"{base64.b64encode(root).decode()}, but the signed checkpoint says "
                f"{base64.b64encode(current.root).decode()}")
        if before is not None:
            if before.size > current.size:
                raise VerifyError(f"the log now holds {current.size} entries, fewer than "
                                  f"the {before.size} of the saved checkpoint: history "
                                  f"was truncated")
            proof = merkle.prove(merkle.consistency_ranges(before.size, current.size), fetch)
            merkle.verify_consistency(before.size, current.size, proof, before.root,
                                      current.root)
        if every_tile:
            check_every_tile(current.size, get)
    except LookupError as exc:
        raise VerifyError(f"the log's tiles: {exc}") from exc
    except merkle.ProofError as exc:
        raise VerifyError(f"the log of {current.size} entries is not consistent with the "
                          f"saved checkpoint of {before.size if before else 0}: {exc}"
                          ) from exc
    return note, current, before


@dataclass(frozen=True)
class Receipt:
    index: int
    leaf: bytes
    checkpoint: notes.Checkpoint


def check_receipt(text: str, verifier: notes.Verifier, witnesses: Sequence[notes.Verifier],
                  quorum: int) -> Receipt:
    """An offline receipt (c2sp.org/tlog-proof), checked with the public keys alone: the
    checkpoint's signature and origin, ``quorum`` cosignatures of the witnesses', and the
    inclusion proof of the leaf its ``extra`` line holds."""
    lines = text.split("\n")
    if lines[:1] != [receipts.FIRST_LINE] or "" not in lines[1:]:
        raise VerifyError("not a receipt: it must begin with the line "
                          f"{receipts.FIRST_LINE} and hold a checkpoint after an empty line")
    blank = lines.index("", 1)
    head, note = lines[1:blank], "\n".join(lines[blank + 1:])
    if not head or not head[0].startswith("extra "):
        raise VerifyError("the receipt has no 'extra' line: its leaf is what a Ladder "
                          "receipt carries there")
    if len(head) < 2 or not head[1].startswith("index ") or not notes.is_decimal(head[1][6:]):
        raise VerifyError("the receipt's 'index' line is missing or not a decimal")
    try:
        leaf = base64.b64decode(head[0][6:], validate=True)
        path = [base64.b64decode(h, validate=True) for h in head[2:]]
    except (binascii.Error, ValueError) as exc:
        raise VerifyError(f"the receipt holds something that is not base64: {exc}") from exc
    index = int(head[1][6:])
    try:
        checkpoint = notes.parse_checkpoint(notes.open_note(note, verifier))
        cosigned = [w.name for w in witnesses if _cosigned(note, w)]
    except notes.NoteError as exc:
        raise VerifyError(f"the receipt's checkpoint: {exc}") from exc
    if checkpoint.origin != verifier.name:
        raise VerifyError(f"the receipt's checkpoint is of {checkpoint.origin!r}, not of "
                          f"{verifier.name!r}")
    if len(cosigned) < quorum:
        raise VerifyError(f"the receipt's checkpoint is cosigned by {len(cosigned)} of the "
                          f"{len(witnesses)} witnesses, fewer than the {quorum} required")
    if leaves.seq_of(leaf) != index + 1:
        raise VerifyError(f"the entry is not at index {index}: the 'extra' line is entry "
                          f"{leaves.seq_of(leaf)}'s, and index {index} holds entry {index + 1}")
    try:
        leaf_hash = leaves.leaf_hash(leaf)
    except ValueError as exc:  # an erased entry's line with no leaf hash in it
        raise VerifyError(f"the receipt's entry: {exc}") from exc
    try:
        merkle.verify_inclusion(index, checkpoint.size, leaf_hash, path, checkpoint.root)
    except merkle.ProofError as exc:
        raise VerifyError(f"the entry is not at index {index} of the tree of size "
                          f"{checkpoint.size}: {exc}") from exc
    return Receipt(index, leaf, checkpoint)
