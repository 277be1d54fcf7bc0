"""What the ledger holds, read out: the measures as a table, and the entries as a file."""

from __future__ import annotations

import sys
from typing import Any

import click

from services.cli.params import Text
from shared import areas
from shared.config import database_url, load


@click.command()
@click.option("--area", type=click.Choice(areas.names()),
              help="One area, by period; without it the areas side by side.")
@click.option("--org-unit", type=Text(256), help="One organisational unit (default: all).")
@click.option("--period", default="quarter", show_default=True,
              type=click.Choice(("month", "quarter", "year")))
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]))
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Inclusive.")
@click.option("--exact", is_flag=True,
              help="Exact figures, as admins read them; without it, disclosure-controlled "
                   "as every other reader sees them.")
def report(area: str | None, org_unit: str | None, period: str, start: Any, end: Any,
           exact: bool) -> None:
    """Print the measures of involvement as a table."""
    from services.ledger.disclosure import Control
    from services.ledger.exports import disclosure_text
    from services.ledger.metrics import MetricsQuery, metrics
    from shared.db import Database

    if start > end:
        raise click.BadParameter("--to must not be before --from", param_hint="--to")
    config = load("ledger")
    query = MetricsQuery(start=start.date(), end=end.date(), area=area, org_unit=org_unit,
                         period=period, group_by="period" if area else "area")
    result = metrics(Database(config["DATABASE_URL"]), query,
                     None if exact else Control.from_config(config))
    rows = result["rows"] + ([{**result["total"], "period": "total"}] if result["total"] else [])
    click.echo(_table(rows, "period" if area else "area"))
    click.echo(f"Figures: {disclosure_text(result['disclosure'])}.")


# Three tables, each within 100 columns: what was done and how far up the ladder, who
# took part and how, and the involvements at each step.
REPORT_TABLES = (
    (("activities", "activities"), ("involved", "activities_involved"),
     ("coverage", "coverage"), ("involvements", "involvements"), ("median", "median_step"),
     (">=co-design", "co_design_or_higher"), ("co-prod", "co_production"), ("index", "index")),
    (("citizens", "citizens"), ("returning", "returning_citizens"), ("hours", "hours"),
     ("recognised", "recognition_rate"), ("vote", "decision_vote_share"),
     ("feedback", "feedback_rate")),
    tuple((f"step {n}", f"step_{n}") for n in range(1, 8)),
)
LEGEND = ("* hidden: it rests on a count under the threshold (disclosure control)\n"
          "- not computable: nothing to divide by, or no involvement to take a median of")


def _cell(value: Any, name: str, hidden: list[str]) -> str:
    if name in hidden:
        return "*"
    if value is None:
        return "-"
    if isinstance(value, float) and name.endswith(("rate", "share", "coverage", "higher",
                                                    "production")):
        return f"{100 * value:.1f}%"
    return str(value)


def _table(rows: list[dict[str, Any]], first: str) -> str:
    tables = []
    for columns in REPORT_TABLES:
        header = [first] + [title for title, _ in columns]
        body = [[str(row[first])] + [_cell(_value(row, name), name, row["suppressed"])
                                     for _, name in columns] for row in rows]
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        tables.append("\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                                         enumerate(zip(r, widths, strict=True)))
                                for r in [header, *body]))
    return "\n\n".join(tables) + "\n\n" + LEGEND


def _value(row: dict[str, Any], name: str) -> Any:
    return row["steps"][name[5:]] if name.startswith("step_") else row[name]


@click.command()
@click.option("--format", "fmt", default="ndjson", show_default=True,
              type=click.Choice(("ndjson", "csv")))
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--area", type=click.Choice(areas.names()))
def export(fmt: str, out: str, area: str | None) -> None:
    """Export the ledger's entries to a file, with a progress bar."""
    from services.ledger import exports
    from services.ledger.service import EntryQuery, count_entries
    from shared.db import Database

    db = Database(database_url("ledger"))
    query = EntryQuery(limit=None, area=area)
    total = count_entries(db, query)
    chunks = (exports.entries_csv if fmt == "csv" else exports.entries_ndjson)(db, query)
    written = 0
    with open(out, "wb") as f, click.progressbar(
            length=total, label=f"exporting {total} entries", file=sys.stderr) as bar:
        for chunk in chunks:
            f.write(chunk)
            n = chunk.count(b"\n") - (1 if fmt == "csv" and written == 0 and chunk else 0)
            written += n
            bar.update(n)
    click.echo(f"wrote {total} entries to {out}")
