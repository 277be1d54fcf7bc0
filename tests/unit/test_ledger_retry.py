"""The ledger's append task: Celery retries a failed batch, without end, and soon enough."""

from __future__ import annotations

from celery.utils.time import get_exponential_backoff_interval

from services.ledger import tasks
from shared.config import load


def test_a_failed_batch_is_retried_without_end_whatever_the_error() -> None:
    task = tasks.append_batch
    assert task.max_retries is None
    assert task.acks_late
    assert tuple(task.autoretry_for) == (Exception,)
    assert all(issubclass(error, Exception) for error in tasks.TRANSIENT)


def test_the_wait_between_tries_doubles_with_jitter_up_to_its_cap() -> None:
    task = tasks.append_batch
    assert task.retry_backoff is True and task.retry_jitter is True
    assert task.retry_backoff_max == tasks.RETRY_BACKOFF_MAX
    ceilings = [get_exponential_backoff_interval(1, n, task.retry_backoff_max, False)
                for n in range(12)]
    assert ceilings[:6] == [1, 2, 4, 8, 16, tasks.RETRY_BACKOFF_MAX]
    assert max(ceilings) == tasks.RETRY_BACKOFF_MAX
    assert all(0 <= get_exponential_backoff_interval(1, n, task.retry_backoff_max, True)
               <= tasks.RETRY_BACKOFF_MAX for n in range(12) for _ in range(20))


def test_a_batch_waiting_to_be_retried_is_not_handed_to_a_second_worker() -> None:
    # Redis hands an unacknowledged message out again after the visibility timeout.
    assert load("ledger", {})["VISIBILITY_TIMEOUT"] > tasks.RETRY_BACKOFF_MAX
