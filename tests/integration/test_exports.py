"""The entries' CSV export, field by field, on both databases.

On PostgreSQL the server writes each line (services/ledger/exports.py); here both ways
meet the same rows: names with quotes, commas, line breaks and characters outside the
BMP, a unit named like a formula, fields that are empty and fields that are NULL, and an
erased entry, whose content and salt are gone but whose leaf hash stays.
"""

from __future__ import annotations

import base64
import csv
import functools
import io
import os
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from services.ledger import exports
from services.ledger.leaves import time_text
from services.ledger.models import Entry
from services.ledger.service import EntryQuery
from shared.db import make_engine
from tests.integration.conftest import MakeApp
from tests.integration.test_ledger_api import Ledger
from tests.support import events as ev

UNITS = ['ward "7", east', "line\nbreak\r\nand back", "ünït 🚑 \u2028", "=1+1", '""', ","]


def _ledger(make_app: MakeApp) -> Ledger:
    ledger = Ledger(make_app("ledger"))
    batch: list[dict[str, Any]] = [ev.activity("training", unit) for unit in UNITS]
    batch += [ev.involvement("training", n % 7 + 1, org_unit=unit, pseudonym=f"p{n}",
                             time="2026-02-01T09:00:00.000001Z")
              for n, unit in enumerate(UNITS)]
    ledger.append(batch)
    erased = ledger.http.post("/v1/entries/2/erasure", json={"ground": "consent-withdrawn"},
                              headers={"Authorization": f"Bearer {ledger.admin}"})
    assert erased.status_code == 200, erased.json
    return ledger


def _expected(ledger: Ledger) -> list[list[str]]:
    """Each entry's fields as the export must give them, from the table itself."""
    db = ledger.app.extensions["db"]
    with db.reading() as session:
        rows = session.execute(sa.select(
            Entry.seq, Entry.time, Entry.received_at, Entry.area, Entry.type, Entry.source,
            Entry.event_id, Entry.subject, Entry.org_unit, Entry.pseudonym, Entry.event,
            Entry.salt, Entry.leaf_hash).order_by(Entry.seq)).all()
    return [[str(r.seq), time_text(r.time), time_text(r.received_at), r.area, r.type, r.source,
             r.event_id, r.subject or "", r.org_unit or "", r.pseudonym or "", r.event or "",
             r.salt.hex() if r.salt else "", base64.b64encode(r.leaf_hash).decode()]
            for r in rows]


def test_the_csv_export_gives_every_field_as_stored(make_app: MakeApp) -> None:
    ledger = _ledger(make_app)
    text = ledger.get("/v1/exports/entries", format="csv").get_data(as_text=True)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    assert parsed[0] == list(exports.ENTRY_COLUMNS)
    expected = _expected(ledger)
    assert parsed[1:] == expected
    assert {row[8] for row in parsed[1:]} >= set(UNITS)
    erased = parsed[2]
    assert erased[0] == "2" and erased[10] == "" and erased[11] == ""
    assert len(base64.b64decode(erased[12])) == 32
    # Every field but seq, the times, the salt and the hash is quoted, NULL or not: a
    # spreadsheet cannot take "=1+1" for a formula, nor "007" for a number.
    for line in text.splitlines()[1:]:
        if line[:1].isdigit():
            fields = line.split(",", 4)
            assert fields[1].endswith("Z") and fields[3].startswith('"'), line


def test_each_database_writes_the_same_bytes(make_app: MakeApp) -> None:
    """The line the server builds on PostgreSQL is ``csv_line`` of the row, byte for byte;
    on SQLite ``csv_line`` is what runs."""
    ledger = _ledger(make_app)
    db = ledger.app.extensions["db"]
    body = b"".join(exports.entries_csv(db, EntryQuery(limit=None))).decode()
    with db.reading() as session:
        rows = session.execute(sa.select(
            Entry.seq, Entry.time, Entry.received_at, Entry.area, Entry.type, Entry.source,
            Entry.event_id, Entry.subject, Entry.org_unit, Entry.pseudonym, Entry.event,
            Entry.salt, Entry.leaf_hash).order_by(Entry.seq)).all()
    assert body == ",".join(exports.ENTRY_COLUMNS) + "\n" + "".join(map(exports.csv_line, rows))
    assert len(rows) == 2 * len(UNITS)


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                    reason="PostgreSQL's own CSV writer: set TEST_DATABASE_URL")
@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(st.characters(
    exclude_characters="\x00", exclude_categories=("Cs",)))),
                min_size=1, max_size=20))
def test_postgresql_quotes_any_text_as_python_does(values: list[str | None]) -> None:
    """Any text a field can hold (PostgreSQL's text holds no NUL nor lone surrogate,
    which UTF-8 cannot carry), and NULL, through COPY's CSV with the export's options,
    is ``_quoted`` of it."""
    engine = _postgresql()
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        for v in values:
            with driver.cursor() as cursor, cursor.copy(
                    "COPY (SELECT %s::text AS area) TO STDOUT WITH (FORMAT csv, "
                    "FORCE_QUOTE (area))", (v,)) as copy:
                written = b"".join(bytes(block) for block in copy).decode()
            assert written == exports._quoted(v) + "\n"


@functools.cache
def _postgresql() -> sa.Engine:
    return make_engine(os.environ["TEST_DATABASE_URL"])
