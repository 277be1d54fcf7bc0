"""The Merkle log: leaf hashes, stored nodes, the tree's right edge and signed tree heads.

Entries appended before this revision are hashed into the tree here, in order.

Frozen: plain alembic operations and this file's own Python, no runtime helpers. The
leaf bytes, the RFC 9162 hashes and the node ids are those of docs/ledger-format.md,
copied in as they were at this revision.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# A stored node's id is level * 2**40 + index (frozen as of this revision).
LEVEL_SHIFT = 40


def _leaf_hash(seq: int, received_at: datetime, event: str) -> bytes:
    """RFC 9162's leaf hash of an entry's canonical bytes."""
    received = received_at.isoformat(timespec="microseconds") + "Z"
    leaf = f'{{"event":{event},"received_at":"{received}","seq":{seq}}}'.encode()
    return hashlib.sha256(b"\x00" + leaf).digest()


def upgrade() -> None:
    with op.batch_alter_table("entries") as batch:
        batch.add_column(sa.Column("leaf_hash", sa.LargeBinary(32), nullable=True))
    op.create_index("ix_entries_leaf_hash", "entries", ["leaf_hash"])
    with op.batch_alter_table("ledger_head") as batch:
        batch.add_column(sa.Column("compact_range", sa.Text, nullable=False, server_default=""))
    nodes = op.create_table(
        "merkle_nodes",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
    )
    op.create_table(
        "tree_heads",
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("signature", sa.LargeBinary(64), nullable=False),
    )
    # Hash in whatever the ledger already holds. The tree's right edge is its perfect
    # subtrees, largest first; appending a leaf merges equal ones, like carrying in binary
    # addition, and each merge completes a node to store.
    bind = op.get_bind()
    hashes: list[bytes] = []
    levels: list[int] = []
    entries = sa.table("entries", sa.column("seq", sa.BigInteger),
                       sa.column("received_at", sa.DateTime), sa.column("event", sa.Text))
    rows = bind.execute(sa.select(entries.c.seq, entries.c.received_at, entries.c.event)
                        .order_by(entries.c.seq))
    for index, (seq, received_at, event) in enumerate(rows.fetchall()):
        h = _leaf_hash(seq, received_at, event)
        hashes.append(h)
        levels.append(0)
        completed: list[dict[str, object]] = []
        while len(levels) > 1 and levels[-1] == levels[-2]:
            right, left = hashes.pop(), hashes.pop()
            levels.pop()
            levels[-1] += 1
            parent = hashlib.sha256(b"\x01" + left + right).digest()
            hashes.append(parent)
            completed.append({"id": (levels[-1] << LEVEL_SHIFT) | (index >> levels[-1]),
                              "hash": parent})
        bind.execute(sa.text("UPDATE entries SET leaf_hash = :h WHERE seq = :seq"),
                     {"h": h, "seq": seq})
        if completed:
            bind.execute(nodes.insert(), completed)
    bind.execute(sa.text("UPDATE ledger_head SET compact_range = :c WHERE id = 1"),
                 {"c": ",".join(h.hex() for h in hashes)})


def downgrade() -> None:
    op.drop_table("tree_heads")
    op.drop_table("merkle_nodes")
    with op.batch_alter_table("ledger_head") as batch:
        batch.drop_column("compact_range")
    op.drop_index("ix_entries_leaf_hash", "entries")
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("leaf_hash")
