"""The dashboard's consistency check: does the log still extend what was checked before?

Each run takes the latest signed tree head and checks, with the ledger's public key
and the stored Merkle tree, that

1. its signature verifies;
2. the stored tree, read back from its nodes, hashes to the root it signed;
3. it is consistent (RFC 9162 2.1.4) with the head the last passing check reached:
   the proof is built from the stored nodes and verified against both signed roots;
4. with witnesses (LADDER_WITNESSES), a quorum of them cosigned a checkpoint of it, each
   stored cosignature checked again with its witness's key: the panel says which size
   and how far behind the latest it is.

Each run is recorded with the head it reached, kept whole, so the next run checks
against that head even if ``tree_heads`` is rewritten. The runs chain: a rewrite of
anything an earlier run covered fails every run after it, until someone looks.

What it does not do: recompute every leaf from the entries (that is ``ladder verify``,
O(n)), and it runs inside the ledger, so an operator who controls the database and
the signing key could rewrite this record too. Against that, only a tree head an
auditor keeps elsewhere helps: ``ladder verify --tree-head``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from services.ledger import tree, witnessing
from services.ledger.models import IntegrityCheck
from services.ledger.signing import Signer, TreeHead, TreeHeadSignatureInvalid
from services.ledger.witnessing import Witness
from shared import merkle, notes
from shared.db import Database
from shared.times import naive_utcnow


@dataclass(frozen=True)
class Integrity:
    """What the integrity panel shows."""

    head: TreeHead | None
    passed: bool | None
    detail: str
    checked_at: datetime | None
    from_size: int | None

    @property
    def root_b64(self) -> str:
        return base64.b64encode(self.head.root).decode() if self.head else ""

    @property
    def signed_at(self) -> datetime | None:
        if self.head is None:
            return None
        return datetime.fromtimestamp(self.head.timestamp / 1000, UTC)


def _head(row: IntegrityCheck) -> TreeHead:
    return TreeHead(row.size, row.timestamp, row.root_hash, row.signature)


def _verify(session: Session, latest: TreeHead, base: TreeHead | None,
            public_key: Ed25519PublicKey) -> str:
    """Raise ValueError with the reason when the log fails; else say what passed."""
    try:
        latest.verify(public_key)
    except TreeHeadSignatureInvalid as exc:
        raise ValueError(str(exc)) from exc
    fetch = tree.fetcher(session)
    try:
        root = merkle.tree_root(latest.size, fetch)
    except LookupError as exc:
        raise ValueError(f"the stored tree cannot be read back: {exc}") from exc
    if root != latest.root:
        raise ValueError(f"the stored tree of {latest.size} entries no longer hashes to "
                         "the root its tree head signed")
    if base is None:
        return (f"the tree head of {latest.size} entries is signed by the ledger's key and "
                "the stored tree hashes to its root")
    if latest.size < base.size:
        raise ValueError(f"the log holds {latest.size} entries, fewer than the "
                         f"{base.size} checked before: history was truncated")
    try:
        proof = merkle.prove(merkle.consistency_ranges(base.size, latest.size), fetch)
        merkle.verify_consistency(base.size, latest.size, proof, base.root, latest.root)
    except (LookupError, merkle.ProofError) as exc:
        raise ValueError(f"the log of {latest.size} entries is not consistent with the "
                         f"tree head of {base.size} checked before: {exc}") from exc
    return (f"the tree head of {latest.size} entries is signed by the ledger's key, the "
            f"stored tree hashes to its root, and it extends the tree head of {base.size} "
            "entries checked before")


def _witnessed(session: Session, latest: TreeHead, signer: Signer,
               witnesses: Sequence[Witness], quorum: int) -> str:
    """What the witnesses vouch for: the newest checkpoint a quorum of them cosigned, each
    cosignature checked again with its witness's key; ValueError if one does not verify."""
    served = witnessing.cosigned_checkpoint(session, signer, list(witnesses), quorum)
    if served is None:
        return (f"; no checkpoint is cosigned by {quorum} of its {len(witnesses)} witnesses "
                "yet")
    for witness in witnesses:
        try:
            notes.cosigned_at(served.note, witness.key)
        except notes.Unsigned:
            continue
        except notes.NoteError as exc:
            raise ValueError(f"a stored cosignature of {witness.key.name} does not verify: "
                             f"{exc}") from exc
    size = served.size
    behind = f", {latest.size - size} entries behind" if size < latest.size else ""
    return (f"; {quorum} of its {len(witnesses)} witnesses cosigned the checkpoint of {size} "
            f"entries{behind}")


def check(db: Database, signer: Signer, witnesses: Sequence[Witness] = (),
          quorum: int = 0) -> Integrity:
    """Check the latest signed tree head against the last one that passed, and what its
    witnesses cosigned; record it."""
    with db.writing() as session:
        latest = tree.latest_head(session)
        if latest is None:
            return Integrity(None, None, "The ledger is empty: there is nothing to check yet.",
                             None, None)
        last = session.scalars(sa.select(IntegrityCheck).where(IntegrityCheck.passed)
                               .order_by(IntegrityCheck.id.desc()).limit(1)).first()
        base = None if last is None else _head(last)
        try:
            detail, passed = _verify(session, latest, base, signer.public_key), True
            if witnesses:
                detail += _witnessed(session, latest, signer, witnesses, quorum)
        except ValueError as exc:
            detail, passed = str(exc), False
        now = naive_utcnow()
        session.add(IntegrityCheck(
            checked_at=now, passed=passed, detail=detail,
            from_size=None if base is None else base.size, size=latest.size,
            timestamp=latest.timestamp, root_hash=latest.root, signature=latest.signature))
    return Integrity(latest, passed, detail, now, None if base is None else base.size)
