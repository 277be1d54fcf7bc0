"""The access log: every read of the ledger, who, what, when, from where and why.

Readers of the ``read`` tier see it redacted (docs/api.md, "Reader tiers"): who
read which route, when, and the answer, but not the query (an inspector's
``?pseudonym=`` is entry-level content), the address, the user agent or the purpose.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, render_template, request

from services.ledger.models import AccessLog
from shared.db import Database, current_db
from shared.errors import RETRY_AFTER_UNAVAILABLE, error_body
from shared.times import naive_utcnow

log = logging.getLogger(__name__)
ACCESS_LOG = cast(sa.Table, AccessLog.__table__)
UNLOGGED = ("dashboard.static", "tlog.HashTile")
NOT_SERVED = ("The read could not be recorded in the access log, so it is not served; "
              "try again shortly.")


def init_app(app: Flask) -> None:
    @app.after_request
    def _record(response: Response) -> Response:
        # Dashboard pages are reads too; their stylesheet is not, nor the public hash
        # tiles: static, immutable hashes that a CDN may serve (entry bundles are logged).
        if request.path.startswith(("/v1/", "/ct/", "/checkpoint", "/tile/", "/dashboard")) \
                and request.endpoint not in UNLOGGED:
            try:
                record(current_db(), getattr(g, "token_name", None),
                       " ".join(sorted(getattr(g, "scopes", ()))) or None, request.method,
                       request.full_path.rstrip("?"), response.status_code,
                       request.remote_addr, request.user_agent.string,
                       getattr(g, "purpose", None))
            except Exception:
                log.exception("could not write the access log for %s", request.path)
                # Every read by a named reader is logged (docs/api.md, "Reader tiers"): an
                # answer that could not be is not given. A refusal revealed nothing, and
                # an anonymous read is of what anyone may read: those answers stand.
                if getattr(g, "token_name", None) is not None and response.status_code < 400:
                    response.close()
                    return _not_served()
        return response


def _not_served() -> Response:
    body, headers = error_body(503, NOT_SERVED), {"Retry-After": str(RETRY_AFTER_UNAVAILABLE)}
    if request.path.startswith("/dashboard"):
        page = render_template("dashboard/error.html", error=body, title="503")
        return current_app.make_response((page, 503, headers))
    return current_app.make_response((body, 503, headers))


def record(db: Database, token_name: str | None, scopes: str | None, method: str, path: str,
           status: int, remote_addr: str | None, user_agent: str | None,
           purpose: str | None) -> None:
    # Only reads insert here, and nothing is looked up first, so a read never waits for
    # the writers' lock (the sequencer holds it through each append): on PostgreSQL one
    # statement, on SQLite a transaction that survives the process (Database.log_row).
    db.log_row(ACCESS_LOG, {
        "at": naive_utcnow(), "token_name": token_name, "scopes": scopes, "method": method,
        "path": path[:2000], "status": status, "remote_addr": remote_addr,
        "user_agent": (user_agent or "")[:300] or None, "purpose": purpose})


def _row(r: AccessLog, redacted: bool) -> dict[str, Any]:
    row = {"id": r.id, "at": r.at, "token_name": r.token_name, "scopes": r.scopes,
           "method": r.method, "path": r.path, "status": r.status,
           "remote_addr": r.remote_addr, "user_agent": r.user_agent, "purpose": r.purpose}
    if redacted:
        row.update(path=r.path.split("?", 1)[0], remote_addr=None, user_agent=None,
                   purpose=None)
    return row


def query(db: Database, after: int, limit: int, token_name: str | None,
          since: datetime | None, redacted: bool) -> list[dict[str, Any]]:
    """A page of the log, oldest first; ``redacted`` for a reader of the read tier."""
    stmt = sa.select(AccessLog).where(AccessLog.id > after)
    if token_name:
        stmt = stmt.where(AccessLog.token_name == token_name)
    if since:
        stmt = stmt.where(AccessLog.at >= since)
    with db.reading() as session:
        return [_row(r, redacted)
                for r in session.scalars(stmt.order_by(AccessLog.id).limit(limit))]
