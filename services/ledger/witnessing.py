"""Asking witnesses to cosign the ledger's checkpoints (c2sp.org/tlog-witness), and the
checkpoint the ledger then serves.

Each witness is asked for the latest tree head, with a consistency proof from the last one
it cosigned; its cosignature line is checked with its key and kept. The ledger serves the
newest checkpoint that a quorum of its witnesses cosigned, with their lines, so that a
reader who trusts the witnesses knows that checkpoint is the one everybody was shown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.ledger import tree
from services.ledger.models import TreeHeadRow, WitnessCosignature
from services.ledger.signing import Signer
from shared import merkle, notes
from shared.db import Database

log = logging.getLogger(__name__)
TIMEOUT = 10.0


@dataclass(frozen=True)
class Witness:
    url: str
    key: notes.Verifier  # of its cosignatures (type 0x04)


def _last_cosigned(session: Session, witness: Witness) -> int:
    return int(session.scalar(sa.select(sa.func.max(WitnessCosignature.size))
                              .where(WitnessCosignature.witness == witness.key.name)) or 0)


def request_cosignature(db: Database, signer: Signer, witness: Witness) -> int | None:
    """Ask the witness to cosign the latest tree head; the size it has now cosigned, or
    None if it would not (logged, with its reason)."""
    with db.reading() as session:
        head = tree.latest_head(session.connection())
        old = _last_cosigned(session, witness)
    if head is None or old >= head.size:
        return old if head is not None else None
    note = signer.checkpoint(head.size, head.root)
    for _ in range(2):  # once more from the size the witness says it holds
        with db.looking_up() as connection:
            proof = [] if old == 0 else merkle.prove(
                merkle.consistency_ranges(old, head.size), tree.fetcher(connection))
        body = notes.add_checkpoint_body(old, proof, note).encode()
        try:
            response = requests.post(f"{witness.url}/add-checkpoint", data=body,
                                     headers={"Content-Type": "text/plain"}, timeout=TIMEOUT)
        except requests.RequestException as exc:
            log.warning("witness %s unreachable: %s", witness.key.name, exc)
            return None
        if response.status_code == 409 and response.headers.get(
                "Content-Type", "").startswith("text/x.tlog.size"):
            held = response.text.strip()
            if not held.isdecimal() or int(held) > head.size or int(held) == old:
                log.error("witness %s holds a checkpoint of size %s, and the ledger's is %d: "
                          "it cosigned a tree this ledger does not have", witness.key.name,
                          held[:20], head.size)
                return None
            old = int(held)
            continue
        if response.status_code != 200:
            log.error("witness %s refused the checkpoint of size %d: %s %s",
                      witness.key.name, head.size, response.status_code, response.text[:300])
            return None
        return _keep(db, witness, head.size, note, response.text)
    return None


def _keep(db: Database, witness: Witness, size: int, note: str, answer: str) -> int | None:
    """Keep the witness's cosignature line, once it verifies on this checkpoint."""
    lines = [line + "\n" for line in answer.splitlines()
             if line.startswith(f"{notes.SIGNATURE_PREFIX}{witness.key.name} ")]
    for line in lines:
        try:
            at = notes.cosigned_at(note + line, witness.key)
        except notes.NoteError as exc:
            log.error("witness %s answered a cosignature that does not verify: %s",
                      witness.key.name, exc)
            continue
        with db.writing(exclusive=False) as session:
            session.merge(WitnessCosignature(witness=witness.key.name, size=size, line=line,
                                             cosigned_at=at))
        return size
    log.error("witness %s answered no cosignature of its own", witness.key.name)
    return None


@dataclass(frozen=True)
class Served:
    """A checkpoint the ledger serves: its tree size, and the note with its signatures."""

    size: int
    note: str


def cosigned_checkpoint(session: Session, signer: Signer, witnesses: list[Witness],
                        quorum: int) -> Served | None:
    """The newest checkpoint that ``quorum`` of the witnesses cosigned, with their lines;
    None if there is none yet."""
    names = [w.key.name for w in witnesses]
    rows = session.execute(
        sa.select(WitnessCosignature.size, WitnessCosignature.line, TreeHeadRow.root_hash)
        .join(TreeHeadRow, TreeHeadRow.size == WitnessCosignature.size)
        .where(WitnessCosignature.witness.in_(names))
        .order_by(WitnessCosignature.size.desc()).limit(200 * len(names))).all()
    by_size: dict[int, list[str]] = {}
    roots: dict[int, bytes] = {}
    for size, line, root in rows:
        by_size.setdefault(size, []).append(line)
        roots[size] = root
    for size in sorted(by_size, reverse=True):
        if len(by_size[size]) >= quorum:
            return Served(size, signer.checkpoint(size, roots[size])
                          + "".join(sorted(by_size[size])))
    return None


def served_checkpoint(session: Session, signer: Signer, witnesses: list[Witness],
                      quorum: int) -> Served | None:
    """What ``/checkpoint`` serves and receipts are proved in: with witnesses, the newest
    checkpoint a quorum of them cosigned (None until there is one); without, the latest
    tree head signed by the log (the empty tree's before the first)."""
    if witnesses:
        return cosigned_checkpoint(session, signer, witnesses, quorum)
    head = tree.latest_head(session.connection())
    size, root = (0, merkle.EMPTY_ROOT) if head is None else (head.size, head.root)
    return Served(size, signer.checkpoint(size, root))


def run(db: Database, signer: Signer, witnesses: list[Witness], interval: float,
        running: Callable[[], bool]) -> threading.Thread:
    """A thread that asks every witness to cosign each new tree head, until ``running()``
    turns false."""

    def loop() -> None:
        while running():
            for witness in witnesses:
                try:
                    request_cosignature(db, signer, witness)
                except Exception:
                    log.exception("asking witness %s to cosign failed; it is asked again",
                                  witness.key.name)
            time.sleep(interval)

    thread = threading.Thread(target=loop, name="witnessing", daemon=True)
    thread.start()
    return thread
