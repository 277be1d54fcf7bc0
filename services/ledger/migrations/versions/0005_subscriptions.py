"""Webhooks out: subscriptions, their alerts, the delivery outbox and the delivery log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(500), nullable=False, server_default=""),
        sa.Column("event_types", sa.Text, nullable=False, server_default=""),
        sa.Column("areas", sa.Text, nullable=False, server_default=""),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("disabled_reason", sa.String(16), nullable=True),
        sa.Column("disabled_at", sa.DateTime, nullable=True),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("previous_secret", sa.String(200), nullable=True),
        sa.Column("previous_secret_expires_at", sa.DateTime, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("last_success_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "subscription_alerts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subscription_id", sa.String(40),
                  sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("area", sa.String(64), nullable=False),
        sa.Column("org_unit", sa.String(256), nullable=False),
        sa.Column("measure", sa.String(32), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("operator", sa.String(8), nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_subscription_alerts_subscription_id", "subscription_alerts",
                    ["subscription_id"])
    op.create_index("ix_subscription_alerts_area", "subscription_alerts", ["area"])
    op.create_table(
        "alert_states",
        sa.Column("alert_id", sa.Integer,
                  sa.ForeignKey("subscription_alerts.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("period", sa.String(8), primary_key=True),
        sa.Column("breached", sa.Boolean, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("changed_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "webhook_messages",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("subscription_id", sa.String(40),
                  sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("seqs", sa.Text, nullable=True),
        sa.Column("first_seq", sa.BigInteger, nullable=True),
        sa.Column("last_seq", sa.BigInteger, nullable=True),
        sa.Column("tree_size", sa.BigInteger, nullable=True),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("schedule_step", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=True),
        sa.Column("enqueued_at", sa.DateTime, nullable=True),
        sa.Column("locked_until", sa.DateTime, nullable=True),
        sa.Column("last_attempt_at", sa.DateTime, nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_webhook_messages_subscription", "webhook_messages",
                    ["subscription_id", "id"])
    op.create_index("ix_webhook_messages_due", "webhook_messages", ["next_attempt_at"],
                    sqlite_where=sa.text("status = 'pending'"),
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("message_id", sa.String(40),
                  sa.ForeignKey("webhook_messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subscription_id", sa.String(40), nullable=False),
        sa.Column("attempted_at", sa.DateTime, nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("latency_ms", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("next_attempt_at", sa.DateTime, nullable=True),
    )
    op.create_index("ix_webhook_attempts_message_id", "webhook_attempts", ["message_id"])
    op.create_index("ix_webhook_attempts_subscription", "webhook_attempts",
                    ["subscription_id", "id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_messages")
    op.drop_table("alert_states")
    op.drop_table("subscription_alerts")
    op.drop_table("subscriptions")
