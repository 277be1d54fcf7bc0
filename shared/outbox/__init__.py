"""The transactional outbox and its relay.

A use case adds its events to the outbox in the same transaction as the domain write
(``staging``); the relay, a separate process, publishes them to the ledger and
reconciles what it published with what the ledger holds (``relay``), through the
ledger's Celery tasks only (``ledger``). Rows it cannot publish at all are held for an
admin (``held``); the table (``tables``) and its backlog as metrics (``metrics``) are
modules of their own. The names below are the package's public ones.
"""

from __future__ import annotations

from shared.outbox.held import hold, list_held
from shared.outbox.ledger import APPEND_BATCH_TASK, LEDGER_QUEUE, SETTLED_QUEUE, SETTLED_TASK
from shared.outbox.metrics import backlog, pending_count
from shared.outbox.relay import (
    Publish,
    Relay,
    Settled,
    Unanswered,
    Unpublishable,
    reconcile_once,
    relay_once,
)
from shared.outbox.staging import REQUEST_ID_ATTRIBUTE, add, request_ids
from shared.outbox.tables import OutboxMixin

__all__ = [
    "APPEND_BATCH_TASK", "LEDGER_QUEUE", "REQUEST_ID_ATTRIBUTE", "SETTLED_QUEUE",
    "SETTLED_TASK", "OutboxMixin", "Publish", "Relay", "Settled", "Unanswered",
    "Unpublishable", "add", "backlog", "hold", "list_held",
    "pending_count", "reconcile_once", "relay_once", "request_ids",
]
