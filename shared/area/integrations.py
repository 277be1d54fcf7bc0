"""Managing webhook integrations: create, list, rotate a secret, revoke."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.area.models import Integration
from shared.db import Database
from shared.errors import Conflict, NotFound
from shared.times import naive_utcnow
from shared.webhooks import new_secret


def create_integration(db: Database, name: str) -> str:
    secret = new_secret()
    with db.writing() as session:
        if session.get(Integration, name) is not None:
            raise Conflict(f"Integration {name} already exists; rotate its secret instead.")
        session.add(Integration(name=name, secret=secret, created_at=naive_utcnow()))
    return secret


def rotate_integration(db: Database, name: str) -> str:
    """The new secret becomes current; the old one stays valid, so senders can switch."""
    secret = new_secret()
    with db.writing() as session:
        integration = session.get(Integration, name)
        if integration is None:
            raise NotFound(f"No integration {name}.")
        integration.previous_secret = integration.secret
        integration.secret = secret
        integration.rotated_at = naive_utcnow()
    return secret


def list_integrations(db: Database) -> list[dict[str, Any]]:
    """Every integration, by name: when made and last rotated; never a secret."""
    with db.reading() as session:
        return [{"name": i.name, "created_at": i.created_at, "rotated_at": i.rotated_at}
                for i in session.scalars(sa.select(Integration).order_by(Integration.name))]


def revoke_integration(db: Database, name: str) -> None:
    """Delete the integration and both its secrets: its webhooks are refused from now on
    (401), and the name may be created again with a new secret."""
    with db.writing() as session:
        integration = session.get(Integration, name)
        if integration is None:
            raise NotFound(f"No integration {name}.")
        session.delete(integration)
