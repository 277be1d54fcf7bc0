"""Citizens' rows say which normalisation rule made their lookup; erased rows leave no trace.

Every existing row was made under rule 1 (the reference trimmed). A row may now hold,
instead of a salt, the pseudonym rule 1 gave a citizen who has since been found
again (shared/area/references.py). Written with plain operations only, so that it
does the same whatever the code around it becomes.

On SQLite the table is rebuilt, with ``secure_delete`` on (every connection has it):
the old pages are zeroed, and with them any copy of a row that an insert before this
version moved and left behind. On PostgreSQL, lookups, salts and pseudonyms are kept
out of the planner's statistics, which sample column values: the statistics already
gathered go (PostgreSQL drops a column's when its type is declared again), and the
table and ``pg_statistic`` are rewritten without the dead rows that erasures before
this version left.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("citizens",
                              recreate="always" if dialect == "sqlite" else "auto") as table:
        # A row written by a process still running the code before this version (during
        # an upgrade) is rule 1 too: the default says so.
        table.add_column(sa.Column("rule", sa.Integer, nullable=False, server_default="1"))
        table.add_column(sa.Column("pseudonym", sa.String(64), nullable=True))
        table.alter_column("salt", existing_type=sa.String(64), nullable=True)
        table.create_check_constraint("ck_citizens_salt_or_pseudonym",
                                      "(salt IS NULL) <> (pseudonym IS NULL)")
    if dialect != "postgresql":
        return
    op.execute("ALTER TABLE citizens ALTER COLUMN lookup SET STATISTICS 0, "
               "ALTER COLUMN salt SET STATISTICS 0, ALTER COLUMN pseudonym SET STATISTICS 0")
    op.execute("ALTER TABLE citizens ALTER COLUMN lookup TYPE varchar(64), "
               "ALTER COLUMN salt TYPE varchar(64)")
    # VACUUM cannot run in a transaction. pg_statistic can be rewritten by the database's
    # owner or a superuser; anyone else gets a warning, and docs/operations.md says so.
    with op.get_context().autocommit_block():
        op.execute("VACUUM (FULL) citizens")
        op.execute("VACUUM (FULL) pg_statistic")


def downgrade() -> None:
    raise NotImplementedError("not reversible: a lookup made under rule 2 cannot be made "
                              "into its rule-1 form, which needs the reference")
