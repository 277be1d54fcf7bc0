"""A citizen's counts are kept a row a year, a column a month: two rows an involvement
(its unit and all units) where there were six (month, quarter and year of each).

Quarters and years are sums of months, so ``citizen_years`` holds everything
``citizen_periods`` did: its month rows fill it, and its quarter and year rows go.
The downgrade builds all three kinds back from the months.

Frozen: plain alembic operations and SQL only, no runtime helpers.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

MONTHS = tuple(f"m{m}" for m in range(1, 13))


def upgrade() -> None:
    op.create_table(
        "citizen_years",
        sa.Column("area", sa.String(64), primary_key=True),
        sa.Column("org_unit", sa.String(256), primary_key=True),
        sa.Column("year", sa.String(4), primary_key=True),
        sa.Column("pseudonym", sa.String(64), primary_key=True),
        *[sa.Column(name, sa.Integer, nullable=False, server_default="0") for name in MONTHS],
    )
    sums = ", ".join(f"SUM(CASE WHEN substr(period, 6, 2) = '{m:02d}' THEN n ELSE 0 END)"
                     for m in range(1, 13))
    op.execute(
        f"INSERT INTO citizen_years (area, org_unit, year, pseudonym, {', '.join(MONTHS)}) "
        f"SELECT area, org_unit, substr(period, 1, 4), pseudonym, {sums} "
        f"FROM citizen_periods WHERE kind = 'month' AND n <> 0 "
        f"GROUP BY area, org_unit, substr(period, 1, 4), pseudonym")
    op.drop_table("citizen_periods")


def downgrade() -> None:
    op.create_table(
        "citizen_periods",
        sa.Column("area", sa.String(64), primary_key=True),
        sa.Column("org_unit", sa.String(256), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("period", sa.String(8), primary_key=True),
        sa.Column("pseudonym", sa.String(64), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    spans = [("month", f"'-{m:02d}'", [m]) for m in range(1, 13)]
    spans += [("quarter", f"'-Q{q}'", [3 * q - 2, 3 * q - 1, 3 * q]) for q in range(1, 5)]
    spans += [("year", "''", list(range(1, 13)))]
    for kind, suffix, months in spans:
        n = " + ".join(f"m{m}" for m in months)
        op.execute(
            f"INSERT INTO citizen_periods (area, org_unit, kind, period, pseudonym, n) "
            f"SELECT area, org_unit, '{kind}', year || {suffix}, pseudonym, {n} "
            f"FROM citizen_years WHERE {n} <> 0")
    op.drop_table("citizen_years")
