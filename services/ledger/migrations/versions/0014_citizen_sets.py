"""The citizens of each area, unit and month as Roaring bitmaps of dense numbers, so a
range that is not one calendar period counts its citizens by unions of sets rather than
by reading every citizen's row.

``citizen_ids`` numbers each pseudonym in ``citizen_years``, in order;
``citizen_months`` holds each month's citizens with one involvement or more and with
two or more; ``citizen_key_bits`` holds, per bit of the record key plus its offset, the
citizens whose key has it. The downgrade drops them: ``citizen_years`` still holds it all.

Frozen: alembic operations, SQL and pyroaring's bitmaps only, no runtime helpers. The
record key is written out as services.ledger.disclosure.citizen_key computed it then.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op
from pyroaring import BitMap

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

HEX = "0123456789abcdef"
OFFSET = sum(16 ** i for i in range(6))
KEY_BITS = 25
CHUNK = 1 << 16
BATCH = 1000


def _key(pseudonym: str) -> int:
    return sum(HEX.find(pseudonym[2 + i:3 + i]) * 16 ** (5 - i) for i in range(6))


def upgrade() -> None:
    ids = op.create_table(
        "citizen_ids",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("pseudonym", sa.String(64), nullable=False, unique=True),
    )
    months = op.create_table(
        "citizen_months",
        sa.Column("area", sa.String(64), primary_key=True),
        sa.Column("org_unit", sa.String(256), primary_key=True),
        sa.Column("month", sa.String(7), primary_key=True),
        sa.Column("once", sa.LargeBinary, nullable=False),
        sa.Column("twice", sa.LargeBinary, nullable=False),
    )
    key_bits = op.create_table(
        "citizen_key_bits",
        sa.Column("chunk", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("bit", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("members", sa.LargeBinary, nullable=False),
    )
    bind = op.get_bind()
    pseudonyms = bind.execute(sa.text(
        "SELECT DISTINCT pseudonym FROM citizen_years ORDER BY pseudonym")).scalars().all()
    number = {p: n for n, p in enumerate(pseudonyms)}
    bits: dict[tuple[int, int], BitMap] = defaultdict(BitMap)
    for p, n in number.items():
        shifted = _key(p) + OFFSET
        for bit in range(KEY_BITS):
            if shifted >> bit & 1:
                bits[(n // CHUNK, bit)].add(n)
    rows = [{"id": n, "pseudonym": p} for p, n in number.items()]
    for start in range(0, len(rows), BATCH):
        op.bulk_insert(ids, rows[start:start + BATCH])
    op.bulk_insert(key_bits, [{"chunk": c, "bit": b, "members": m.serialize()}
                              for (c, b), m in sorted(bits.items())])
    sets: dict[tuple[str, str, str], tuple[BitMap, BitMap]] = {}
    found = bind.execute(sa.text(
        "SELECT area, org_unit, year, pseudonym, "
        + ", ".join(f"m{m}" for m in range(1, 13)) + " FROM citizen_years"))
    for area, org_unit, year, pseudonym, *counts in found:
        for m, n in enumerate(counts):
            if n >= 1:
                once, twice = sets.setdefault((area, org_unit, f"{year}-{m + 1:02d}"),
                                              (BitMap(), BitMap()))
                once.add(number[pseudonym])
                if n >= 2:
                    twice.add(number[pseudonym])
    cells = [{"area": a, "org_unit": u, "month": m, "once": once.serialize(),
              "twice": twice.serialize()} for (a, u, m), (once, twice) in sorted(sets.items())]
    for start in range(0, len(cells), BATCH):
        op.bulk_insert(months, cells[start:start + BATCH])


def downgrade() -> None:
    op.drop_table("citizen_key_bits")
    op.drop_table("citizen_months")
    op.drop_table("citizen_ids")
