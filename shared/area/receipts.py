"""The ledger's receipt of an involvement the area recorded: the offline receipt
(services/ledger/receipts.py, a c2sp.org/tlog-proof file) of the CloudEvent that
recorded it, the organisation's and the citizen's proof that the record exists.

The area knows that event's source and id (it made it, and its outbox keeps it) and
asks the ledger's ``GET /v1/receipts`` for it over HTTP (``LADDER_LEDGER_URL``), with
an inspect token of the ledger's made for this (``LADDER_RECEIPTS_TOKEN``). A receipt
is handed on exactly as the ledger gave it. Any other answer becomes an error of the
area's own, in the one error shape; none of the ledger's body is passed on but the
reason it gives for a ``409``, read from its error shape.

Corrections and the withdrawal are events, and entries, of their own: this is the
receipt of the recording, which they never change.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import sqlalchemy as sa
import urllib3
from sqlalchemy.orm import Session

from shared import logs, text
from shared.area import Area
from shared.area.models import Involvement, Outbox
from shared.db import Database
from shared.envelope import INVOLVEMENT_RECORDED
from shared.errors import Conflict, NotFound, Unavailable

log = logging.getLogger(__name__)

# Seconds to connect, and then between bytes of the answer: the ledger finds the entry
# and proves it in milliseconds, and a caller should not wait long to hear it is away.
TIMEOUT = 5.0
# A receipt is a few hundred bytes, plus 44 a level of the tree and a line a witness.
MAX_BYTES = 64 * 1024
FIRST_LINE = b"c2sp.org/tlog-proof@v1\n"
DISPOSITION = re.compile(r'attachment; filename="ladder-[1-9][0-9]*\.tlog-proof"')
USER_AGENT = "Ladder-Receipts/1.0"
# The longest reason of the ledger's that a 409 passes on.
MAX_REASON = 500
TRY_AGAIN = "try again shortly."
NOT_CONFIGURED = (
    "Receipts are not configured: this service has no ledger token to ask for them. Set "
    "LADDER_RECEIPTS_TOKEN to an inspect token made with `ladder token create ledger "
    "--name receipts --scope inspect --purpose \"receipts for the organisation's own "
    "records\"`, and LADDER_LEDGER_URL to the ledger's URL if it is not on this machine.")
NOT_A_RECEIPT = "The ledger answered with what is not a receipt; tell its operator."
TOKEN_REFUSED = (
    "The ledger refused this service's receipts token (LADDER_RECEIPTS_TOKEN): it is "
    "wrong, revoked, or lacks ledger:inspect. Make one with `ladder token create ledger "
    "--name receipts --scope inspect --purpose \"receipts for the organisation's own "
    "records\"`.")


@dataclass(frozen=True)
class Receipt:
    """A .tlog-proof file as the ledger gave it, and the Content-Disposition naming it."""

    body: bytes
    disposition: str


@dataclass(frozen=True)
class RecordingEvent:
    """The CloudEvent that recorded an involvement, and where the outbox has it."""

    source: str
    id: str
    held: bool


class NotInLedger(Exception):
    """The ledger holds no entry of the event (``status`` 404), or cannot prove the one
    it holds (409, with the ledger's ``reason`` when it gave one it is fit to pass on)."""

    def __init__(self, status: int, reason: str | None = None) -> None:
        super().__init__(reason or f"the ledger answered {status}")
        self.status = status
        self.reason = reason


# Asks the ledger for the receipt of the event (source, id): the receipt, or
# NotInLedger, or Unavailable.
Fetch = Callable[[str, str], Receipt]


def involvement_receipt(db: Database, area: Area, involvement_id: str,
                        fetch: Fetch | None) -> Receipt:
    """The ledger's receipt of the event that recorded the involvement; ``fetch`` None:
    this service has no token to ask with."""
    with db.reading() as session:
        event = recording_event(session, area, involvement_id)
    if fetch is None:
        raise Unavailable(NOT_CONFIGURED)
    try:
        return fetch(event.source, event.id)
    except NotInLedger as exc:
        if exc.status != 404:
            # The ledger's reasons say whether to ask again (no checkpoint covers the entry
            # yet) or not (the entry was erased).
            raise Conflict(f"The ledger cannot give a receipt of involvement "
                           f"{involvement_id}: {exc.reason or TRY_AGAIN}") from exc
        if event.held:
            raise Conflict(f"The event that recorded involvement {involvement_id} is held "
                           "in this service's outbox, and reaches the ledger only once an "
                           "admin deals with it (GET /v1/outbox/held).") from exc
        raise Conflict(f"The ledger does not hold the event that recorded involvement "
                       f"{involvement_id} yet (the relay publishes it, and the ledger "
                       f"appends it, moments after it is recorded): {TRY_AGAIN}") from exc


def recording_event(session: Session, area: Area, involvement_id: str) -> RecordingEvent:
    """The event that recorded the involvement: named on its row, and in the outbox."""
    named = session.execute(sa.select(Involvement.recorded_event_id).where(
        Involvement.id == involvement_id)).one_or_none()
    if named is None:
        raise NotFound(f"No involvement {involvement_id}.")
    if named.recorded_event_id is None:
        # A row written by code before migration 0006, which that migration did not see.
        return _searched(session, area, involvement_id)
    row = session.execute(sa.select(Outbox.payload, Outbox.held_at).where(
        Outbox.event_id == named.recorded_event_id)).one_or_none()
    source = _source(row.payload) if row is not None else None
    return RecordingEvent(source or area.source, named.recorded_event_id,
                          row is not None and row.held_at is not None)


def _searched(session: Session, area: Area, involvement_id: str) -> RecordingEvent:
    """The recording event of an involvement whose row does not name it, from the
    outbox: the rows that mention it (its events), read through."""
    needle = f'"involvement_id":{json.dumps(involvement_id)}'
    rows = session.execute(sa.select(Outbox.event_id, Outbox.payload, Outbox.held_at)
                           .where(Outbox.payload.contains(needle, autoescape=True))
                           .order_by(Outbox.id))
    for row in rows:
        event = _event(row.payload)
        data = event.get("data")
        if event.get("type") == INVOLVEMENT_RECORDED and isinstance(data, dict) and (
                data.get("involvement_id") == involvement_id):
            return RecordingEvent(_source(row.payload) or area.source, row.event_id,
                                  row.held_at is not None)
    raise Conflict(f"This service's outbox holds no event that recorded involvement "
                   f"{involvement_id}, so there is nothing to ask the ledger about.")


def _event(payload: str) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError:
        return {}
    return event if isinstance(event, dict) else {}


def _source(payload: str) -> str | None:
    source = _event(payload).get("source")
    return source if isinstance(source, str) else None


def ledger(url: str, token: str) -> Fetch:
    """Ask the ledger at ``url`` for receipts with ``token``, over HTTP: what
    :func:`involvement_receipt` is handed."""

    def fetch(source: str, event_id: str) -> Receipt:
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/plain",
                   "User-Agent": USER_AGENT}
        request_id = logs.current_request_id()
        if request_id:
            headers[logs.REQUEST_ID_HEADER] = request_id
        where = f"{url}/v1/receipts"
        try:
            with requests.get(where, params={"source": source, "id": event_id},
                              headers=headers, timeout=TIMEOUT, stream=True,
                              allow_redirects=False) as response:
                status = response.status_code
                body = _read(response) if status in (200, 409) else b""
                disposition = response.headers.get("Content-Disposition", "")
                mimetype = response.headers.get("Content-Type", "").partition(";")[0]
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            # The exception names the URL and what failed, never the request's headers.
            log.warning("receipts: the ledger at %s did not answer: %s", where, exc)
            raise Unavailable("The ledger cannot be reached (LADDER_LEDGER_URL) to ask for "
                              f"the receipt: {TRY_AGAIN}") from exc
        if status == 200:
            if (body.startswith(FIRST_LINE) and mimetype.strip().lower() == "text/plain"
                    and DISPOSITION.fullmatch(disposition)):
                return Receipt(body, disposition)
            log.warning("receipts: the ledger at %s answered 200 with what is not a receipt",
                        where)
            raise Unavailable(NOT_A_RECEIPT)
        if status in (404, 409):
            raise NotInLedger(status, _reason(body))
        if status in (401, 403):
            log.warning("receipts: the ledger at %s refused the receipts token (%d)", where,
                        status)
            raise Unavailable(TOKEN_REFUSED)
        log.warning("receipts: the ledger at %s answered %d", where, status)
        raise Unavailable(f"The ledger could not give the receipt (it answered {status}): "
                          f"{TRY_AGAIN}")

    return fetch


def _read(response: requests.Response) -> bytes:
    """The answer's body, up to :data:`MAX_BYTES`: more is no receipt, nor error."""
    body = bytearray()
    for chunk in response.iter_content(16 * 1024):
        body += chunk
        if len(body) > MAX_BYTES:
            log.warning("receipts: the ledger at %s answered more than %d bytes",
                        response.url.partition("?")[0], MAX_BYTES)
            raise Unavailable(NOT_A_RECEIPT)
    return bytes(body)


def _reason(body: bytes) -> str | None:
    """The message of the ledger's error body, if it is one and fit to pass on."""
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        return None
    if not isinstance(message, str) or not message.strip() or text.problem(message):
        return None
    return message.strip()[:MAX_REASON]
