"""Bearer API tokens with scopes, stored hashed.

A scope is ``<service>:<verb>``: ``recruitment:read``, ``recruitment:write``,
``recruitment:admin``. A token is shown once, when it is created.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from flask import current_app, g, request
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Database
from shared.errors import fail

TOKEN_PREFIX = "ldr_"
VERBS = ("read", "write", "admin")


class TokenMixin:
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[str] = mapped_column(sa.String(1000))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)


def create_token_table() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
    )


def hash_token(pepper: str, token: str) -> str:
    return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()


def create_token(db: Database, model: Any, pepper: str, name: str,
                 scopes: Iterable[str]) -> str:
    """Store a new token's hash and return the token itself, the only time it is seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.writing() as session:
        session.add(model(name=name, token_hash=hash_token(pepper, token),
                          scopes=" ".join(sorted(set(scopes))),
                          created_at=datetime.now(UTC).replace(tzinfo=None)))
    return token


def holder(db: Database, model: Any, pepper: str, token: str) -> tuple[str, set[str]] | None:
    """The name and scopes of a live token, or None."""
    with db.reading() as session:
        row = session.execute(
            sa.select(model.name, model.scopes, model.revoked_at)
            .where(model.token_hash == hash_token(pepper, token))
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    return row.name, set(row.scopes.split())


def allows(scopes: set[str], service: str, verb: str) -> bool:
    """``admin`` includes ``write`` and ``read``; ``write`` does not include ``read``."""
    return f"{service}:{verb}" in scopes or f"{service}:admin" in scopes


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def require(verb: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let the view run only for a token holding ``<service>:<verb>`` (401, then 403)."""
    assert verb in VERBS

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            authenticate(verb)
            return view(*args, **kwargs)

        # Document the requirement in OpenAPI, as flask-smorest's @blp.doc would.
        doc = dict(getattr(guarded, "_apidoc", {}))
        manual = dict(doc.get("manual_doc", {}))
        manual["security"] = [{"bearerAuth": []}]
        # Bearer schemes carry no scopes in OpenAPI 3.0; name the verb for clients and tests.
        manual["x-scope"] = verb
        responses = dict(manual.get("responses", {}))
        responses.setdefault("401", {"description": "No valid bearer token"})
        responses.setdefault("403", {"description": f"The token lacks the {verb} scope"})
        manual["responses"] = responses
        doc["manual_doc"] = manual
        guarded._apidoc = doc  # type: ignore[attr-defined]
        return guarded

    return decorate


def authenticate(verb: str) -> None:
    challenge = {"WWW-Authenticate": 'Bearer realm="ladder"'}
    token = _bearer()
    if token is None:
        fail(401, message="A bearer token is required.", headers=challenge)
    assert token is not None
    ext = current_app.extensions
    found = holder(ext["db"], ext["token_model"], current_app.config["TOKEN_PEPPER"], token)
    if found is None:
        fail(401, message="The bearer token is not valid.", headers=challenge)
    g.token_name, g.scopes = found
    service = current_app.config["SERVICE_NAME"]
    if not allows(g.scopes, service, verb):
        fail(403, message=f"This token lacks the scope {service}:{verb}.")


def is_admin() -> bool:
    return allows(getattr(g, "scopes", set()), current_app.config["SERVICE_NAME"], "admin")


def list_tokens(db: Database, model: Any) -> list[dict[str, Any]]:
    with db.reading() as session:
        rows = session.scalars(sa.select(model).order_by(model.id))
        return [{"id": t.id, "name": t.name, "scopes": t.scopes.split(),
                 "created_at": t.created_at, "revoked_at": t.revoked_at} for t in rows]


def revoke_token(db: Database, model: Any, token_id: int | None = None,
                 name: str | None = None) -> int:
    """Revoke by id or by name; returns how many tokens were revoked."""
    with db.writing() as session:
        stmt = sa.update(model).where(model.revoked_at.is_(None))
        stmt = stmt.where(model.id == token_id) if token_id is not None else stmt.where(
            model.name == name)
        result = session.execute(stmt.values(revoked_at=datetime.now(UTC).replace(tzinfo=None)))
        return int(getattr(result, "rowcount", 0) or 0)
