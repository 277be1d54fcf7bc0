"""The dashboard's consistency check: does the log still extend what was checked before?

Each run takes the latest signed tree head and checks, with the ledger's public key
and the stored Merkle tree, that

1. its signature verifies;
2. the stored tree, read back from its nodes, hashes to the root it signed;
3. it is consistent (RFC 9162 2.1.4) with the head the last passing check reached:
   the proof is built from the stored nodes and verified against both signed roots;
4. each full tile of level 0 that the tiles follower stored since the last check (the
   rows the tile route serves as they are) folds into the hash the stored tree holds for
   it, the hash that the tile above it and every proof use;
5. with witnesses (LADDER_WITNESSES), a quorum of them cosigned a checkpoint of it, each
   stored cosignature checked again with its witness's key: the panel says which size
   and how far behind the latest it is.

Each run is recorded with the head it reached, kept whole, so the next run checks
against that head even if ``tree_heads`` is rewritten. The runs chain: a rewrite of
anything an earlier run covered fails every run after it, until someone looks.

What it does not do: recompute every leaf from the entries (that is ``ladder verify``,
O(n)); check again a stored tile an earlier run checked (``ladder verify-log
--every-tile`` checks every tile as clients get them); and it runs inside the ledger, so
an operator who controls the database and the signing key could rewrite this record
too. Against that, only a tree head an auditor keeps elsewhere helps: ``ladder verify
--tree-head``.
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
from services.ledger.followers import TILES
from services.ledger.models import FollowerPosition, IntegrityCheck, LeafTile
from services.ledger.signing import Signer, TreeHead, TreeHeadSignatureInvalid
from services.ledger.tiles import HEIGHT, WIDTH, Tile
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


# How many stored tiles a check reads at once, and at most: a check holds the writers'
# lock (it records itself with what it reached), and a first check of a ledger of 1M
# entries would otherwise fold its 3,906 tiles in one go, about 0.75 s of CPU. The rest
# wait for the checks after it.
TILES_AT_ONCE = 256
TILES_PER_CHECK = 1024
_STORED_TILES = (sa.select(LeafTile.index, LeafTile.hashes)
                 .where(LeafTile.index.between(sa.bindparam("low"), sa.bindparam("high")))
                 .order_by(LeafTile.index))
_FOLLOWED = sa.select(FollowerPosition.position).where(FollowerPosition.name == TILES)


def _stored_tiles(session: Session, start: int, size: int, fetch: merkle.Fetch) -> int:
    """Check the stored full tiles of level 0 from index ``start`` on, each against the
    node of the tree of ``size`` it must fold into; ValueError naming the first that does
    not. Return the index the next check starts from: the first tile the tiles follower
    has not reached yet (it writes each full tile once, in order), or the first past
    ``TILES_PER_CHECK``."""
    followed = session.connection().scalar(_FOLLOWED) or 0
    reached = min(size, followed) // WIDTH
    end = max(start, min(reached, start + TILES_PER_CHECK))
    for low in range(start, end, TILES_AT_ONCE):
        high = min(low + TILES_AT_ONCE, end) - 1
        rows = session.connection().execute(_STORED_TILES, {"low": low, "high": high}).all()
        held = fetch({(HEIGHT, index) for index, _ in rows})
        for index, hashes in rows:
            stored, path = bytes(hashes), Tile(0, index, WIDTH).path()
            if len(stored) != 32 * WIDTH:
                raise ValueError(f"the stored {path} is {len(stored):,} bytes, not a tile's "
                                 f"{32 * WIDTH:,}: it was written by something else")
            if merkle.root_of_perfect([stored[i:i + 32] for i in range(0, len(stored), 32)]
                                      ) != held[HEIGHT, index]:
                raise ValueError(f"the stored {path} does not fold into the hash the tree "
                                 "holds for it: clients that read it refuse its proofs")
    return end


def _verify(session: Session, latest: TreeHead, base: TreeHead | None,
            public_key: Ed25519PublicKey, tiles_from: int) -> tuple[str, int]:
    """Raise ValueError with the reason when the log fails; else say what passed, and
    where the next check of the stored tiles starts."""
    try:
        latest.verify(public_key)
    except TreeHeadSignatureInvalid as exc:
        raise ValueError(str(exc)) from exc
    fetch = tree.fetcher(session.connection())
    try:
        root = merkle.tree_root(latest.size, fetch)
    except LookupError as exc:
        raise ValueError(f"the stored tree cannot be read back: {exc}") from exc
    if root != latest.root:
        raise ValueError(f"the stored tree of {latest.size} entries no longer hashes to "
                         "the root its tree head signed")
    try:
        tiles_to = _stored_tiles(session, tiles_from, latest.size, fetch)
    except LookupError as exc:
        raise ValueError(f"the stored tree cannot be read back: {exc}") from exc
    new = tiles_to - tiles_from
    tiles = (f"; the {new:,} full tile{'s' if new > 1 else ''} of level 0 stored since the "
             "last check fold into its hashes" if new else "")
    if base is None:
        return (f"the tree head of {latest.size} entries is signed by the ledger's key and "
                f"the stored tree hashes to its root{tiles}", tiles_to)
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
            f"entries checked before{tiles}", tiles_to)


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
        latest = tree.latest_head(session.connection())
        if latest is None:
            return Integrity(None, None, "The ledger is empty: there is nothing to check yet.",
                             None, None)
        last = session.scalars(sa.select(IntegrityCheck).where(IntegrityCheck.passed)
                               .order_by(IntegrityCheck.id.desc()).limit(1)).first()
        base = None if last is None else _head(last)
        tiles_from = 0 if last is None else last.tiles_to or 0
        tiles_to: int | None = None
        try:
            detail, tiles_to = _verify(session, latest, base, signer.public_key, tiles_from)
            passed = True
            if witnesses:
                detail += _witnessed(session, latest, signer, witnesses, quorum)
        except ValueError as exc:
            detail, passed, tiles_to = str(exc), False, None
        now = naive_utcnow()
        session.add(IntegrityCheck(
            checked_at=now, passed=passed, detail=detail,
            from_size=None if base is None else base.size, size=latest.size,
            timestamp=latest.timestamp, root_hash=latest.root, signature=latest.signature,
            tiles_to=tiles_to))
    return Integrity(latest, passed, detail, now, None if base is None else base.size)
