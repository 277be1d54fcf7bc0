"""Prometheus metrics at ``/metrics`` on every service.

Two kinds of figure:

- **Counted where they happen**: requests (count and latency by endpoint and
  status) and the ledger worker's batches (size, latency, events by outcome).
  gunicorn and Celery run several processes, so these use prometheus-client's
  multiprocess mode: each process writes its own files under
  ``$LADDER_METRICS_DIR/<host>/<process>/`` (the launcher sets
  ``PROMETHEUS_MULTIPROC_DIR`` to that before the process starts, see
  ``shared/procfile.py``), and a scrape merges every file under
  ``$LADDER_METRICS_DIR``. The ledger worker and the ledger API share that
  directory (one volume in docker-compose), so the worker's batches show at the
  ledger's ``/metrics``. Every sample carries a ``service`` label and a service
  shows only its own, so processes of several services can share the directory.
- **Read from the database at scrape time**: the outbox backlog of a domain
  service; the ledger's size and its rejected events. These are true whichever
  process asks, and survive restarts.

``/metrics`` needs no token, like ``/healthz``: it holds counts and route
templates, never an id, a pseudonym or a query. docs/operations.md says how to
keep it off the public side of a proxy.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, current_app, g, request
from flask.views import MethodView

from shared.blueprint import Blueprint
from shared.db import Database, current_db

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Histogram
    from prometheus_client.metrics_core import Metric

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BATCH_SIZES = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500)
BATCH_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# A figure read from the database: (name, help, value), or with labels of its own.
Reading = tuple[str, str, float] | tuple[str, str, float, dict[str, str]]
Gauges = Callable[[Database], Iterable[Reading]]


@dataclass(frozen=True)
class Instruments:
    registry: CollectorRegistry
    http_requests: Counter
    http_seconds: Histogram
    batch_size: Histogram
    batch_seconds: Histogram
    ledger_events: Counter


_instruments: Instruments | None = None


def instruments() -> Instruments:
    """The process's instruments, made on first use.

    prometheus-client chooses multiprocess mode when it is first imported, from
    ``PROMETHEUS_MULTIPROC_DIR``; nothing imports it before this does.
    """
    global _instruments
    if _instruments is None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        # Not the global registry: a scrape reads the multiprocess files, or this.
        registry = CollectorRegistry(auto_describe=True)
        _instruments = Instruments(
            registry=registry,
            http_requests=Counter(
                "ladder_http_requests", "HTTP requests answered, by endpoint and status",
                ["service", "method", "endpoint", "status"], registry=registry),
            http_seconds=Histogram(
                "ladder_http_request_duration_seconds", "Time to answer an HTTP request",
                ["service", "method", "endpoint"], registry=registry),
            batch_size=Histogram(
                "ladder_ledger_batch_size", "Events in each batch the ledger worker handled",
                ["service"], buckets=BATCH_SIZES, registry=registry),
            batch_seconds=Histogram(
                "ladder_ledger_batch_duration_seconds",
                "Time to validate, sequence, append and sign one batch",
                ["service"], buckets=BATCH_SECONDS, registry=registry),
            ledger_events=Counter(
                "ladder_ledger_events",
                "Events the ledger worker handled, by outcome: appended, duplicate, rejected",
                ["service", "outcome"], registry=registry),
        )
    return _instruments


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def record_batch(service: str, size: int, seconds: float, appended: int, duplicates: int,
                 rejected: int) -> None:
    """What the ledger worker did with one batch."""
    tools = instruments()
    tools.batch_size.labels(service).observe(size)
    tools.batch_seconds.labels(service).observe(seconds)
    for outcome, n in (("appended", appended), ("duplicate", duplicates),
                       ("rejected", rejected)):
        if n:
            tools.ledger_events.labels(service, outcome).inc(n)


class _OwnSamples:
    """The counted figures of one service, from every process's files or from this one."""

    def __init__(self, service: str, root: str) -> None:
        self.service = service
        self.root = root

    def collect(self) -> Iterator[Metric]:
        if multiprocess():
            from prometheus_client.multiprocess import MultiProcessCollector

            files = glob.glob(os.path.join(self.root, "*", "*", "*.db"))
            families = MultiProcessCollector.merge(files, accumulate=True)
        else:
            families = instruments().registry.collect()
        for family in families:
            family.samples = [s for s in family.samples
                              if s.labels.get("service") == self.service]
            yield family


class _DatabaseGauges:
    def __init__(self, service: str, db: Database, readers: list[Gauges]) -> None:
        self.service, self.db, self.readers = service, db, readers

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        for reader in self.readers:
            try:
                readings = list(reader(self.db))
            except Exception:
                # The scrape still answers; the gap in the series shows the failure.
                log.exception("could not read metrics from the database")
                continue
            # (name, help, value) or (name, help, value, {label: value}): one family a name.
            families: dict[str, GaugeMetricFamily] = {}
            for name, help_text, value, *labelled in readings:
                labels = labelled[0] if labelled else {}
                family = families.get(name)
                if family is None:
                    family = families[name] = GaugeMetricFamily(
                        name, help_text, labels=["service", *labels])
                family.add_metric([self.service, *labels.values()], value)
            yield from families.values()


def exposition(service: str, root: str, db: Database, readers: list[Gauges]) -> bytes:
    """The Prometheus text of one service."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_OwnSamples(service, root))
    registry.register(_DatabaseGauges(service, db, readers))
    return bytes(generate_latest(registry))


blp = Blueprint("metrics", __name__, description="Prometheus metrics")


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.response(200, description="Prometheus text format 0.0.4", content_type=CONTENT_TYPE)
    def get(self) -> Response:
        """Requests, outbox backlog, ledger batches and rejected events; no token needed."""
        body = exposition(current_app.config["SERVICE_NAME"], current_app.config["METRICS_DIR"],
                          current_db(), current_app.extensions["metrics_gauges"])
        return Response(body, mimetype=None, content_type=CONTENT_TYPE)


def gauges(app: Flask, reader: Gauges) -> None:
    """Add figures this service reads from its database at each scrape."""
    app.extensions.setdefault("metrics_gauges", []).append(reader)


def _observed(response: Response) -> Response:
    # shared/app.py notes when each request began.
    started = g.get("request_started")
    if started is not None:
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        service = current_app.config["SERVICE_NAME"]
        tools = instruments()
        tools.http_requests.labels(service, request.method, endpoint,
                                   str(response.status_code)).inc()
        tools.http_seconds.labels(service, request.method, endpoint).observe(
            time.perf_counter() - started)
    return response


def init_app(app: Flask, api: Any) -> None:
    app.extensions.setdefault("metrics_gauges", [])
    app.after_request(_observed)
    api.register_blueprint(blp)
