"""Browser sessions: an API token exchanged for a session, for a service's pages.

The browser holds a random session id (in a signed, Secure, HttpOnly cookie); the
service keeps only its hash, beside the hash of the token it was opened with. Every
request looks the session up together with its token, so a revoked token, an
ended session or an expired one loses access at once, and a cookie copied before
sign-out is worth nothing after it. The ledger's dashboard (read, inspect or admin
tokens) and each area's recording pages (write tokens) use it, each with its own
tables.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from shared.auth import allows, hash_token
from shared.db import Database
from shared.errors import DomainError
from shared.times import naive_utcnow


class SignInRefused(DomainError):
    """The token is unknown, revoked (401) or holds no tier these pages need (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Reader:
    """Who a session belongs to."""

    name: str
    scopes: frozenset[str]
    purpose: str | None
    service: str

    def may(self, verb: str) -> bool:
        return allows(set(self.scopes), self.service, verb)

    @property
    def is_admin(self) -> bool:
        return self.may("admin")

    @property
    def can_inspect(self) -> bool:
        """Reads entries (an inspector, an admin), not only figures."""
        return self.may("inspect")


def _id_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True)
class Sessions:
    """Sessions of one service's pages: its token and session tables, and the verb a
    token must grant (read for the dashboard, write for the recording pages)."""

    service: str
    verb: str
    token_model: Any
    session_model: Any
    # What a refused token is told it needs (403).
    needs: str

    def _reader(self, name: str, scopes: str, purpose: str | None,
                revoked_at: datetime | None) -> Reader | None:
        found = set(scopes.split())
        if revoked_at is not None or not allows(found, self.service, self.verb):
            return None
        return Reader(name, frozenset(found), purpose, self.service)

    def _columns(self) -> tuple[Any, ...]:
        model = self.token_model
        return (model.name, model.scopes, getattr(model, "purpose", sa.null()),
                model.revoked_at)

    def open(self, db: Database, pepper: str, token: str,
             lifetime: timedelta) -> tuple[str, Reader]:
        """Check ``token`` as the API does and open a session for it; return its id."""
        token_hash = hash_token(pepper, token.strip())
        now = naive_utcnow()
        with db.writing() as session:
            row = session.execute(sa.select(*self._columns()).where(
                self.token_model.token_hash == token_hash)).first()
            if row is None or row.revoked_at is not None:
                raise SignInRefused(401, "That token is not valid: it is unknown or revoked.")
            reader = self._reader(*row)
            if reader is None:
                raise SignInRefused(403, self.needs)
            # Sessions long past their end are of no use to anyone: clear them out here.
            session.execute(sa.delete(self.session_model).where(
                self.session_model.expires_at < now - timedelta(days=1)))
            session_id = secrets.token_urlsafe(32)
            session.add(self.session_model(id_hash=_id_hash(session_id),
                                           token_hash=token_hash, created_at=now,
                                           expires_at=now + lifetime))
        return session_id, reader

    def reader_of(self, db: Database, session_id: str) -> Reader | None:
        """The reader of a live session whose token is still valid, or None."""
        model = self.session_model
        with db.reading() as session:
            row = session.execute(
                sa.select(*self._columns())
                .join(model, model.token_hash == self.token_model.token_hash)
                .where(model.id_hash == _id_hash(session_id), model.ended_at.is_(None),
                       model.expires_at > naive_utcnow())).first()
        return None if row is None else self._reader(*row)

    def close(self, db: Database, session_id: str) -> None:
        """End a session: its cookie no longer signs anyone in, even if it was copied."""
        with db.writing() as session:
            session.execute(sa.update(self.session_model).where(
                self.session_model.id_hash == _id_hash(session_id),
                self.session_model.ended_at.is_(None)).values(ended_at=naive_utcnow()))


class SessionMixin:
    """The columns of a service's sessions table: the cookie holds the id; only its hash
    is kept."""

    id_hash: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    expires_at: Mapped[datetime] = mapped_column(sa.DateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)
