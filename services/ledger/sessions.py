"""Dashboard sessions: a read, inspect or admin token exchanged for a session.

The browser holds a random session id (in a signed, Secure, HttpOnly cookie); the
ledger keeps only its hash, beside the hash of the token it was opened with. Every
request looks the session up together with its token, so a revoked token, an
ended session or an expired one loses access at once, and a cookie copied before
sign-out is worth nothing after it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from services.ledger.models import ApiToken, DashboardSession
from shared.auth import allows, hash_token
from shared.db import Database
from shared.errors import DomainError
from shared.times import naive_utcnow

SERVICE = "ledger"


class SignInRefused(DomainError):
    """The token is unknown, revoked (401) or holds no ledger tier (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Reader:
    """Who a dashboard session belongs to."""

    name: str
    scopes: frozenset[str]
    purpose: str | None

    @property
    def is_admin(self) -> bool:
        return allows(set(self.scopes), SERVICE, "admin")

    @property
    def can_inspect(self) -> bool:
        """Reads entries (an inspector, an admin), not only figures."""
        return allows(set(self.scopes), SERVICE, "inspect")


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _reader(name: str, scopes: str, purpose: str | None,
            revoked_at: datetime | None) -> Reader | None:
    found = set(scopes.split())
    # Every tier includes read: read, inspect and admin tokens all sign in.
    if revoked_at is not None or not allows(found, SERVICE, "read"):
        return None
    return Reader(name, frozenset(found), purpose)


def open_session(db: Database, pepper: str, token: str, lifetime: timedelta) -> tuple[str, Reader]:
    """Check ``token`` as the API does and open a session for it; return its id."""
    token_hash = hash_token(pepper, token.strip())
    now = naive_utcnow()
    with db.writing() as session:
        row = session.execute(sa.select(ApiToken.name, ApiToken.scopes, ApiToken.purpose,
                                        ApiToken.revoked_at)
                              .where(ApiToken.token_hash == token_hash)).first()
        if row is None or row.revoked_at is not None:
            raise SignInRefused(401, "That token is not valid: it is unknown or revoked.")
        reader = _reader(row.name, row.scopes, row.purpose, row.revoked_at)
        if reader is None:
            raise SignInRefused(403, "That token cannot read the ledger: the dashboard needs "
                                     "a ledger:read, ledger:inspect or ledger:admin token.")
        # Sessions long past their end are of no use to anyone: clear them out here.
        session.execute(sa.delete(DashboardSession)
                        .where(DashboardSession.expires_at < now - timedelta(days=1)))
        session_id = secrets.token_urlsafe(32)
        session.add(DashboardSession(id_hash=_id_hash(session_id), token_hash=token_hash,
                                     created_at=now, expires_at=now + lifetime))
    return session_id, reader


def reader_of(db: Database, session_id: str) -> Reader | None:
    """The reader of a live session whose token is still valid, or None."""
    with db.reading() as session:
        row = session.execute(
            sa.select(ApiToken.name, ApiToken.scopes, ApiToken.purpose, ApiToken.revoked_at)
            .join(DashboardSession, DashboardSession.token_hash == ApiToken.token_hash)
            .where(DashboardSession.id_hash == _id_hash(session_id),
                   DashboardSession.ended_at.is_(None),
                   DashboardSession.expires_at > naive_utcnow())).first()
    return None if row is None else _reader(row.name, row.scopes, row.purpose,
                                            row.revoked_at)


def close_session(db: Database, session_id: str) -> None:
    """End a session: its cookie no longer signs anyone in, even if it was copied."""
    with db.writing() as session:
        session.execute(sa.update(DashboardSession)
                        .where(DashboardSession.id_hash == _id_hash(session_id),
                               DashboardSession.ended_at.is_(None))
                        .values(ended_at=naive_utcnow()))
