"""The dashboard's tables as files: one table as CSV, or a page's tables as an
OpenDocument spreadsheet (odfpy) whose cover sheet says what they are, how they were
made and which signed tree head they were computed from.

A CSV cell a spreadsheet would run as a formula starts with an apostrophe
(shared/spreadsheets.py); in the spreadsheet, text is typed as text and never runs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from odf.opendocument import OpenDocumentSpreadsheet
from odf.style import Style, TableColumnProperties, TextProperties
from odf.table import Table as Sheet
from odf.table import TableCell, TableColumn, TableRow
from odf.text import P

from services.ledger.tables import Cell, Table
from shared.spreadsheets import spreadsheet_safe

CSV_TYPE = "text/csv; charset=utf-8"
ODS_TYPE = "application/vnd.oasis.opendocument.spreadsheet"


def as_csv(table: Table) -> str:
    """The table with its header row, RFC 4180, numbers as numbers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([spreadsheet_safe(h) for h in table.header])
    writer.writerows([spreadsheet_safe(c) for c in row] for row in table.rows)
    return buffer.getvalue()


def _cell(value: Cell, style: Style | None = None) -> TableCell:
    """A number as a number; anything else, markers included, as text."""
    styled = {"stylename": style} if style is not None else {}
    if isinstance(value, bool) or not isinstance(value, int | float):
        cell = TableCell(valuetype="string", **styled)
    else:
        cell = TableCell(valuetype="float", value=value, **styled)
    cell.addElement(P(text=str(value)))
    return cell


def _sheet(name: str, rows: Iterable[Sequence[Cell]], bold: Style,
           header_rows: int, widths: Sequence[Style]) -> Sheet:
    sheet = Sheet(name=name)
    for width in widths:
        sheet.addElement(TableColumn(stylename=width))
    for i, row in enumerate(rows):
        line = TableRow()
        for j, value in enumerate(row):
            line.addElement(_cell(value, bold if i < header_rows or j == 0 else None))
        sheet.addElement(line)
    return sheet


def as_ods(cover: Sequence[tuple[str, str]], tables: Sequence[Table]) -> bytes:
    """A cover sheet of (what, value) lines, then a sheet per table, named as the table,
    its title above its header row."""
    doc = OpenDocumentSpreadsheet()
    bold = Style(name="heading", family="table-cell")
    bold.addElement(TextProperties(fontweight="bold"))
    wide = Style(name="wide", family="table-column")
    wide.addElement(TableColumnProperties(columnwidth="6cm"))
    narrow = Style(name="narrow", family="table-column")
    narrow.addElement(TableColumnProperties(columnwidth="3.2cm"))
    for style in (bold, wide, narrow):
        doc.automaticstyles.addElement(style)
    doc.spreadsheet.addElement(_sheet("Cover", cover, bold, 0, (wide, wide)))
    for table in tables:
        widths = (wide, *(narrow for _ in table.header[1:]))
        doc.spreadsheet.addElement(_sheet(
            table.name.capitalize(), [(table.title,), table.header, *table.rows], bold, 2,
            widths))
    buffer = io.BytesIO()
    doc.write(buffer)
    return buffer.getvalue()
