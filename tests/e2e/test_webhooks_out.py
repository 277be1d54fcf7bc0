"""Webhooks out through the real processes: the ledger worker records, the webhook worker
delivers, and a webhook worker killed in the middle of a retry loses nothing.

The tests share one stack per backend; each reads only the entries after those it found,
and deletes its subscriptions at the end, so that the next hears nothing meant for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.e2e.conftest import WRITE_PATH, Stack, module_stack
from tests.integration.conftest import INSPECT_GRANT
from tests.support.client import record_involvements, record_vacancy
from tests.support.receiver import Answer, Receiver

SETTINGS = {
    "LADDER_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
    # Quick retries, a short timeout and a quick sweep: the killed worker's test waits on them.
    "LADDER_WEBHOOK_SCHEDULE": "0,1,1,1,1,1",
    "LADDER_WEBHOOK_TIMEOUT": "4",
    "LADDER_WEBHOOK_REQUEUE_AFTER": "1",
    "LADDER_WEBHOOK_SWEEP_INTERVAL": "0.2",
}


shared = module_stack("shared", "recruitment", *WRITE_PATH, **SETTINGS)


@pytest.fixture
def stack(shared: Stack) -> Iterator[Stack]:
    """The module's stack; the subscriptions a test made are deleted after it, and a
    webhook worker it killed is started again."""
    before = {s["id"] for s in _get(shared, "/v1/subscriptions")}
    yield shared
    shared.revive("webhook-worker")
    for sub in _get(shared, "/v1/subscriptions"):
        if sub["id"] not in before:
            requests.delete(f"{shared.url('ledger')}/v1/subscriptions/{sub['id']}",
                            headers=shared.auth("ledger-admin"), timeout=10).raise_for_status()


def _subscribe(stack: Stack, receiver: Receiver, path: str = "/hook",
               **body: Any) -> dict[str, Any]:
    response = requests.post(stack.url("ledger") + "/v1/subscriptions",
                             json={"url": receiver.url(path), **body},
                             headers=stack.auth("ledger-admin"), timeout=10)
    assert response.status_code == 201, response.text
    receiver.trust(path, response.json()["secret"])
    return dict(response.json())


def _get(stack: Stack, path: str) -> Any:
    """The items of one page of a ledger list."""
    response = requests.get(stack.url("ledger") + path, headers=stack.auth("ledger-admin"),
                            timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _wait(condition: Callable[[], bool], timeout: float, why: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, why
        time.sleep(0.1)


def test_a_subscriber_hears_of_each_involvement_signed_per_standard_webhooks(
    stack: Stack, receiver: Receiver
) -> None:
    before = stack.tree_size()
    sub = _subscribe(stack, receiver, areas=["recruitment"], **INSPECT_GRANT)
    _subscribe(stack, receiver, "/read", areas=["recruitment"])  # the default grant: read
    base = stack.url("recruitment")
    vacancy = record_vacancy(base, stack.auth("recruitment"))
    [involvement] = record_involvements(base, stack.auth("recruitment"), vacancy, 1)

    def entries() -> list[dict[str, Any]]:
        # Messages travel independently (docs/webhooks.md): order by seq, not by arrival.
        return sorted((e for r in receiver.at("/hook") for e in r.event["data"]["entries"]),
                      key=lambda e: e["seq"])

    _wait(lambda: len(entries()) >= 2, 40, stack.log("webhook-worker"))
    assert [e["seq"] for e in entries()] == [before + 1, before + 2]
    assert entries()[1]["event"]["data"]["involvement_id"] == involvement["id"]
    assert all(r.verified for r in receiver.at("/hook"))
    # The worker records the success after the receiver has answered: wait for it.
    _wait(lambda: {m["status"] for m in _get(stack, f"/v1/subscriptions/{sub['id']}/messages")}
          == {"succeeded"}, 10, "the successes were not recorded")
    messages = _get(stack, f"/v1/subscriptions/{sub['id']}/messages")
    log = _get(stack, f"/v1/subscriptions/{sub['id']}/attempts")
    assert [a["status"] for a in log] == [200] * len(messages)
    # The read grant hears of the same batches, and of nothing in them.
    _wait(lambda: max((r.event["data"]["last_seq"] for r in receiver.at("/read")), default=0)
          >= before + 2, 40, stack.log("webhook-worker"))
    for notice in receiver.at("/read"):
        assert notice.verified and "entries" not in notice.event["data"]
        assert involvement["pseudonym"].encode() not in notice.body


def test_a_webhook_worker_killed_mid_retry_loses_no_delivery(
    stack: Stack, receiver: Receiver
) -> None:
    sub = _subscribe(stack, receiver)
    # The first attempt fails; the retry hangs, and the worker is killed while it waits.
    receiver.script("/hook", Answer(503), Answer(500, delay=10))
    record_vacancy(stack.url("recruitment"), stack.auth("recruitment"))
    receiver.wait_for("/hook", 2, timeout=40)
    assert len(receiver.at("/hook")) == 2, stack.log("webhook-worker")
    stack.kill("webhook-worker")  # SIGKILL, in the middle of the retry
    [pending] = _get(stack, f"/v1/subscriptions/{sub['id']}/messages")
    assert (pending["status"], pending["attempts"]) == ("pending", 1)
    stack.start("webhook-worker")
    _wait(lambda: len(receiver.at("/hook")) >= 3, 45, stack.log("webhook-worker"))
    received = receiver.at("/hook")
    assert [r.answered for r in received] == [503, 500, 200]
    assert {r.id for r in received} == {pending["id"]}
    assert all(r.verified for r in received)
    _wait(lambda: _get(stack, f"/v1/subscriptions/{sub['id']}/messages")[0]["status"]
          == "succeeded", 10, "the success was not recorded")
    time.sleep(2)  # a stray task for the same message must not deliver it again
    assert len(receiver.at("/hook")) == 3
    log = _get(stack, f"/v1/subscriptions/{sub['id']}/attempts")
    assert [a["status"] for a in log] == [503, 200]  # the killed attempt left no row
