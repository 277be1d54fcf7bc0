"""Scheduled publication: a worker bootstep that releases each period once it has ended.

With ``LADDER_PUBLISH_SCHEDULE`` set to month, quarter or year, the webhook worker
checks every hour and publishes every period of that kind that ended at least
``LADDER_PUBLISH_DELAY_DAYS`` ago and has no release yet (``ladder publish --due``
does the same once). Several workers may check at once: a period's first release
is unique in the database, so only one of them publishes it.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from celery import bootsteps
from flask import Flask

from services.ledger import releases
from shared.celery_app import every
from shared.errors import Conflict
from shared.times import naive_utcnow

log = logging.getLogger(__name__)

EVERY = 3600.0


def publish_due(app: Flask) -> list[dict[str, Any]]:
    """Publish every due period of the scheduled kind; the releases made."""
    kind = app.config["PUBLISH_SCHEDULE"]
    if not kind:
        return []
    db, control = app.extensions["db"], app.extensions["disclosure"]
    now = naive_utcnow()
    made = []
    for period in releases.due(db, kind, now.date(), app.config["PUBLISH_DELAY_DAYS"]):
        try:
            made.append(releases.publish(db, control, period, now))
        except releases.MeasuresBehind as exc:
            log.warning("%s is not released yet: %s", period, exc.message)
        except (Conflict, sa.exc.IntegrityError):
            log.info("%s was released meanwhile, by another worker", period)
    return made


def publisher(app: Flask) -> type[bootsteps.StartStopStep] | None:
    """A worker bootstep that runs ``publish_due`` every hour, if publication is scheduled."""
    if not app.config["PUBLISH_SCHEDULE"]:
        return None

    def run() -> None:
        try:
            for release in publish_due(app):
                log.info("published release %d of %s at tree size %d", release["id"],
                         release["period"], release["tree_head"]["tree_size"])
        except Exception:
            log.exception("scheduled publication failed; trying again in an hour")

    log.info("publishing each %s an hour after it is due", app.config["PUBLISH_SCHEDULE"])
    return every(EVERY, run)
