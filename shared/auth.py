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


def scopes_for(db: Database, model: Any, pepper: str, token: str) -> set[str] | None:
    with db.reading() as session:
        row = session.execute(
            sa.select(model.scopes, model.revoked_at)
            .where(model.token_hash == hash_token(pepper, token))
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    return set(row.scopes.split())


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
    ext = current_app.extensions
    scopes = scopes_for(ext["db"], ext["token_model"], current_app.config["TOKEN_PEPPER"],
                        str(token))
    if scopes is None:
        fail(401, message="The bearer token is not valid.", headers=challenge)
    needed = f"{current_app.config['SERVICE_NAME']}:{verb}"
    if needed not in (scopes or set()):
        fail(403, message=f"This token lacks the scope {needed}.")
    g.scopes = scopes
