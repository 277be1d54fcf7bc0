"""Signed webhooks per Standard Webhooks: verifying those that come in, with receipts that
make replays harmless, and signing those that Ladder sends out.

Each integration (an HR system, an LMS, a quality tool) has its own ``whsec_``
secret; during rotation the previous one stays valid too. ``webhook-id`` is the
idempotency key: the answer to the first delivery is stored in the same
transaction as its effect, and a replay gets that answer back.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from standardwebhooks import Webhook


class IntegrationMixin:
    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    secret: Mapped[str] = mapped_column(sa.String(200))
    previous_secret: Mapped[str | None] = mapped_column(sa.String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    rotated_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)


class ReceiptMixin:
    key: Mapped[str] = mapped_column(sa.String(600), primary_key=True)
    status: Mapped[int] = mapped_column(sa.Integer)
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)


RECEIPT_KEY_MAX = 600


def receipt_key(*parts: str) -> str:
    """The key a delivery's answer is stored under; a digest when the parts are too long.

    Ids and sources are the sender's (CloudEvents allows 512 characters each), so
    the joined key may not fit the column: its SHA-256 stands for it then.
    """
    key = ":".join(parts)
    if len(key) <= RECEIPT_KEY_MAX:
        return key
    return f"{parts[0]}:sha256:" + hashlib.sha256(key.encode()).hexdigest()


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class WebhookSignatureInvalid(Exception):
    """Missing, malformed, stale or wrong signature headers."""


def verify(secrets_: list[str], body: bytes, headers: dict[str, str]) -> None:
    """Check the signature with each valid secret; the library checks the 5-minute window."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        if not lowered.get(name):
            raise WebhookSignatureInvalid(f"missing {name} header")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookSignatureInvalid("body is not UTF-8") from exc
    last: Exception | None = None
    # No secret (an unknown integration): check against a throwaway one, so that the work
    # done and the answer given are a wrong signature's.
    for secret in secrets_ or [new_secret()]:
        try:
            Webhook(secret).verify(text, lowered, json_parse=False)
            return
        except Exception as exc:  # the library raises several kinds on malformed headers
            last = exc
    raise WebhookSignatureInvalid(str(last) if last else "no secret configured")


def signature_headers(secrets_: list[str], msg_id: str, timestamp: int,
                      body: str) -> dict[str, str]:
    """The Standard Webhooks headers of an outgoing message, signed with each secret.

    Several secrets give several space-separated ``v1,`` signatures: while a secret is
    being rotated a receiver that knows either the old or the new one can verify.
    """
    when = datetime.fromtimestamp(timestamp, UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(Webhook(s).sign(msg_id, when, body)
                                          for s in secrets_)}
