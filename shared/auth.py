"""Bearer API tokens with scopes, stored hashed.

A scope is ``<service>:<verb>``: ``recruitment:read``, ``recruitment:write``,
``recruitment:admin``; on the ledger ``ledger:read``, ``ledger:inspect`` and
``ledger:admin`` (docs/api.md, "Reader tiers"). A token is shown once, when it is
created.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import flask_smorest
import sqlalchemy as sa
from flask import current_app, g, request
from sqlalchemy.orm import Mapped, mapped_column

from shared import text
from shared.config import DOMAIN_SERVICES
from shared.db import Database
from shared.errors import fail
from shared.times import naive_utcnow

TOKEN_PREFIX = "ldr_"
INSPECT = "inspect"
# The verbs each service's tokens can hold, declared once. Only the ledger has
# inspect: entry-level reads, for a stated purpose; its read is aggregates only.
SCOPE_VERBS: dict[str, tuple[str, ...]] = {
    **{name: ("read", "write", "admin") for name in DOMAIN_SERVICES},
    "ledger": ("read", INSPECT, "admin"),
}
VERBS = tuple(dict.fromkeys(verb for verbs in SCOPE_VERBS.values() for verb in verbs))
# What holding a verb grants besides itself. Write does not include read: a system
# that reports involvement need not read it back.
INCLUDES = {"admin": ("read", INSPECT, "write"), INSPECT: ("read",)}
# Why an inspect token, or an inspect grant, reads entries: required, kept with it,
# and written to the access log with every read it makes.
PURPOSE_MAX = 500
PURPOSE_REQUIRED = ("An inspect token or grant must state its purpose: why it reads "
                    "entries, e.g. the inspection and data-sharing agreement it serves.")


class TokenMixin:
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scopes: Mapped[str] = mapped_column(sa.String(1000))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime, nullable=True)


def hash_token(pepper: str, token: str) -> str:
    return hmac.new(pepper.encode(), token.encode(), hashlib.sha256).hexdigest()


def purpose_problem(purpose: str | None, inspects: bool) -> str | None:
    """Why ``purpose`` cannot go with a token or grant, or None; ``inspects``: it reads
    entries, so it must state one."""
    if purpose is None:
        return PURPOSE_REQUIRED if inspects else None
    why = text.problem(purpose)
    if why:
        return why
    if not purpose.strip() or len(purpose) > PURPOSE_MAX:
        return f"A purpose is 1 to {PURPOSE_MAX} characters, not only spaces."
    return None


def _purpose(row: Any) -> str | None:
    # Only the ledger's tokens have the column: inspect, which needs it, is the ledger's.
    return getattr(row, "purpose", None)


def create_token(db: Database, model: Any, pepper: str, name: str,
                 scopes: Iterable[str], purpose: str | None = None) -> str:
    """Store a new token's hash and return the token itself, the only time it is seen."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    # Passed only when given, so that a purpose for a model without one is a TypeError.
    stated = {"purpose": purpose} if purpose is not None else {}
    with db.writing() as session:
        session.add(model(name=name, token_hash=hash_token(pepper, token),
                          scopes=" ".join(sorted(set(scopes))),
                          created_at=naive_utcnow(), **stated))
    return token


@dataclass(frozen=True)
class Holder:
    """Who a live token belongs to, what it may do, and why it reads (if it says)."""

    name: str
    scopes: frozenset[str]
    purpose: str | None


@functools.cache
def _lookup(model: Any) -> sa.Select[Any]:
    """The columns a request's token check reads, by the token's hash: built once per
    model, and read as plain rows, not ORM objects (every request asks it)."""
    columns = [model.name, model.scopes, model.revoked_at]
    if hasattr(model, "purpose"):
        columns.append(model.purpose)
    return sa.select(*columns).where(model.token_hash == sa.bindparam("token_hash"))


def holder(db: Database, model: Any, pepper: str, token: str) -> Holder | None:
    """The holder of a live token, or None."""
    with db.looking_up() as connection:
        row = connection.execute(_lookup(model), {"token_hash": hash_token(pepper, token)}
                                 ).first()
    if row is None or row.revoked_at is not None:
        return None
    return Holder(row.name, frozenset(row.scopes.split()), _purpose(row))


def allows(scopes: Iterable[str], service: str, verb: str) -> bool:
    """Whether ``scopes`` grant ``<service>:<verb>``: ``admin`` includes every verb,
    ``inspect`` includes ``read``; a verb the service does not have grants nothing."""
    held = set(scopes)
    return any(f"{service}:{own}" in held and (own == verb or verb in INCLUDES.get(own, ()))
               for own in SCOPE_VERBS.get(service, ()))


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

        # Document the requirement in OpenAPI, with flask-smorest's own @blp.doc. Bearer
        # schemes carry no scopes in OpenAPI 3.0: x-scope names the verb for clients and tests.
        document = flask_smorest.Blueprint.doc(
            security=[{"bearerAuth": []}], **{"x-scope": verb},
            responses={"401": {"description": "No valid bearer token"},
                       "403": {"description": f"The token lacks the {verb} scope"}})
        return cast(Callable[..., Any], document(guarded))

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
    # What the access log records of the request, refused or not.
    g.token_name, g.scopes, g.purpose = found.name, set(found.scopes), found.purpose
    service = current_app.config["SERVICE_NAME"]
    if not allows(g.scopes, service, verb):
        fail(403, message=f"This token lacks the scope {service}:{verb}.")


def may(verb: str) -> bool:
    """Whether the request's token grants ``verb`` on this service."""
    return allows(getattr(g, "scopes", set()), current_app.config["SERVICE_NAME"], verb)


def is_admin() -> bool:
    return may("admin")


def list_tokens(db: Database, model: Any) -> list[dict[str, Any]]:
    with db.reading() as session:
        rows = session.scalars(sa.select(model).order_by(model.id))
        return [{"id": t.id, "name": t.name, "scopes": t.scopes.split(),
                 "purpose": _purpose(t), "created_at": t.created_at,
                 "revoked_at": t.revoked_at} for t in rows]


def revoke_token(db: Database, model: Any, token_id: int | None = None,
                 name: str | None = None) -> int:
    """Revoke by id or by name; returns how many tokens were revoked."""
    with db.writing() as session:
        stmt = sa.update(model).where(model.revoked_at.is_(None))
        stmt = stmt.where(model.id == token_id) if token_id is not None else stmt.where(
            model.name == name)
        result = session.execute(stmt.values(revoked_at=naive_utcnow()))
        return int(getattr(result, "rowcount", 0) or 0)
