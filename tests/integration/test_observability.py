"""Request ids from HTTP into the ledger worker, and the metrics every service serves."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.ledger import tasks
from shared import logs
from tests.integration.conftest import AreaClient, MakeApp
from tests.support import events as ev
from tests.support.areas import ACTIVITIES, PATHS


def _samples(response: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert response.status_code == 200, response.data
    assert response.content_type.startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for s in family.samples}


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_request_id_is_echoed_and_travels_on_the_events_it_causes(area: AreaClient) -> None:
    request_id = str(uuid.uuid4())
    response = area.post(f"/v1/{PATHS[area.area]}", json=ACTIVITIES[area.area],
                         headers={"X-Request-ID": request_id})
    assert response.status_code == 202, response.json
    assert response.headers["X-Request-ID"] == request_id
    assert area.events()[-1]["requestid"] == request_id


@pytest.mark.parametrize("given", ["Jane Smith, diabetes clinic", "short-1", "x" * 80, ""])
def test_a_request_id_that_is_not_a_plain_identifier_is_replaced(area: AreaClient,
                                                                 given: str) -> None:
    response = area.post(f"/v1/{PATHS[area.area]}", json=ACTIVITIES[area.area],
                         headers={"X-Request-ID": given})
    assert response.status_code == 202, response.json
    made = response.headers["X-Request-ID"]
    assert made != given and uuid.UUID(made)
    assert area.events()[-1]["requestid"] == made


def test_an_error_answer_carries_the_request_id_too(area: AreaClient) -> None:
    response = area.post(f"/v1/{PATHS[area.area]}", json={"nope": 1},
                         headers={"X-Request-ID": "0123456789abcdef0123"})
    assert response.status_code == 422
    assert response.headers["X-Request-ID"] == "0123456789abcdef0123"


def test_metrics_count_requests_and_show_the_outbox_backlog(area: AreaClient) -> None:
    before = _samples(area.http.get("/metrics"))
    path = f"/v1/{PATHS[area.area]}"
    activity_id = area.post(path, json=ACTIVITIES[area.area]).json["id"]
    assert area.get(f"{path}/{activity_id}").status_code == 200
    assert area.get(f"{path}/no-such-activity").status_code == 404
    # No token needed, like /healthz.
    after = _samples(area.http.get("/metrics"))

    def grew(endpoint: str, method: str, status: str) -> float:
        labels = {"service": area.area, "endpoint": endpoint, "method": method,
                  "status": status}
        return (_value(after, "ladder_http_requests_total", **labels)
                - _value(before, "ladder_http_requests_total", **labels))

    # Endpoints are route templates, never ids.
    assert grew(path, "POST", "202") == 1
    assert grew(f"{path}/<activity_id>", "GET", "200") == 1
    assert grew(f"{path}/<activity_id>", "GET", "404") == 1
    assert _value(after, "ladder_http_request_duration_seconds_count", service=area.area,
                  endpoint=path, method="POST") >= 1
    # Nothing relays in this test: every event the service made is waiting.
    assert _value(after, "ladder_outbox_pending_events", service=area.area) == len(
        area.events())
    assert _value(after, "ladder_outbox_oldest_pending_seconds", service=area.area) > 0
    assert _value(after, "ladder_outbox_unconfirmed_events", service=area.area) == 0
    assert {dict(labels).get("service") for _, labels in after} == {area.area}


class _Lines(logging.Handler):
    """Log records as the JSON handler sees them: with the context's fields."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(logs.ContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_ledger_shows_its_worker_batches_size_and_rejected_events(
    make_app: MakeApp,
) -> None:
    app = make_app("ledger")
    http = app.test_client()
    before = _samples(http.get("/metrics"))
    request_id = str(uuid.uuid4())
    batch = [{**ev.activity(), "requestid": request_id}, ev.involvement(),
             {"specversion": "1.0", "id": "bad"}]
    lines, logger = _Lines(), logging.getLogger("services.ledger.tasks")
    logger.addHandler(lines)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        # The worker's task, run in this process: the same code, without a broker.
        result = tasks.append_batch.apply(args=[batch]).get()
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
    assert (result["appended"], result["rejected"]) == (2, 1)
    [line] = [r for r in lines.records if r.getMessage().startswith("ledger appended")]
    assert line.request_ids == [request_id]  # type: ignore[attr-defined]
    after = _samples(http.get("/metrics"))

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("ladder_ledger_batch_size_count", service="ledger") == 1
    assert grew("ladder_ledger_batch_size_sum", service="ledger") == 3
    assert grew("ladder_ledger_batch_duration_seconds_count", service="ledger") == 1
    assert grew("ladder_ledger_events_total", service="ledger", outcome="appended") == 2
    assert grew("ladder_ledger_events_total", service="ledger", outcome="rejected") == 1
    assert _value(after, "ladder_ledger_entries", service="ledger") == 2
    assert _value(after, "ladder_ledger_rejected_events", service="ledger") == 1
