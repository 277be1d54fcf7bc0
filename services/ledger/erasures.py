"""Erasing an entry's content on a recorded ground, keeping its leaf hash, so that every
proof and every signed tree head still verifies (docs/ledger-format.md, "Erasure").

The entry's event, salt, subject and pseudonym go; its seq, source and id stay, so that
the same event sent again is a duplicate and is not recorded a second time, and so do
its area, type, unit and times, which say nothing of a person. Then the ledger's
database is scrubbed (shared/scrub.py), so that the old row is not left in its files.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import sqlalchemy as sa

from services.ledger import leaves
from services.ledger.models import Entry, Erasure
from shared.db import Database
from shared.errors import NotFound
from shared.grounds import GROUNDS
from shared.scrub import WAIT, scrub
from shared.times import naive_utcnow

log = logging.getLogger(__name__)

def erase(db: Database, seq: int, ground: str, reference: str | None, by: str,
          wait: float = WAIT) -> dict[str, Any]:
    """Erase entry ``seq``; erasing it again changes nothing and scrubs again, which
    finishes a scrub that an open reader held up the first time."""
    assert ground in GROUNDS
    with db.writing() as session:
        entry = session.get(Entry, seq)
        if entry is None:
            raise NotFound(f"The ledger has no entry {seq}.")
        erasure = session.get(Erasure, seq)
        if erasure is None:
            line = None if entry.event is None else leaves.line(
                entry.seq, entry.received_at, entry.event, entry.salt)
            erasure = Erasure(
                seq=seq, ground=ground, reference=reference, erased_at=naive_utcnow(),
                erased_by=by,
                commitment=hashlib.sha256(line).digest() if line and entry.salt else None)
            session.add(erasure)
            entry.event = entry.salt = entry.subject = entry.pseudonym = None
        record = as_json(erasure)
    outcome = scrub({"ledger": db}, "entries", wait)["ledger"]
    incomplete = outcome if isinstance(outcome, list) else [
        f"The database failed: {str(outcome).splitlines()[0]}"]
    if incomplete:
        log.warning("the erasure of entry %d left a scrub incomplete: %s", seq,
                    "; ".join(incomplete))
    return {**record, "scrub": {"complete": not incomplete, "incomplete_because": incomplete}}


def as_json(erasure: Erasure) -> dict[str, Any]:
    return {"seq": erasure.seq, "ground": erasure.ground, "reference": erasure.reference,
            "erased_at": erasure.erased_at, "erased_by": erasure.erased_by,
            "format": 1 if erasure.commitment is None else 2}


def listed(db: Database, after: int, limit: int) -> list[dict[str, Any]]:
    with db.reading() as session:
        return [as_json(e) for e in session.scalars(
            sa.select(Erasure).where(Erasure.seq > after).order_by(Erasure.seq).limit(limit))]
