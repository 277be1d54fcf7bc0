"""The ledger, as the relay reaches it: two Celery tasks through Redis, and nothing else.

- ``ledger.append_batch``, on the ``ledger`` queue, carries one batch of CloudEvents
  for the ledger worker to append (services/ledger/tasks.py). It has no answer.
- ``ledger.settled``, on the ``settled`` queue, carries (source, id) pairs and answers
  with those the ledger has settled: appended to the log, or kept in ``rejected`` with
  the reason. The webhook worker answers it, so a question never waits behind the
  batches queued for the ledger worker, and the relay waits at most
  :data:`ANSWER_TIMEOUT` for it.

So the relay holds no credentials of the ledger's database and never opens it.
docs/reliability.md ("How the relay reaches the ledger") describes both tasks.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.exceptions import TimeoutError as NoAnswerYet
from kombu.exceptions import EncodeError

from shared.outbox.relay import Publish, Settled, Unanswered, Unpublishable

LEDGER_QUEUE = "ledger"
APPEND_BATCH_TASK = "ledger.append_batch"
SETTLED_QUEUE = "settled"
SETTLED_TASK = "ledger.settled"
# Seconds the relay waits for the ledger to say what it has settled. The question is
# one indexed read: longer means the webhook worker is down or every thread is busy,
# and reconcile is better tried again on its next round than held up.
ANSWER_TIMEOUT = 10.0


def publisher(celery_app: Celery) -> Publish:
    """What the relay calls: one ``ledger.append_batch`` task per batch of events."""

    def publish(events: list[dict[str, Any]]) -> None:
        try:
            celery_app.send_task(APPEND_BATCH_TASK, args=[events], queue=LEDGER_QUEUE,
                                 ignore_result=True)
        except EncodeError as exc:
            raise Unpublishable(str(exc)) from exc

    return publish


def settled(celery_app: Celery, timeout: float = ANSWER_TIMEOUT) -> Settled:
    """What reconcile calls: ask the ledger, with ``ledger.settled``, which of these
    (source, id) pairs it has settled; :class:`Unanswered` if it does not say in time."""

    def ask(keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        # A question nobody took in time is dropped by the worker, not answered late.
        result = celery_app.send_task(SETTLED_TASK, args=[[list(key) for key in keys]],
                                      queue=SETTLED_QUEUE, expires=timeout)
        try:
            answer = result.get(timeout=timeout)
        except NoAnswerYet as exc:
            raise Unanswered(f"the ledger did not answer within {timeout:g} s") from exc
        finally:
            result.forget()
        return {(source, event_id) for source, event_id in answer}

    return ask
