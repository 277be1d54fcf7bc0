"""The Merkle log: leaf hashes, stored nodes, the tree's right edge and signed tree heads.

Entries appended before this revision are hashed into the tree here, in order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from services.ledger.merkle import CompactRange, leaf_hash
from services.ledger.tree import leaf_bytes, node_id

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


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
    # Hash in whatever the ledger already holds.
    bind = op.get_bind()
    tree = CompactRange()
    entries = sa.table("entries", sa.column("seq", sa.BigInteger),
                       sa.column("received_at", sa.DateTime), sa.column("event", sa.Text))
    rows = bind.execute(sa.select(entries.c.seq, entries.c.received_at, entries.c.event)
                        .order_by(entries.c.seq))
    for seq, received_at, event in rows.fetchall():
        h = leaf_hash(leaf_bytes(seq, received_at, event))
        completed: list[tuple[tuple[int, int], bytes]] = []
        tree.append(h, completed)
        bind.execute(sa.text("UPDATE entries SET leaf_hash = :h WHERE seq = :seq"),
                     {"h": h, "seq": seq})
        if completed:
            bind.execute(nodes.insert(), [{"id": node_id(*n), "hash": v} for n, v in completed])
    bind.execute(sa.text("UPDATE ledger_head SET compact_range = :c WHERE id = 1"),
                 {"c": ",".join(h.hex() for h in tree.hashes)})


def downgrade() -> None:
    op.drop_table("tree_heads")
    op.drop_table("merkle_nodes")
    with op.batch_alter_table("ledger_head") as batch:
        batch.drop_column("compact_range")
    op.drop_index("ix_entries_leaf_hash", "entries")
    with op.batch_alter_table("entries") as batch:
        batch.drop_column("leaf_hash")
