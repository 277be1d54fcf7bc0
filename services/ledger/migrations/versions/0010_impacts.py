"""Impact records and the seed's four values in the measures: told, changed, non-financial
recognition, the days until citizens were told, and the rubric versions each figure mixes.

Every involvement the ledger holds was scored by a version-1 rubric, and no impact
record came before this version, so the new counters start from what is known: the
rubric histogram from the involvements' states, non-financial recognition from each
involvement's latest recorded or corrected event.

Frozen: plain alembic operations, SQL and this file's own Python, no runtime helpers.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

KINDS = ("month", "quarter", "year")
ALL_UNITS = "*"


def _period(day: date, kind: str) -> str:
    if kind == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if kind == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year:04d}"


def upgrade() -> None:
    with op.batch_alter_table("aggregates") as table:
        for name in ("told", "changed", "non_financial"):
            table.add_column(sa.Column(name, sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("activity_states") as table:
        table.add_column(sa.Column("told_on", sa.Date, nullable=True))
        table.add_column(sa.Column("outcome", sa.String(16), nullable=True))
    with op.batch_alter_table("involvement_states") as table:
        table.add_column(sa.Column("recognition", sa.String(32), nullable=False,
                                   server_default="none"))
        table.add_column(sa.Column("rubric", sa.String(32), nullable=False,
                                   server_default=""))
        table.add_column(sa.Column("told_on", sa.Date, nullable=True))
        table.add_column(sa.Column("outcome", sa.String(16), nullable=True))
    op.create_table(
        "cell_histograms",
        sa.Column("area", sa.String(64), primary_key=True),
        sa.Column("org_unit", sa.String(256), primary_key=True),
        sa.Column("month", sa.String(8), primary_key=True),
        sa.Column("measure", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(32), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE involvement_states SET rubric = area || '-1'"))
    _recognition(bind)
    _counts(bind)


def _recognition(bind: sa.engine.Connection) -> None:
    """Each involvement's recognition, as its latest recorded or corrected event left it."""
    latest: dict[tuple[str, str], str] = {}
    rows = bind.execute(sa.text(
        "SELECT area, event FROM entries WHERE type IN "
        "('org.ladder.involvement.recorded', 'org.ladder.involvement.corrected') ORDER BY seq"))
    for area, event in rows:
        data = json.loads(event)["data"]
        latest[(area, data["involvement_id"])] = data["recognition"]
    update = sa.text("UPDATE involvement_states SET recognition = :recognition "
                     "WHERE area = :area AND involvement_id = :involvement_id")
    params = [{"area": a, "involvement_id": i, "recognition": r}
              for (a, i), r in latest.items()]
    for start in range(0, len(params), 1000):
        bind.execute(update, params[start:start + 1000])


def _counts(bind: sa.engine.Connection) -> None:
    """Non-financial recognition per aggregate; the rubric histogram per unit and month."""
    non_financial: Counter[tuple[str, str, str, str]] = Counter()
    rubric: Counter[tuple[str, str, str, str]] = Counter()
    states = bind.execute(sa.text(
        "SELECT area, org_unit, day, rubric, recognition FROM involvement_states "
        "WHERE status = 'active'"))
    for area, org_unit, day, version, recognition in states:
        day = day if isinstance(day, date) else date.fromisoformat(str(day))
        for unit in (org_unit, ALL_UNITS):
            rubric[(area, unit, _period(day, "month"), version)] += 1
            if recognition == "time_credit":
                for kind in KINDS:
                    non_financial[(area, unit, kind, _period(day, kind))] += 1
    update = sa.text("UPDATE aggregates SET non_financial = :n WHERE area = :area AND "
                     "org_unit = :org_unit AND kind = :kind AND period = :period")
    params = [{"area": a, "org_unit": u, "kind": k, "period": p, "n": n}
              for (a, u, k, p), n in non_financial.items()]
    insert = sa.text("INSERT INTO cell_histograms (area, org_unit, month, measure, value, n) "
                     "VALUES (:area, :org_unit, :month, 'rubric', :value, :n)")
    histogram = [{"area": a, "org_unit": u, "month": m, "value": v, "n": n}
                 for (a, u, m, v), n in rubric.items()]
    for statement, rows in ((update, params), (insert, histogram)):
        for start in range(0, len(rows), 1000):
            bind.execute(statement, rows[start:start + 1000])


def downgrade() -> None:
    op.drop_table("cell_histograms")
    with op.batch_alter_table("involvement_states") as table:
        for name in ("outcome", "told_on", "rubric", "recognition"):
            table.drop_column(name)
    with op.batch_alter_table("activity_states") as table:
        table.drop_column("outcome")
        table.drop_column("told_on")
    with op.batch_alter_table("aggregates") as table:
        for name in ("non_financial", "changed", "told"):
            table.drop_column(name)
