"""The witness as a regional monitor (docs/witness.md): for each ledger it follows, it
fetches the releases of figures the ledger published, keeps those that verify, and sets
the ledgers side by side for a regulator or an integrated care board.

Only published, disclosure-controlled figures are fetched: the ledger's public releases,
which anyone may read. A release that fails a check (published.py) is recorded as refused
with the reason, and never kept; it is checked again next time, and the record of the
refusal stays even once a later check keeps it. Each release is kept in one transaction,
its figures with it, so a fetch stopped at any point leaves whole releases or none, and
the next one goes on from what is kept.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.witness import domain, published
from services.witness.models import (
    MonitoredFigures,
    MonitoredLog,
    MonitoredRelease,
    RefusedRelease,
    WitnessedLog,
)
from shared import notes
from shared.db import Database
from shared.spreadsheets import spreadsheet_safe
from shared.times import naive_utcnow, rfc3339_of_naive_utc

log = logging.getLogger(__name__)

TIMEOUT = 10.0
MAX_BYTES = 32 * 1024 * 1024  # a release of every unit of every area, with room to spare
PAGE = 1000  # the most releases the ledger lists at once
USER_AGENT = "Ladder-Witness/1.0"
ALL_UNITS = "all"
MAX_PROBLEM = 2000


class Unreachable(Exception):
    """The ledger did not answer as it should: down, slow, or an answer that is not one."""


class Http:
    """GETs to a ledger's public routes: a timeout, a size limit, and no redirect (the
    ledger's URL is the one configured, and nowhere else)."""

    def __init__(self, timeout: float = TIMEOUT, max_bytes: int = MAX_BYTES) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def get(self, url: str, **params: Any) -> bytes:
        try:
            with self.session.get(url, params=params, timeout=self.timeout, stream=True,
                                  allow_redirects=False) as response:
                if response.status_code != 200:
                    raise Unreachable(f"{url} answered {response.status_code}")
                body = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise Unreachable(f"{url} answered more than {self.max_bytes} bytes")
                return bytes(body)
        except requests.RequestException as exc:
            raise Unreachable(f"{url}: {type(exc).__name__}") from exc

    def close(self) -> None:
        self.session.close()


@dataclass(frozen=True)
class Followed:
    """A ledger the witness follows: its key, and where it publishes (None: not monitored)."""

    log: notes.Verifier
    url: str | None

    @property
    def origin(self) -> str:
        return self.log.name


def followed(config: Mapping[str, Any]) -> list[Followed]:
    """The ledgers of LADDER_WITNESS_LOGS, in its order."""
    urls = config.get("WITNESS_LOG_URLS") or {}
    return [Followed(key, urls.get(key.name)) for key in config["WITNESS_LOGS"]]


@dataclass
class Checked:
    """What one check of a ledger did."""

    origin: str
    kept: list[int] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    unreachable: str | None = None

    @property
    def failing(self) -> bool:
        return bool(self.refused) or self.unreachable is not None

    def problem(self) -> str | None:
        said = [*([f"unreachable: {self.unreachable}"] if self.unreachable else []),
                *self.refused, *self.waiting]
        return "; ".join(said)[:MAX_PROBLEM] or None


def _always() -> bool:
    return True


def check(db: Database, ledger: Followed, http: Http,
          now: Callable[[], datetime] = naive_utcnow,
          running: Callable[[], bool] = _always) -> Checked | None:
    """Fetch the ledger's releases, keep each new one that verifies, record each that does
    not, and where the witness now stands with the ledger; None if ``running()`` turned
    false first (what was kept stays kept, and the next check goes on from it)."""
    assert ledger.url is not None
    done = Checked(ledger.origin)
    with db.reading() as session:
        cosigned = session.get(WitnessedLog, ledger.origin)
        kept = {number: digest for number, digest in session.execute(
            sa.select(MonitoredRelease.release_id, MonitoredRelease.figures_sha256)
            .where(MonitoredRelease.origin == ledger.origin))}
    last = domain.Cosigned(cosigned.size, cosigned.root) if cosigned else domain.Cosigned()
    try:
        for item in _releases(http, ledger.url):
            if not running():
                return None
            number = published.release_id(item)
            try:
                if number in kept:
                    published.check_unchanged(item, kept[number])
                    continue
                release = published.parse_release(item)
                _keep(db, ledger, release, _verified(ledger, release, last, http), now())
                done.kept.append(release.id)
            except published.NotYet as exc:
                done.waiting.append(str(exc))
            except published.FiguresRefused as exc:
                log.error("%s: refused: %s", ledger.origin, exc)
                done.refused.append(str(exc))
                if number is not None:
                    _refuse(db, ledger, number, item, str(exc), now())
    except Unreachable as exc:
        log.warning("%s: its releases could not be fetched: %s", ledger.origin, exc)
        done.unreachable = str(exc)
    _record(db, done, now())
    return done


def _releases(http: Http, url: str) -> Iterator[Any]:
    """Every release the ledger lists, oldest first."""
    after = 0
    while True:
        try:
            page = json.loads(http.get(f"{url}/v1/releases", after=after, limit=PAGE))
            items, following = page["items"], page["next_after"]
            if not isinstance(items, list) or not (following is None or (
                    isinstance(following, int) and following > after)):
                raise ValueError("not a page of releases that goes forward")
        except (ValueError, TypeError, KeyError) as exc:
            raise Unreachable(f"{url}/v1/releases: {exc}") from exc
        yield from items
        if following is None:
            return
        after = following


@dataclass(frozen=True)
class Verified:
    """A release's figures that passed every check, and what they were checked against."""

    checkpoint_size: int
    figures: str
    types: dict[str, str]
    rows: list[published.Row]
    url: str


def _verified(ledger: Followed, release: published.Release, last: domain.Cosigned,
              http: Http) -> Verified:
    """The release's figures, once every check of published.py holds."""
    base = published.disclosure_base(release)
    published.check_signed(release, ledger.log)
    if published.needs_proof(release, last):
        published.check_extends(release, last, published.parse_proof(http.get(
            f"{ledger.url}/ct/v1/get-sth-consistency", first=release.size, second=last.size)))
    url = f"{ledger.url}/v1/releases/{release.id}/figures.csv"
    figures = published.check_digest(release, http.get(url))
    types = published.column_types(release, http.get(
        f"{ledger.url}/v1/releases/{release.id}/dictionary.csv"))
    return Verified(last.size, figures, types,
                    published.read_figures(release, figures, types, base), url)


def _keep(db: Database, ledger: Followed, release: published.Release, verified: Verified,
          now: datetime) -> None:
    """The release and its figures, in one transaction; nothing if another check kept it."""
    try:
        with db.writing() as session:
            if session.get(MonitoredRelease, (ledger.origin, release.id)) is not None:
                return
            session.add(MonitoredRelease(
                origin=ledger.origin, release_id=release.id, period_kind=release.period_kind,
                period=release.period, created_at=release.created_at,
                replaces=release.replaces, tree_size=release.size,
                tree_timestamp=release.timestamp, root_hash=release.root,
                tree_head_signature=release.signature,
                checkpoint_size=verified.checkpoint_size,
                disclosure=json.dumps(release.disclosure), columns=json.dumps(verified.types),
                figures=verified.figures, figures_sha256=release.figures_sha256,
                url=verified.url, fetched_at=now))
            session.flush()  # the release before its figures, which refer to it
            session.execute(sa.insert(MonitoredFigures), [
                {"origin": ledger.origin, "release_id": release.id, "area": row.area,
                 "org_unit": row.org_unit, "period": row.period,
                 "period_kind": row.period_kind, "figures": json.dumps(row.figures),
                 "suppressed": " ".join(row.suppressed)} for row in verified.rows])
    except IntegrityError:
        log.info("%s: release %d was kept by another check at the same time", ledger.origin,
                 release.id)


def _refuse(db: Database, ledger: Followed, number: int, item: Any, reason: str,
            now: datetime) -> None:
    period = item.get("period") if isinstance(item, dict) else None
    with db.writing() as session:
        row = session.scalars(sa.select(RefusedRelease).where(
            RefusedRelease.origin == ledger.origin, RefusedRelease.release_id == number
        ).with_for_update()).first()
        if row is None:
            row = RefusedRelease(origin=ledger.origin, release_id=number,
                                 first_refused_at=now, times=0)
            session.add(row)
        row.period = period if isinstance(period, str) and len(period) <= 16 else None
        row.reason, row.url, row.last_refused_at = reason, f"{ledger.url}/v1/releases", now
        row.times += 1


def _record(db: Database, done: Checked, now: datetime) -> None:
    with db.writing() as session:
        row = session.get(MonitoredLog, done.origin, with_for_update=True)
        if row is None:
            row = MonitoredLog(origin=done.origin)
            session.add(row)
        row.attempted_at = now
        if done.unreachable is None:
            row.checked_at = now
        row.failing, row.problem = done.failing, done.problem()


def check_all(db: Database, ledgers: list[Followed], http: Http,
              now: Callable[[], datetime] = naive_utcnow,
              running: Callable[[], bool] = _always) -> list[Checked]:
    """One check of every ledger with a URL, until ``running()`` turns false; one that
    fails for an unforeseen reason is logged, and the others are checked all the same."""
    done = []
    for ledger in ledgers:
        if ledger.url is None:
            continue
        try:
            checked = check(db, ledger, http, now, running)
        except Exception:
            log.exception("%s: the check failed; it runs again next time", ledger.origin)
            continue
        if checked is None:
            break
        done.append(checked)
    return done


def run(db: Database, ledgers: list[Followed], interval: float,
        running: Callable[[], bool]) -> None:
    """Check every ledger each ``interval`` seconds until ``running()`` turns false."""
    http = Http()
    try:
        while running():
            check_all(db, ledgers, http, running=running)
            deadline = time.monotonic() + interval
            while running() and time.monotonic() < deadline:
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    finally:
        http.close()


# -- the ledgers side by side ------------------------------------------------------------


def state(ledger: Followed, row: MonitoredLog | None, now: datetime,
          stale_after: float) -> str:
    """``unmonitored`` (no URL), ``never`` checked, ``failing`` (the last check could not
    reach the ledger or refused a release), ``stale`` (not checked for ``stale_after``
    seconds), or ``current``."""
    if ledger.url is None:
        return "unmonitored"
    if row is not None and row.failing:
        return "failing"
    if row is None or row.checked_at is None:
        return "never"
    return "stale" if (now - row.checked_at).total_seconds() > stale_after else "current"


def _disclosure(label: dict[str, Any]) -> str:
    """How the figures were made, in the words of the ledger's own CSV exports."""
    return f"{label.get('method')} (base {label.get('base')}, threshold {label.get('threshold')})"


def compare(db: Database, ledgers: list[Followed], now: datetime, stale_after: float,
            period: str | None = None, area: str | None = None,
            each_unit: bool = False) -> dict[str, Any]:
    """Every ledger followed, side by side: where the witness stands with it, and the
    figures of ``period`` (by default the newest month any of them published) from the
    newest release of it that verified, as published. A ledger with none has one row
    without figures."""
    origins = [ledger.origin for ledger in ledgers]
    with db.reading() as session:
        cosigned = {r.origin: r for r in session.scalars(
            sa.select(WitnessedLog).where(WitnessedLog.origin.in_(origins)))}
        states = {r.origin: r for r in session.scalars(
            sa.select(MonitoredLog).where(MonitoredLog.origin.in_(origins)))}
        if period is None:
            period = session.scalar(sa.select(sa.func.max(MonitoredFigures.period)).where(
                MonitoredFigures.origin.in_(origins), MonitoredFigures.period_kind == "month"))
        found = list(session.scalars(sa.select(MonitoredFigures).where(
            MonitoredFigures.period == period, MonitoredFigures.origin.in_(origins))))
        newest: dict[str, int] = {}
        for figure in found:
            newest[figure.origin] = max(newest.get(figure.origin, 0), figure.release_id)
        releases = {origin: session.get(MonitoredRelease, (origin, number))
                    for origin, number in newest.items()}
    rows: list[dict[str, Any]] = []
    measures: dict[str, None] = {}
    for ledger in ledgers:
        head, seen = cosigned.get(ledger.origin), states.get(ledger.origin)
        size = head.size if head else 0
        base = {"origin": ledger.origin, "state": state(ledger, seen, now, stale_after),
                "checked_at": seen.checked_at if seen else None,
                "problem": seen.problem if seen else None, "checkpoint_size": size,
                "cosigned_at": head.cosigned_at if head else None}
        release = releases.get(ledger.origin)
        mine = sorted((f for f in found if f.origin == ledger.origin
                       and release is not None and f.release_id == release.release_id
                       and (area is None or f.area == area)
                       and (each_unit or f.org_unit == ALL_UNITS)),
                      key=lambda f: (f.area, f.org_unit != ALL_UNITS, f.org_unit))
        if release is None or not mine:
            rows.append({**base, **_no_release(), "area": None, "org_unit": None,
                         "period_kind": None, "period": period, "figures": {},
                         "suppressed": []})
            continue
        about = {"release_id": release.release_id, "release_period": release.period,
                 "release_created_at": release.created_at,
                 "release_tree_size": release.tree_size,
                 "entries_behind": size - release.tree_size,
                 "fetched_at": release.fetched_at,
                 "disclosure": _disclosure(json.loads(release.disclosure))}
        for figure in mine:
            shown = json.loads(figure.figures)
            measures.update(dict.fromkeys(shown))
            rows.append({**base, **about, "area": figure.area, "org_unit": figure.org_unit,
                         "period_kind": figure.period_kind, "period": figure.period,
                         "figures": shown, "suppressed": figure.suppressed.split()})
    return {"period": period, "generated_at": now, "measures": list(measures), "rows": rows}


def _no_release() -> dict[str, Any]:
    return dict.fromkeys(("release_id", "release_period", "release_created_at",
                          "release_tree_size", "entries_behind", "fetched_at", "disclosure"))


def comparison_csv(report: dict[str, Any]) -> str:
    """The comparison as CSV: its columns, one per measure, then ``suppressed``. A hidden
    figure is an empty cell named in ``suppressed``, as in the release; text a spreadsheet
    would take for a formula starts with an apostrophe."""
    columns = [*published.COMPARISON, *report["measures"], published.SUPPRESSED]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in report["rows"]:
        flat = {**row, **row["figures"], published.SUPPRESSED: " ".join(row["suppressed"])}
        writer.writerow([spreadsheet_safe(_cell(flat.get(name))) for name in columns])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return rfc3339_of_naive_utc(value)
    return value


def refusals(db: Database, after: int, limit: int) -> list[RefusedRelease]:
    """The refusals, oldest first, after a cursor: each release refused once or more, and
    why it was refused last (kept or not since)."""
    with db.reading() as session:
        return list(session.scalars(sa.select(RefusedRelease).where(RefusedRelease.id > after)
                                    .order_by(RefusedRelease.id).limit(limit)))
