"""Each aggregate keeps the sums of its citizens' keys, the cell keys that decide how its
distinct counts are rounded for readers below admin (docs/metrics.md).

The sums of the rows there are are filled in from citizen_periods. A citizen's key is
the value of the six hex digits after ``p_`` in their pseudonym (-1 for a digit that
is not one), as services.ledger.disclosure.citizen_key computes it.

Frozen: plain alembic operations and SQL only, no runtime helpers.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _key(dialect: str) -> str:
    find = "strpos" if dialect == "postgresql" else "instr"
    return " + ".join(f"({find}('0123456789abcdef', substr(c.pseudonym, {3 + i}, 1)) - 1)"
                      f" * {16 ** (5 - i)}" for i in range(6))


def upgrade() -> None:
    with op.batch_alter_table("aggregates") as table:
        table.add_column(sa.Column("citizens_key", sa.BigInteger, nullable=False,
                                   server_default="0"))
        table.add_column(sa.Column("returning_key", sa.BigInteger, nullable=False,
                                   server_default="0"))
    key = _key(op.get_bind().dialect.name)
    same = ("c.area = aggregates.area AND c.org_unit = aggregates.org_unit "
            "AND c.kind = aggregates.kind AND c.period = aggregates.period")
    op.execute(
        f"UPDATE aggregates SET "
        f"citizens_key = COALESCE((SELECT SUM({key}) FROM citizen_periods c "
        f"WHERE {same} AND c.n > 0), 0), "
        f"returning_key = COALESCE((SELECT SUM({key}) FROM citizen_periods c "
        f"WHERE {same} AND c.n > 1), 0)")


def downgrade() -> None:
    with op.batch_alter_table("aggregates") as table:
        table.drop_column("returning_key")
        table.drop_column("citizens_key")
