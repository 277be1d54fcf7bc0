"""Erasing a citizen in every area at once: afterwards nothing links their reference to
their contributions, in any area's database or on its disk.

In each area, the rows linked to the reference are deleted: the one any variant of it
finds (rule 2), and those rule 1 may have kept under its obvious forms
(:func:`shared.area.references.recorded_forms`). Then the database is scrubbed
(shared/scrub.py). The contributions stay, and keep counting, under a pseudonym that
nothing leads to any more.

Every step is safe to repeat. An area whose database fails does not stop the others;
the erasure then raises :class:`Unavailable` naming it, and the same request again
finishes the job: rows already deleted are not found, and the scrub runs again, so a
scrub an earlier attempt could not complete completes now.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from shared.area import references
from shared.area.models import Citizen, Involvement
from shared.db import KEYS, Database
from shared.errors import Unavailable
from shared.scrub import WAIT, scrub

log = logging.getLogger(__name__)


@contextmanager
def opened(urls: Mapping[str, str]) -> Iterator[dict[str, Database]]:
    """Every area's database, by area, closed afterwards.

    Erasure is rare: no process keeps connections to every area's database for it.
    """
    databases = {area: Database(url) for area, url in urls.items()}
    try:
        yield databases
    finally:
        for db in databases.values():
            db.dispose()


def erase_citizen(databases: Mapping[str, Database], key: str, citizen_ref: str,
                  wait: float = WAIT) -> dict[str, Any]:
    """Erase the citizen in each area's database; what was found and scrubbed, by area.

    The rows go in every area first, then every database is scrubbed at once: areas on
    one PostgreSQL server wait once for older transactions, and checkpoint once.
    """
    unlinked: dict[str, tuple[bool, int]] = {}
    failed: dict[str, list[str]] = {}
    for area, db in databases.items():
        try:
            unlinked[area] = _unlink(db, key, citizen_ref)
        except sa.exc.SQLAlchemyError as exc:
            failed[area] = _failed(area, exc)
    scrubbed = scrub({area: databases[area] for area in unlinked}, "citizens", wait)
    areas: dict[str, dict[str, Any]] = {}
    for area, (found, contributions) in unlinked.items():
        incomplete = scrubbed[area]
        if not isinstance(incomplete, list):
            failed[area] = _failed(area, incomplete)
            continue
        if incomplete:
            log.warning("erasure in %s left a scrub incomplete: %s", area,
                        "; ".join(incomplete), extra={"area": area})
        areas[area] = {"found": found, "contributions_unlinked": contributions,
                       "scrub": {"complete": not incomplete, "incomplete_because": incomplete}}
    if failed:
        failed = {area: failed[area] for area in databases if area in failed}
        done = f" It is done in {', '.join(areas)}." if areas else ""
        raise Unavailable(f"The erasure failed in {', '.join(failed)}.{done} Erasing the same "
                          "reference again finishes it.", errors=failed)
    return {"found": any(a["found"] for a in areas.values()),
            "contributions_unlinked": sum(a["contributions_unlinked"] for a in areas.values()),
            "scrubbed": all(a["scrub"]["complete"] for a in areas.values()),
            "areas": areas}


def _failed(area: str, exc: sa.exc.SQLAlchemyError) -> list[str]:
    why = str(exc).splitlines()[0]
    log.warning("erasure failed in %s: %s", area, why, extra={"area": area})
    return [f"Its database failed: {why}"]


def _unlink(db: Database, key: str, citizen_ref: str) -> tuple[bool, int]:
    """Delete the rows linked to the reference: (whether any was, contributions they had)."""
    # Each lookup with the form it was made of: a row's pseudonym is made of the same.
    forms = {references.lookup(key, form): form
             for form in references.recorded_forms(citizen_ref)}
    with db.writing() as session:
        rows = session.execute(
            sa.select(Citizen.lookup, Citizen.salt, Citizen.pseudonym)
            .where(Citizen.lookup.in_(KEYS)), {"keys": sorted(forms)}).all()
        if not rows:
            return False, 0
        pseudonyms = [row.pseudonym or references.pseudonym(key, str(row.salt),
                                                            forms[row.lookup])
                      for row in rows]
        unlinked = session.scalar(
            sa.select(sa.func.count()).select_from(Involvement)
            .where(Involvement.pseudonym.in_(KEYS)), {"keys": pseudonyms}) or 0
        session.execute(sa.delete(Citizen).where(Citizen.lookup.in_(KEYS)),
                        {"keys": [row.lookup for row in rows]})
    return True, int(unlinked)
