"""Streamed exports: entries as CSV or NDJSON, in constant memory, and measures as CSV."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from services.ledger.leaves import erased_line, line, time_text
from services.ledger.models import Entry
from services.ledger.service import EntryQuery, entries_statement
from shared.db import Database
from shared.spreadsheets import spreadsheet_safe

ENTRY_COLUMNS = ("seq", "time", "received_at", "area", "type", "source", "id", "subject",
                 "org_unit", "pseudonym", "event", "salt", "leaf_hash")
CHUNK = 2000


def _text(db: Database, column: Any) -> Any:
    """A time column as the text SQLite stores it, 'YYYY-MM-DD HH:MM:SS.ffffff' (which
    ``time_text`` takes as it is): read raw on SQLite, written so by PostgreSQL's server.
    Parsing a datetime per row, and formatting it again, would slow the export."""
    if db.engine.dialect.name == "postgresql":
        return sa.func.to_char(column, "YYYY-MM-DD HH24:MI:SS.US")
    return sa.type_coerce(column, sa.String)


def _statement(db: Database, query: EntryQuery) -> sa.Select[Any]:
    return entries_statement(query, columns=(
        Entry.seq, _text(db, Entry.time).label("time"),
        _text(db, Entry.received_at).label("received_at"), Entry.area,
        Entry.type, Entry.source, Entry.event_id, Entry.subject, Entry.org_unit,
        Entry.pseudonym, Entry.event, Entry.salt, Entry.leaf_hash))


def _stream(db: Database, stmt: sa.Select[Any]) -> Iterator[Sequence[sa.Row[Any]]]:
    """The statement's rows, CHUNK at a time."""
    with db.streaming() as session:
        # Core execution: the ORM's per-row bookkeeping halved the rate, for nothing here.
        result = session.connection().execution_options(yield_per=CHUNK).execute(stmt)
        yield from result.partitions()


def _iso(value: Any) -> str:
    return time_text(value) if value is not None else ""


def _quoted(value: str | None) -> str:
    """One RFC 4180 field: quoted, with inner quotes doubled; None is the empty field."""
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def csv_line(row: Any) -> str:
    """One entry as a CSV line, from the columns ``_statement`` reads."""
    q = _quoted
    (seq, time, received_at, area, type_, source, event_id, subject, org_unit, pseudonym,
     event, salt, leaf_hash) = row
    return (f"{seq},{_iso(time)},{_iso(received_at)},{q(area)},{q(type_)},"
            f"{q(source)},{q(event_id)},{q(subject)},{q(org_unit)},{q(pseudonym)},"
            f"{q(event)},{salt.hex() if salt else ''},"
            f"{base64.b64encode(leaf_hash or b'').decode()}\n")


# The columns every non-NULL value of which is quoted: all but seq, the times (RFC 3339),
# the salt (hex) and the leaf hash (base64), in which nothing needs quoting.
QUOTED = ("area", "type", "source", "id", "subject", "org_unit", "pseudonym", "event")


def _copy(db: Database, query: EntryQuery) -> Iterator[bytes]:
    """``csv_line`` of each entry, written by PostgreSQL's own CSV writer (``COPY ... TO
    STDOUT``), in blocks of about a megabyte: no value of a row becomes a Python object.
    Its CSV is this export's: every non-NULL value of a ``FORCE_QUOTE`` column quoted,
    inner quotes doubled, NULL the empty field, lines ended by LF.
    tests/integration/test_exports.py checks that both give the same bytes."""
    iso = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'
    values = (
        Entry.seq, sa.func.to_char(Entry.time, iso), sa.func.to_char(Entry.received_at, iso),
        Entry.area, Entry.type, Entry.source, Entry.event_id, Entry.subject, Entry.org_unit,
        Entry.pseudonym, Entry.event,
        # NULL, not "", where there is none: COPY quotes an empty text, as not NULL. (A
        # 32-byte hash is 44 characters of base64, under the 76 at which ``encode`` would
        # break its line.)
        sa.func.nullif(sa.func.encode(Entry.salt, "hex"), ""),
        sa.func.nullif(sa.func.encode(Entry.leaf_hash, "base64"), ""))
    stmt = entries_statement(query, columns=tuple(
        value.label(name) for name, value in zip(ENTRY_COLUMNS, values, strict=True)))
    compiled = stmt.compile(dialect=db.engine.dialect)
    copy_sql = (f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE "
                f"({', '.join(QUOTED)}))")
    with db.streaming() as session:
        driver = session.connection().connection.driver_connection
        assert driver is not None  # a connection checked out of the pool
        cursor = driver.cursor()
        # psycopg binds the parameters itself, as COPY takes none (its documented use).
        with cursor, cursor.copy(copy_sql, compiled.params) as copy:
            blocks, size = [], 0
            for block in copy:
                blocks.append(bytes(block))
                size += len(block)
                if size >= 1 << 20:
                    yield b"".join(blocks)
                    blocks, size = [], 0
            yield b"".join(blocks)


def entries_csv(db: Database, query: EntryQuery) -> Iterator[bytes]:
    """RFC 4180 CSV in UTF-8: ``seq`` bare, the two times bare RFC 3339 (nothing in them
    needs quoting), and every other field quoted, inner quotes doubled.

    The rows are written here rather than by ``csv.writer``: the event column is JSON
    full of quotes, and ``csv.writer`` (QUOTE_NONNUMERIC) was measured at 2.4 to 2.8
    times as long over the same rows. On PostgreSQL its own CSV writer writes them.
    """
    if db.engine.dialect.name == "postgresql":
        chunks = _copy(db, query)
    else:
        chunks = ("".join(map(csv_line, chunk)).encode()
                  for chunk in _stream(db, _statement(db, query)))
    # The header goes with the first rows: a read that fails at once fails the request.
    yield (",".join(ENTRY_COLUMNS) + "\n").encode() + next(chunks, b"")
    yield from chunks


def entries_ndjson(db: Database, query: EntryQuery) -> Iterator[bytes]:
    """One entry's line per line (services.ledger.leaves): the bytes its leaf is computed
    from, or, once erased, the leaf hash it keeps."""
    for chunk in _stream(db, _statement(db, query)):
        yield b"".join((erased_line(row.seq, row.leaf_hash) if row.event is None else line(
            row.seq, row.received_at, row.event, row.salt)) + b"\n" for row in chunk)


METRIC_COLUMNS = ("area", "org_unit", "period", "activities", "activities_involved", "coverage",
                  "involvements", *[f"step_{n}" for n in range(1, 8)], "median_step",
                  "co_design_or_higher", "co_production", "citizens", "returning_citizens",
                  "hours", "recognition_rate", "decision_vote_share", "feedback_rate", "told",
                  "told_rate", "changed", "change_rate", "median_days_to_feedback",
                  "non_financial_share", "rubric_versions", "index", "suppressed", "disclosure")


def disclosure_text(label: dict[str, Any]) -> str:
    """How figures were made, in words: 'exact', or the method with its parameters."""
    if "base" not in label:
        return str(label["method"])
    return f"{label['method']} (base {label['base']}, threshold {label['threshold']})"


def metrics_csv(report: dict[str, Any]) -> str:
    """The measures for people to open: a unit a spreadsheet would run as a formula starts
    with an apostrophe. (The entries export and a release's figures are data for programs,
    ``ladder verify`` and witnesses among them, and hold every name as it is.)"""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(METRIC_COLUMNS)
    rows = list(report["rows"]) + ([{**report["total"], "period": "total"}]
                                   if report["total"] else [])
    for row in rows:
        flat = {**row, **{f"step_{k}": v for k, v in row["steps"].items()},
                "suppressed": " ".join(row["suppressed"]),
                "rubric_versions": " ".join(row["rubric_versions"]),
                "disclosure": disclosure_text(report["disclosure"])}
        writer.writerow(["" if flat.get(c) is None else spreadsheet_safe(flat.get(c))
                         for c in METRIC_COLUMNS])
    return buffer.getvalue()
