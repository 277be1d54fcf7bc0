"""Every service's migrations build exactly what its models declare, undo what they can,
and stand on their own: a revision imports nothing from the code around it, so no later
change to that code rewrites history."""

from __future__ import annotations

import ast
import json
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyroaring import BitMap
from sqlalchemy.engine import Connection

import shared
from services import area_packages
from services.ledger import citizen_sets, leaves, models, tree
from services.ledger.disclosure import citizen_key
from services.ledger.measures import period_of
from services.ledger.signing import Signer
from services.witness import models as witness_models
from shared import areas, merkle
from shared.area.models import Base as AreaBase
from shared.db import Database, make_engine
from shared.migrations import alembic_config, upgrade
from tests.support import appending
from tests.support.databases import database
from tests.support.events import activity, involvement, withdrawn

SERVICES = ["ledger", "witness", *areas.names()]
ROOT = Path(shared.__file__).parent.parent
# The repository's own packages: what a revision must not import.
PROJECT = {path.parent.name for path in ROOT.glob("*/__init__.py")}


@pytest.fixture
def url(service: str, backend: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the current backend for ``service``."""
    with database(backend, tmp_path, service) as made:
        yield made


def revisions(service: str) -> list[Script]:
    """The service's revisions, newest first, as Alembic finds them."""
    return list(ScriptDirectory.from_config(alembic_config(service, "sqlite://"))
                .walk_revisions())


def metadata(service: str) -> sa.MetaData:
    """The tables the service's models declare.

    The areas' models share one declarative base, so it also holds every other area's
    own tables once their models are imported: an area's are the common ones and its own.
    """
    if service == "ledger":
        return models.Base.metadata
    if service == "witness":
        return witness_models.Base.metadata
    area_packages.part(service, "models")
    declared = {AreaBase.__module__, f"{areas.get(service).module}.models"}
    chosen = sa.MetaData()
    for mapper in AreaBase.registry.mappers:
        if mapper.class_.__module__ in declared:
            assert isinstance(mapper.local_table, sa.Table)
            mapper.local_table.to_metadata(chosen)
    return chosen


def leave_python_defaults(context: MigrationContext, inspected_column: Any,
                          metadata_column: sa.Column[Any], inspected_default: Any,
                          metadata_default: Any, rendered_metadata_default: Any) -> bool | None:
    """Compare a server default only where the models declare one.

    A model that gives its default in Python (``default=0``) says nothing about the
    database's: the migrations give some such columns a server default as well, which
    fills the rows there are when a column is added. A server default the models do
    declare (citizens' ``rule``) must be the one the migrations made: None lets Alembic
    compare it.
    """
    return False if metadata_column.server_default is None else None


def differences(connection: Connection, service: str) -> list[str]:
    """What Alembic's autogenerate finds between the database and the service's models."""
    context = MigrationContext.configure(connection, opts={
        "compare_type": True, "compare_server_default": leave_python_defaults})
    return [describe(diff) for diff in compare_metadata(context, metadata(service))]


def describe(diff: Any) -> str:
    """One difference as a line, in Alembic's words (``remove_index``: an index the
    migrations build and the models do not declare) and ours."""
    if isinstance(diff, list):  # a column's changes come grouped
        return "; ".join(describe(d) for d in diff)
    kind, *rest = diff
    if kind.startswith("modify_"):
        _, table, column, _, in_database, in_models = rest
        return (f"{kind} {table}.{column}: the migrations make it {shown(in_database)}, "
                f"the models {shown(in_models)}")
    side = "only the models have" if kind.startswith("add_") else "only the migrations make"
    return f"{kind}: {side} {shown(rest[-1])}"


def shown(part: Any) -> str:
    """A table, column, index, constraint, type or default, as a reader would name it."""
    if isinstance(part, sa.Table):
        return f"table {part.name}"
    if isinstance(part, sa.Column):
        return f"column {part.table.name}.{part.name} {part.type}"
    if isinstance(part, sa.Index | sa.Constraint):
        columns = ", ".join(c.name for c in part.columns)
        named = " ".join(filter(None, [type(part).__name__, part.name]))
        what = f"{named} on {part.table.name}({columns})"
        if isinstance(part, sa.ForeignKeyConstraint):
            what += f" -> {part.referred_table.name} ON DELETE {part.ondelete or 'NO ACTION'}"
        return what
    if isinstance(part, sa.DefaultClause):
        return repr(str(getattr(part.arg, "text", part.arg)))
    return str(part)


def assert_no_drift(url: str, service: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            found = differences(connection, service)
    finally:
        engine.dispose()
    if found:
        pytest.fail(f"{service}'s migrations and models differ; one of them needs a change "
                    "(a new revision, if the models are right):\n" + "\n".join(found))


def schema(url: str) -> dict[str, Any]:
    """The database's tables as reflected: columns with types, nullability and defaults,
    the primary key, indexes, unique and check constraints, foreign keys."""
    engine = make_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {table: json.loads(json.dumps({
            "columns": [(c["name"], str(c["type"]), c["nullable"], c["default"])
                        for c in inspector.get_columns(table)],
            "primary_key": inspector.get_pk_constraint(table),
            "indexes": sorted(inspector.get_indexes(table), key=lambda i: str(i["name"])),
            "unique": sorted(inspector.get_unique_constraints(table), key=str),
            "checks": sorted(inspector.get_check_constraints(table), key=str),
            "foreign_keys": sorted(inspector.get_foreign_keys(table), key=str),
        }, default=str)) for table in inspector.get_table_names()}
    finally:
        engine.dispose()


def parents(script: Script) -> set[str]:
    down = script.down_revision
    return {down} if isinstance(down, str) else set(down or ())


def versions(url: str) -> set[str]:
    """The revisions the database is at."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.scalars(sa.text("SELECT version_num FROM alembic_version")))
    finally:
        engine.dispose()


def irreversible(script: Script) -> bool:
    """A revision whose downgrade only raises, saying why it cannot be undone."""
    module = ast.parse(Path(script.path).read_text())
    downgrade = next(node for node in module.body
                     if isinstance(node, ast.FunctionDef) and node.name == "downgrade")
    return all(isinstance(statement, ast.Raise) for statement in downgrade.body)


@pytest.mark.parametrize("service", SERVICES)
def test_the_migrations_build_what_the_models_declare(service: str, url: str) -> None:
    upgrade(service, url)
    assert_no_drift(url, service)


@pytest.mark.parametrize("service", SERVICES)
def test_what_can_be_undone_is_undone_and_upgrading_again_builds_the_same(
        service: str, url: str) -> None:
    upgrade(service, url)
    before = schema(url)
    script = ScriptDirectory.from_config(alembic_config(service, url))
    history = list(script.walk_revisions())
    # An irreversible revision stays, and so does everything it stands on.
    kept = {r.revision for stop in history if irreversible(stop)
            for r in script.iterate_revisions(stop.revision, "base")}
    undone = [r.revision for r in history if r.revision not in kept]
    assert undone, f"{service} has no revision that can be undone"
    for revision in undone:
        command.downgrade(alembic_config(service, url), f"{revision}@-1")
    below = {parent for r in history if r.revision in kept for parent in parents(r)}
    assert versions(url) == kept - below
    upgrade(service, url)
    assert schema(url) == before
    assert_no_drift(url, service)


@pytest.mark.parametrize("service", SERVICES)
def test_no_revision_imports_the_code_around_it(service: str) -> None:
    assert {"shared", "services", "tests"} <= PROJECT
    for script in revisions(service):
        module = ast.parse(Path(script.path).read_text())
        imported = {alias.name for node in ast.walk(module) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {str(node.module) for node in ast.walk(module)
                     if isinstance(node, ast.ImportFrom) and node.level == 0}
        assert not {m for m in imported if m.split(".")[0] in PROJECT}, script.path


def test_entries_held_before_the_merkle_log_are_hashed_in_as_the_sequencer_hashes(
        backend: str, tmp_path: Path) -> None:
    start = datetime(2026, 3, 1, 12, 0)
    rows = [{"seq": seq, "event_id": f"e{seq}", "time": start,
             # Whole seconds too: a leaf always has six digits of microseconds.
             "received_at": start + timedelta(seconds=seq, microseconds=(seq % 3) * 1234),
             "event": json.dumps({"id": f"e{seq}", "data": {"word": "café" * (seq % 2)}},
                                 ensure_ascii=False, separators=(",", ":"))}
            for seq in range(1, 14)]
    tree_ = merkle.CompactRange()
    completed: list[tuple[merkle.Node, bytes]] = []
    hashes = [merkle.leaf_hash(leaves.line(r["seq"], r["received_at"], r["event"], None))
              for r in rows]
    for leaf in hashes:
        tree_.append(leaf, completed)
    with database(backend, tmp_path, "ledger") as url:
        upgrade("ledger", url, "0002")
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO entries (seq, source, event_id, type, area, time, received_at, "
                "event) VALUES (:seq, '/ladder/recruitment', :event_id, "
                "'org.ladder.activity.recorded', 'recruitment', :time, :received_at, :event)"),
                rows)
        upgrade("ledger", url, "0003")
        with engine.connect() as connection:
            assert list(connection.scalars(sa.text(
                "SELECT leaf_hash FROM entries ORDER BY seq"))) == hashes
            assert [tuple(row) for row in connection.execute(sa.text(
                "SELECT id, hash FROM merkle_nodes ORDER BY id"))] == sorted(
                (tree.node_id(*node), h) for node, h in completed)
            assert connection.scalar(sa.text("SELECT compact_range FROM ledger_head")) == \
                ",".join(h.hex() for h in tree_.hashes)
        engine.dispose()


def test_citizens_counted_by_period_and_by_year_rows_convert_both_ways(
        backend: str, tmp_path: Path) -> None:
    """Revision 0012 keeps a citizen's counts a row a year; its downgrade builds the
    month, quarter and year rows back. Both must hold what the active involvements say."""
    signer = Signer(Ed25519PrivateKey.from_private_bytes(bytes(32)))
    units = ("ward-1", "ward-2", "ward-3")
    activities = {u: activity("training", u, time="2025-11-02T09:00:00Z") for u in units}
    involvements = [involvement("training", 4, org_unit=units[n % 3], pseudonym=f"p{n % 7}",
                                activity_id=activities[units[n % 3]]["data"]["activity_id"],
                                time=f"{2025 + n % 2}-{n % 12 + 1:02d}-10T09:00:00Z")
                    for n in range(60)]
    gone = [withdrawn("training", e["data"]["activity_id"], e["data"]["involvement_id"])
            for e in involvements[::5]]
    with database(backend, tmp_path, "ledger") as url:
        upgrade("ledger", url)
        db = Database(url)
        appending.append(db, [*activities.values(), *involvements], signer)
        appending.append(db, gone, signer)
        expected: Counter[tuple[str, ...]] = Counter()
        engine = make_engine(url)
        with engine.connect() as connection:
            years = sorted(tuple(row) for row in connection.execute(sa.text(
                "SELECT * FROM citizen_years")))
            for area, unit, day, pseudonym in connection.execute(sa.text(
                    "SELECT area, org_unit, day, pseudonym FROM involvement_states "
                    "WHERE status = 'active'")):
                day = day if isinstance(day, date) else date.fromisoformat(day)
                for kind in ("month", "quarter", "year"):
                    for u in (unit, "*"):
                        expected[area, u, kind, period_of(day, kind), pseudonym] += 1
            sets = citizen_sets_of(connection)
        assert len(years) > 20 and len(sets) > 20
        # Below 0016 format-2 entries cannot be read, and the downgrade refuses while
        # any is held (the test after this one). What is tested here is 0012's counts:
        # forgetting the salts breaks the tree's proofs of content, not the counts.
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE entries SET salt = NULL"))
        command.downgrade(alembic_config("ledger", url), "0011")
        with engine.connect() as connection:
            periods = {tuple(row[:5]): row[5] for row in connection.execute(sa.text(
                "SELECT area, org_unit, kind, period, pseudonym, n FROM citizen_periods"))}
        assert periods == dict(expected)
        upgrade("ledger", url)
        with engine.connect() as connection:
            assert sorted(tuple(row) for row in connection.execute(sa.text(
                "SELECT * FROM citizen_years"))) == years
            # Revision 0014 builds the citizens' sets again from citizen_years: numbered
            # in another order, they hold the same citizens the projection put there.
            assert citizen_sets_of(connection) == sets
        engine.dispose()
        db.dispose()


def test_format_2_is_not_downgraded_while_the_log_holds_an_entry_it_cannot_read(
        backend: str, tmp_path: Path) -> None:
    """Below revision 0016 a salted entry would be read as format 1, and its leaf would
    no longer hash to what was signed: the downgrade refuses, and changes nothing."""
    signer = Signer(Ed25519PrivateKey.from_private_bytes(bytes(32)))
    with database(backend, tmp_path, "ledger") as url:
        upgrade("ledger", url)
        db = Database(url)
        appending.append(db, [activity("training", "ward-1")], signer)
        # The revisions after 0016 go down first, each in its own transaction.
        command.downgrade(alembic_config("ledger", url), "0016")
        before = versions(url)
        with pytest.raises(RuntimeError, match="format-2 or erased entries"):
            command.downgrade(alembic_config("ledger", url), "0015")
        assert versions(url) == before
        engine = make_engine(url)
        with engine.connect() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM entries "
                                             "WHERE salt IS NOT NULL")) == 1
        engine.dispose()
        db.dispose()


def citizen_sets_of(connection: Connection) -> dict[Any, Any]:
    """The citizens' sets by pseudonym, and each citizen's record key from its bits."""
    names = dict(connection.execute(sa.text("SELECT id, pseudonym FROM citizen_ids")).all())
    keys: Counter[str] = Counter()
    for bit, members in connection.execute(sa.text(
            "SELECT bit, members FROM citizen_key_bits")):
        for n in BitMap.deserialize(members):
            keys[names[n]] += 1 << bit
    cells = {(a, u, m): tuple(frozenset(names[n] for n in BitMap.deserialize(s))
                              for s in (once, twice))
             for a, u, m, once, twice in connection.execute(sa.text(
                 "SELECT area, org_unit, month, once, twice FROM citizen_months"))}
    assert {p: k - citizen_sets.OFFSET for p, k in keys.items()} == {
        p: citizen_key(p) for p in names.values()}
    return cells
