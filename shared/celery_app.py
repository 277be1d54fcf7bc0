"""The Celery app factory, after Flask's ``celery_init_app`` pattern.

Every setting here is justified in docs/reliability.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from celery import Celery, Task, bootsteps
from celery.signals import setup_logging
from flask import Flask

from shared import heartbeat, logs
from shared.outbox.ledger import APPEND_BATCH_TASK, LEDGER_QUEUE, SETTLED_QUEUE, SETTLED_TASK

# Webhooks out: one task per attempt at one message, on a queue of their own so that
# slow subscribers never hold up the ledger's appends.
WEBHOOK_QUEUE = "webhooks"
DELIVER_WEBHOOK_TASK = "webhooks.deliver"


def celery_config(config: dict[str, Any]) -> dict[str, Any]:
    timeout = config["BROKER_TIMEOUT"]
    return {
        "broker_url": config["REDIS_URL"],
        "broker_transport_options": {
            "visibility_timeout": config["VISIBILITY_TIMEOUT"],
            # kombu sweeps for expired unacked messages every interval * throttle seconds.
            "unacked_restore_interval": min(10.0, config["VISIBILITY_TIMEOUT"] / 2),
            "unacked_restore_throttle": 1,
            # A worker killed mid-sweep leaves the sweep's mutex behind; don't let it
            # block every other sweep for kombu's default of five minutes.
            "unacked_mutex_expire": max(5, min(300, int(config["VISIBILITY_TIMEOUT"]))),
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            # A producer must fail fast, not hang, while Redis is down.
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_connection_timeout": timeout,
        "task_ignore_result": True,
        # One task answers: ledger.settled, whose answer the relay waits for. Every other
        # task is sent with ignore_result, so nothing else is stored or subscribed to.
        "result_backend": config["REDIS_URL"],
        "result_expires": 300,
        "redis_socket_timeout": timeout,
        "redis_socket_connect_timeout": timeout,
        # Fail fast, as a producer does, rather than retry for twenty seconds.
        "result_backend_transport_options": {"retry_policy": {
            "max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}},
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_routes": {APPEND_BATCH_TASK: {"queue": LEDGER_QUEUE},
                        SETTLED_TASK: {"queue": SETTLED_QUEUE},
                        DELIVER_WEBHOOK_TASK: {"queue": WEBHOOK_QUEUE}},
        "task_default_queue": LEDGER_QUEUE,
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.2,
            "interval_max": 0.5,
        },
        "worker_hijack_root_logger": False,
        "worker_soft_shutdown_timeout": config["SOFT_SHUTDOWN_TIMEOUT"],
        "worker_enable_soft_shutdown_on_idle": True,
    }


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Beat while connected and consuming: a consumer step stops when the broker is lost."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.timer: Any = None

    def start(self, consumer: Any) -> None:
        heartbeat.beat()
        self.timer = consumer.timer.call_repeatedly(heartbeat.INTERVAL, heartbeat.beat)

    def stop(self, consumer: Any) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None


def _json_logs(**_: Any) -> None:
    """Celery leaves logging alone when this signal has a receiver."""
    logs.configure()


def make_celery(name: str, config: dict[str, Any], task_cls: Any = Task) -> Celery:
    celery_app = Celery(name, task_cls=task_cls)
    celery_app.config_from_object(celery_config(config))
    celery_app.steps["consumer"].add(WorkerHeartbeat)
    setup_logging.connect(_json_logs, weak=False, dispatch_uid="ladder-json-logs")
    return celery_app


def celery_init_app(app: Flask) -> Celery:
    """Attach a Celery app whose tasks run inside the Flask app context."""

    class FlaskTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = make_celery(app.name, app.config, FlaskTask)
    celery_app.set_default()
    app.extensions["celery"] = celery_app
    return celery_app


def broker_reachable(celery_app: Celery, timeout: float) -> bool:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)
    return True


def every(interval: float, run: Callable[[], None]) -> type[bootsteps.StartStopStep]:
    """A worker bootstep that calls ``run`` every ``interval`` seconds on the worker's
    timer, from its start to its stop; ``run`` logs its own failures."""

    class Every(bootsteps.StartStopStep):
        requires = {"celery.worker.components:Timer"}

        def __init__(self, worker: Any, **kwargs: Any) -> None:
            super().__init__(worker, **kwargs)
            self.tref: Any = None

        def start(self, worker: Any) -> None:
            self.tref = worker.timer.call_repeatedly(interval, run, priority=10)

        def stop(self, worker: Any) -> None:
            if self.tref is not None:
                self.tref.cancel()
                self.tref = None

    return Every
