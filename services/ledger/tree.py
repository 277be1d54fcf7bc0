"""The ledger's Merkle log on its tables: leaves, stored nodes, tree heads, proofs.

docs/ledger-format.md defines the leaves (services.ledger.leaves); shared.merkle does the hashing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.ledger import leaves
from services.ledger.models import Entry, Erasure, Head, LeafTile, MerkleNode, TreeHeadRow
from services.ledger.signing import Signer, TreeHead
from services.ledger.tiles import WIDTH, Tile
from shared import merkle
from shared.db import executemany, table_insert

LEVEL_SHIFT = 40


def node_id(level: int, index: int) -> int:
    return (level << LEVEL_SHIFT) | index


def compact_range(head: Head) -> merkle.CompactRange:
    hashes = [bytes.fromhex(h) for h in head.compact_range.split(",") if h]
    return merkle.CompactRange(head.size, hashes)


def append_leaves(session: Session, head: Head, leaves: list[bytes]) -> list[bytes]:
    """Add leaves after the head: store the nodes they complete; return their hashes."""
    tree = compact_range(head)
    hashes: list[bytes] = []
    completed: list[tuple[merkle.Node, bytes]] = []
    for data in leaves:
        h = merkle.leaf_hash(data)
        hashes.append(h)
        tree.append(h, completed)
    if completed:
        executemany(session.connection(), table_insert(cast(sa.Table, MerkleNode.__table__)),
                    [{"id": node_id(*node), "hash": h} for node, h in completed])
    head.compact_range = ",".join(h.hex() for h in tree.hashes)
    return hashes


def sign_head(session: Session, head: Head, signer: Signer, timestamp_ms: int) -> TreeHead:
    sth = signer.sign(head.size, timestamp_ms, compact_range(head).root())
    session.add(TreeHeadRow(size=sth.size, timestamp=sth.timestamp, root_hash=sth.root,
                            signature=sth.signature))
    return sth


# The nodes a proof needs, leaves and inner ones in one statement (a round trip fewer on
# PostgreSQL): a leaf's node id is its index at level 0, seq - 1. Built once, with the
# seqs and ids given at execution.
_LEAVES = (sa.select((Entry.seq - 1).label("id"), Entry.leaf_hash.label("hash"))
           .where(Entry.seq.in_(sa.bindparam("leaves", expanding=True))))
_INNER = (sa.select(MerkleNode.id, MerkleNode.hash)
          .where(MerkleNode.id.in_(sa.bindparam("inner", expanding=True))))
_NODES: dict[tuple[bool, bool], sa.Executable] = {
    (True, False): _LEAVES, (False, True): _INNER, (True, True): sa.union_all(_LEAVES, _INNER)}


def fetcher(connection: sa.Connection) -> merkle.Fetch:
    """Read the nodes a proof needs: leaves from entries, the rest from merkle_nodes."""

    def fetch(wanted: set[merkle.Node]) -> Mapping[merkle.Node, bytes]:
        leaves = sorted(index + 1 for level, index in wanted if level == 0)
        inner = sorted(node_id(*n) for n in wanted if n[0] > 0)
        found: dict[merkle.Node, bytes] = {}
        if leaves or inner:
            mask = (1 << LEVEL_SHIFT) - 1
            rows = connection.execute(_NODES[bool(leaves), bool(inner)],
                                      {"leaves": leaves, "inner": inner})
            found.update(((id_ >> LEVEL_SHIFT, id_ & mask), hash_)
                         for id_, hash_ in rows if hash_ is not None)
        missing = wanted - found.keys()
        if missing:
            raise LookupError(f"the tree is missing {len(missing)} node(s), e.g. "
                              f"{sorted(missing)[0]}: it has been tampered with")
        return found

    return fetch


_SIZE = sa.select(Head.size).where(Head.id == 1)
_LATEST = (sa.select(TreeHeadRow.size, TreeHeadRow.timestamp, TreeHeadRow.root_hash,
                     TreeHeadRow.signature).order_by(TreeHeadRow.size.desc()).limit(1))


def current_size(connection: sa.Connection) -> int:
    return int(connection.scalar(_SIZE) or 0)


def latest_head(connection: sa.Connection) -> TreeHead | None:
    row = connection.execute(_LATEST).first()
    return None if row is None else TreeHead(*row)


# A tile's hashes, and an entry bundle's leaves: one range of one index each.
_TILE_LEAVES = (sa.select(Entry.leaf_hash)
                .where(Entry.seq.between(sa.bindparam("low"), sa.bindparam("high")))
                .order_by(Entry.seq))
_LEAF_TILE = sa.select(LeafTile.hashes).where(LeafTile.index == sa.bindparam("index"))
_TILE_NODES = (sa.select(MerkleNode.hash)
               .where(MerkleNode.id.between(sa.bindparam("low"), sa.bindparam("high")))
               .order_by(MerkleNode.id))
_LINES = (sa.select(Entry.seq, Entry.received_at, Entry.event, Entry.salt, Entry.leaf_hash,
                  Erasure.commitment)
          .outerjoin(Erasure, Erasure.seq == Entry.seq)
          .where(Entry.seq.between(sa.bindparam("low"), sa.bindparam("high")))
          .order_by(Entry.seq))


@dataclass(frozen=True)
class Leaf:
    """An entry as the log holds it: its line (services.ledger.leaves), and its leaf
    input, which is None only for an entry erased in format 1 (its input was its content)."""

    seq: int
    line: bytes
    input: bytes | None

    @property
    def erased(self) -> bool:
        return leaves.erased_hash(self.line) is not None


def leaves_between(connection: sa.Connection, low: int, high: int) -> list[Leaf]:
    """Entries ``low`` to ``high`` (seqs, inclusive), in order."""
    found = []
    for row in connection.execute(_LINES, {"low": low, "high": high}):
        if row.event is None:
            found.append(Leaf(row.seq, leaves.erased_line(row.seq, row.leaf_hash),
                              row.commitment))
        else:
            line = leaves.line(row.seq, row.received_at, row.event, row.salt)
            found.append(Leaf(row.seq, line, leaves.leaf_input(line)))
    return found


def tile_hashes(connection: sa.Connection, tile: Tile) -> bytes:
    """The tile's hashes, concatenated (c2sp.org/tlog-tiles), from the entries' leaf hashes
    or the stored nodes; the caller checks that the tree has them all
    (``tiles.available``). The tile route reads a full tile of level 0 from
    ``stored_leaf_tile`` first."""
    last = tile.first + tile.width - 1
    if tile.level == 0:
        stmt, bounds = _TILE_LEAVES, {"low": tile.first + 1, "high": last + 1}
    else:
        stmt, bounds = _TILE_NODES, {"low": node_id(tile.tree_level, tile.first),
                                     "high": node_id(tile.tree_level, last)}
    hashes = [h for (h,) in connection.execute(stmt, bounds)
              if h is not None and len(h) == 32]
    if len(hashes) != tile.width:
        raise LookupError(f"the tree is missing {tile.width - len(hashes)} of the "
                          f"{tile.width} hashes of {tile.path()}: it has been tampered with")
    return b"".join(hashes)


def stored_leaf_tile(connection: sa.Connection, index: int) -> bytes | None:
    """Level 0's full tile ``index`` as the tiles follower wrote it, or None if it has not
    (yet). The follower writes a tile once the log has all of it, so one found here is
    the tree's, whatever size the caller has read."""
    kept = connection.scalar(_LEAF_TILE, {"index": index})
    return bytes(kept) if kept is not None and len(kept) == 32 * WIDTH else None


def write_leaf_tiles(session: Session, after: int, upto: int) -> int:
    """Write the full tiles of level 0 that entries ``after + 1`` to ``upto`` complete,
    each from its entries; how many."""
    indexes = range(after // WIDTH, upto // WIDTH)
    rows = [{"index": n, "hashes": tile_hashes(session.connection(), Tile(0, n, WIDTH))}
            for n in indexes]
    if rows:
        session.execute(sa.insert(LeafTile), rows)
    return len(rows)


def bundle_leaves(connection: sa.Connection, tile: Tile) -> list[bytes]:
    """The leaf inputs whose hashes level 0's tile of the same index holds."""
    found = leaves_between(connection, tile.first + 1, tile.first + tile.width)
    if len(found) != tile.width:
        raise LookupError(f"the log is missing {tile.width - len(found)} of the entries of "
                          f"{tile.path()}: it has been tampered with")
    lost = next((leaf.seq for leaf in found if leaf.input is None), None)
    if lost is not None:
        raise LookupError(f"entry {lost} was erased, and its leaf input was its content "
                          f"(format 1); the hash tile still proves it")
    return [leaf.input for leaf in found if leaf.input is not None]
