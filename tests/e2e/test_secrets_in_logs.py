"""Secrets, tokens and citizens' references never reach a log of a real run."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import requests
from standardwebhooks import Webhook

from services.ledger.models import ApiToken as LedgerToken
from shared.area.integrations import create_integration
from shared.auth import create_token
from shared.config import load
from shared.db import Database
from tests.e2e.conftest import Stack
from tests.support.areas import ACTIVITIES, involvement
from tests.support.databases import DEPLOYED


# On the database docker-compose deploys: what the processes log does not hang on the
# database they write to.
@pytest.mark.parametrize("backend", DEPLOYED)
def test_no_secret_or_token_appears_in_any_log(make_stack: Callable[..., Stack]) -> None:
    marker = uuid.uuid4().hex
    stack = make_stack(LADDER_LOG_LEVEL="DEBUG", LADDER_PSEUDONYM_KEY=f"pseudonym-key-{marker}",
                       LADDER_TOKEN_PEPPER=f"token-pepper-{marker}")
    base, auth = stack.url("recruitment"), stack.auth("recruitment")
    db = Database(stack.env["RECRUITMENT_DATABASE_URL"])
    secret = create_integration(db, "hr-system")
    db.dispose()
    citizens = [f"CIT-{marker[:8]}-{n}" for n in range(3)]

    # REST with a bearer token; a signed webhook; a forged one; erasure by an admin.
    vacancy = requests.post(f"{base}/v1/vacancies", json=ACTIVITIES["recruitment"],
                            headers=auth, timeout=10).json()["id"]
    assert requests.post(f"{base}/v1/vacancies/{vacancy}/involvements", headers=auth,
                         json=involvement("recruitment", citizens[0]), timeout=10).ok
    body = json.dumps({"type": "involvement.recorded", "data": {
        "activity_id": vacancy, **involvement("recruitment", citizens[1])}})
    msg_id, now = f"msg_{marker}", datetime.now(UTC)
    signed = {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
              "webhook-signature": Webhook(secret).sign(msg_id, now, body),
              "Content-Type": "application/json"}
    assert requests.post(f"{base}/v1/webhooks/hr-system", data=body, headers=signed,
                         timeout=10).status_code == 202
    forged = {**signed, "webhook-id": f"msg_{marker}-2"}
    assert requests.post(f"{base}/v1/webhooks/hr-system", data=body, headers=forged,
                         timeout=10).status_code == 401
    erased = requests.post(f"{base}/v1/citizens/erasure", json={"citizen_ref": citizens[2]},
                           headers=auth, timeout=30)
    assert erased.status_code == 200 and erased.json()["found"] is False
    # A token of one service offered to another; a ledger token made through the API.
    assert requests.get(f"{stack.url('training')}/v1/sessions", headers=auth,
                        timeout=10).status_code == 401
    ledger = Database(stack.env["LEDGER_DATABASE_URL"])
    admin = create_token(ledger, LedgerToken, load("ledger", stack.env)["TOKEN_PEPPER"], "ops",
                         ["ledger:admin"])
    ledger.dispose()
    made = requests.post(f"{stack.url('ledger')}/v1/tokens", json={
        "name": "cqc", "scopes": ["ledger:inspect"], "purpose": "reading entries, logging none"},
        headers={"Authorization": f"Bearer {admin}"}, timeout=10).json()["token"]
    assert requests.get(f"{stack.url('ledger')}/v1/entries?limit=5",
                        headers={"Authorization": f"Bearer {made}"}, timeout=10).ok
    assert len(stack.wait_for_entries(3)) >= 3

    stack.stop()
    logs = {path.name: path.read_text(errors="replace")
            for path in stack.directory.rglob("*.log")}
    assert {"recruitment.log", "ledger.log", "ledger-worker.log", "relay.log"} <= set(logs)
    # The logs did record the run: requests, refusals and appends.
    assert "POST /v1/webhooks/hr-system" in logs["recruitment.log"]
    assert "ledger appended a batch" in logs["ledger-worker.log"]
    key = secret.removeprefix("whsec_")
    secrets = {
        "webhook secret": key,
        "webhook secret (hex)": base64.b64decode(key).hex(),
        "pseudonym key": f"pseudonym-key-{marker}",
        "token pepper": f"token-pepper-{marker}",
        "ledger admin token": admin.removeprefix("ldr_"),
        "ledger token made through the API": made.removeprefix("ldr_"),
        **{f"{s} token": t.removeprefix("ldr_") for s, t in stack.tokens.items()},
        **{f"citizen reference {c}": c for c in citizens},
    }
    leaks = [f"{what} in {name}" for what, value in secrets.items()
             for name, text in logs.items() if value in text]
    assert leaks == []
