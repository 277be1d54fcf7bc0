"""The ledger as a Merkle log: signed heads, proofs, two writers, and tampering caught."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from services.cli import main
from services.ledger import leaves, tree
from services.ledger.models import Entry, Head, MerkleNode, TreeHeadRow
from services.ledger.signing import TreeHead, load_public_key
from shared import merkle
from shared.fields import INT64_MAX
from tests.integration.conftest import MakeApp
from tests.integration.test_ledger_api import Ledger
from tests.support import appending, serving
from tests.support import events as ev


@pytest.fixture
def ledger(make_app: MakeApp) -> Ledger:
    """The ledger after three batches of 5, 1 and 7 entries."""
    ledger = Ledger(make_app("ledger"))
    for size in (5, 1, 7):
        ledger.append([ev.involvement("training", pseudonym=f"p{n}") for n in range(size)])
    return ledger


def _key(ledger: Ledger) -> Any:
    return load_public_key(json.dumps(ledger.http.get("/v1/public-key").json))


def _head(ledger: Ledger) -> TreeHead:
    # Tree heads, their history and consistency proofs need no token: hashes only.
    return TreeHead.from_json(ledger.http.get("/ct/v1/get-sth").json)


def _leaves(ledger: Ledger, start: int, end: int) -> list[bytes]:
    body = ledger.get("/ct/v1/get-entries", start=start, end=end).json
    return [base64.b64decode(e["leaf_input"]) for e in body["entries"]]


def test_every_batch_ends_in_a_signed_tree_head(ledger: Ledger) -> None:
    key = _key(ledger)
    history = [TreeHead.from_json(h) for h in ledger.http.get("/ct/v1/get-sth-history").json]
    assert [h.size for h in history] == [13, 6, 5]
    for head in history:
        head.verify(key)
    latest = _head(ledger)
    assert latest == history[0]
    leaves = _leaves(ledger, 0, 12)
    assert merkle.root_of(merkle.leaf_hash(leaf) for leaf in leaves) == latest.root
    # Format 2: each leaf input is the SHA-256 of the entry's salted line, served beside it.
    served = ledger.get("/ct/v1/get-entries", start=0, end=12).json["entries"]
    lines = [base64.b64decode(e["extra_data"]) for e in served]
    assert [hashlib.sha256(line).digest() for line in lines] == leaves
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, 14))
    assert all(len(bytes.fromhex(json.loads(line)["salt"])) == 32 for line in lines)


def test_proofs_verify_against_the_signed_heads(ledger: Ledger) -> None:
    latest = _head(ledger)
    for old in (TreeHead.from_json(h) for h in ledger.http.get("/ct/v1/get-sth-history").json):
        path = ledger.http.get("/ct/v1/get-sth-consistency",
                               query_string={"first": old.size, "second": latest.size})
        merkle.verify_consistency(old.size, latest.size,
                                  [base64.b64decode(h) for h in path.json["consistency"]],
                                  old.root, latest.root)
    for index, leaf in enumerate(_leaves(ledger, 0, 12)):
        h = merkle.leaf_hash(leaf)
        body = ledger.get("/ct/v1/get-proof-by-hash", hash=base64.b64encode(h).decode(),
                          tree_size=latest.size).json
        assert body["leaf_index"] == index
        merkle.verify_inclusion(index, latest.size, h,
                                [base64.b64decode(p) for p in body["audit_path"]], latest.root)


def test_a_proof_takes_three_reads_and_one_insert_and_no_transaction_on_postgresql(
        ledger: Ledger) -> None:
    """A request's round trips, counted (docs/performance.md, d2): the token; the tree's
    size with the leaf's entries; the nodes, leaves and inner ones at once; and the
    access log's row. On PostgreSQL each runs in autocommit: no BEGIN, COMMIT or
    ROLLBACK round trip around them."""
    db = ledger.app.extensions["db"]
    ran: list[tuple[str, bool]] = []

    def seen(conn: sa.Connection, cursor: Any, statement: str, *_: Any) -> None:
        word = statement.split()[0].upper()
        if word in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            ran.append((word, bool(getattr(conn.connection.dbapi_connection, "autocommit",
                                           True))))

    h = merkle.leaf_hash(_leaves(ledger, 12, 12)[0])
    # Every engine: on PostgreSQL the access log's row has connections of its own.
    sa.event.listen(sa.Engine, "before_cursor_execute", seen)
    try:
        body = ledger.get("/ct/v1/get-proof-by-hash", hash=base64.b64encode(h).decode(),
                          tree_size=13).json
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", seen)
    assert body["leaf_index"] == 12
    assert [word for word, _ in ran] == ["SELECT", "SELECT", "SELECT", "INSERT"]
    if db.engine.dialect.name == "postgresql":
        assert all(autocommit for _, autocommit in ran), ran


def test_exports_stream_through_a_transaction_and_reads_take_none(ledger: Ledger) -> None:
    """A server-side cursor (``streaming``) lives only in a transaction; a plain read on
    PostgreSQL runs in autocommit."""
    db = ledger.app.extensions["db"]
    with db.streaming() as session:
        seqs = [seq for partition in session.connection().execution_options(yield_per=5)
                .execute(sa.select(Entry.seq).order_by(Entry.seq)).partitions()
                for seq in partition]
        assert seqs == [(n,) for n in range(1, 14)]
    with db.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Entry)) == 13
        if db.engine.dialect.name == "postgresql":
            assert session.connection().connection.dbapi_connection.autocommit
    text = ledger.get("/v1/exports/entries", token=ledger.admin, format="csv").get_data(True)
    assert len(text.strip().splitlines()) == 14  # the header and every entry


@pytest.mark.parametrize(("path", "params", "status"), [
    ("/ct/v1/get-sth-consistency", {"first": 5, "second": 14}, 422),
    ("/ct/v1/get-sth-consistency", {"first": 6, "second": 5}, 422),
    ("/ct/v1/get-proof-by-hash", {"hash": base64.b64encode(b"x" * 32).decode(),
                                  "tree_size": 13}, 404),
    ("/ct/v1/get-proof-by-hash", {"hash": "not base64!", "tree_size": 13}, 422),
    ("/ct/v1/get-proof-by-hash", {"hash": base64.b64encode(b"x" * 32).decode(),
                                  "tree_size": 99}, 422),
    ("/ct/v1/get-entries", {"start": 5, "end": 2}, 422),
    ("/ct/v1/get-entries", {"start": 13, "end": 20}, 422),
    # Every argument at the largest BIGINT: 422 (or 404), never the database's overflow.
    ("/ct/v1/get-entries", {"start": INT64_MAX, "end": INT64_MAX}, 422),
    ("/ct/v1/get-sth-consistency", {"first": INT64_MAX, "second": INT64_MAX}, 422),
    ("/ct/v1/get-proof-by-hash", {"hash": base64.b64encode(b"x" * 32).decode(),
                                  "tree_size": INT64_MAX}, 422),
])
def test_impossible_proofs_are_refused_with_the_reason(
    ledger: Ledger, path: str, params: dict[str, Any], status: int
) -> None:
    response = ledger.get(path, **params)
    assert response.status_code == status
    assert response.json["message"]


def test_two_writers_at_once_leave_no_gaps_and_no_forks(ledger: Ledger) -> None:
    db, signer = ledger.app.extensions["db"], ledger.app.extensions["signer"]
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for batch in range(6):
                appending.append(db, [ev.involvement("inspection", pseudonym=f"w{worker}")
                                 for _ in range(batch + 1)], signer)
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with db.reading() as session:
        seqs = list(session.scalars(sa.select(Entry.seq).order_by(Entry.seq)))
        heads = [TreeHead(r.size, r.timestamp, r.root_hash, r.signature)
                 for r in session.scalars(sa.select(TreeHeadRow).order_by(TreeHeadRow.size))]
    assert seqs == list(range(1, 13 + 42 + 1))
    latest = heads[-1]
    assert latest.size == len(seqs)
    assert merkle.root_of(merkle.leaf_hash(leaf) for leaf in _leaves(ledger, 0, 54)) == latest.root
    for old in heads:
        proof = ledger.get("/ct/v1/get-sth-consistency", first=old.size, second=latest.size)
        merkle.verify_consistency(old.size, latest.size,
                                  [base64.b64decode(h) for h in proof.json["consistency"]],
                                  old.root, latest.root)


@pytest.fixture
def served(ledger: Ledger) -> Iterator[str]:
    """The ledger over real HTTP, for ladder verify --url."""
    with serving.served(ledger.app) as url:
        yield url


def _saved(ledger: Ledger, tmp_path: Path) -> tuple[Path, Path, Path]:
    export = tmp_path / "entries.ndjson"
    export.write_bytes(ledger.get("/v1/exports/entries", format="ndjson").get_data())
    sth = tmp_path / "sth.json"
    sth.write_text(json.dumps(ledger.get("/ct/v1/get-sth").json))
    key = tmp_path / "key.pem"
    key.write_text(ledger.http.get("/v1/public-key").json["public_key_pem"])
    return export, sth, key


def _verify(*args: str) -> Any:
    return CliRunner().invoke(main, ["verify", *args])


def test_ladder_verify_passes_on_an_honest_log(ledger: Ledger, served: str,
                                               tmp_path: Path) -> None:
    export, sth, key = _saved(ledger, tmp_path)
    result = _verify(str(export), "--tree-head", str(sth), "--public-key", str(key))
    assert result.exit_code == 0, result.output
    assert "first 13 entries match" in result.output
    csv_export = tmp_path / "entries.csv"
    csv_export.write_bytes(ledger.get("/v1/exports/entries", format="csv").get_data())
    assert _verify(str(csv_export), "--tree-head", str(sth), "--public-key",
                   str(key)).exit_code == 0
    ledger.append([ev.involvement("recruitment") for _ in range(4)])
    later = tmp_path / "later.json"
    result = _verify(str(export), "--tree-head", str(sth), "--public-key", str(key), "--url",
                     served, "--token", ledger.inspector, "--save-tree-head", str(later))
    assert result.exit_code == 0, result.output
    assert "now holds 17 entries" in result.output
    assert json.loads(later.read_text())["tree_size"] == 17


def test_ladder_verify_url_needs_an_inspect_token_to_read_the_entries(
        ledger: Ledger, served: str, tmp_path: Path) -> None:
    export, sth, key = _saved(ledger, tmp_path)
    online = [str(export), "--tree-head", str(sth), "--public-key", str(key), "--url", served]
    result = _verify(*online, "--token", ledger.auditor)
    assert result.exit_code == 1
    assert "exports/entries?format=ndjson answered 403" in result.output
    assert "ledger:inspect" in result.output
    assert _verify(*online, "--token", ledger.admin).exit_code == 0


def test_a_wrong_key_or_a_forged_head_fails(ledger: Ledger, tmp_path: Path) -> None:
    export, sth, key = _saved(ledger, tmp_path)
    forged = json.loads(sth.read_text())
    forged["tree_size"] = 12
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    result = _verify(str(export), "--tree-head", str(tmp_path / "forged.json"),
                     "--public-key", str(key))
    assert result.exit_code == 1 and "does not verify" in result.output


def _rebuild(ledger: Ledger) -> None:
    """What an operator with the key would do to hide a change: rebuild and re-sign."""
    db, signer = ledger.app.extensions["db"], ledger.app.extensions["signer"]
    with db.writing() as session:
        session.execute(sa.delete(MerkleNode))
        session.execute(sa.delete(TreeHeadRow))
        head = session.get(Head, 1)
        assert head is not None
        rows = session.execute(sa.select(Entry.seq, Entry.received_at, Entry.event,
                                         Entry.salt).order_by(Entry.seq)).all()
        head.compact_range, head.size = "", 0
        inputs = [leaves.leaf_input(leaves.line(r.seq, r.received_at, r.event, r.salt))
                  for r in rows]
        for r, h in zip(rows, tree.append_leaves(session, head, inputs), strict=True):
            session.execute(sa.update(Entry).where(Entry.seq == r.seq).values(leaf_hash=h))
        head.size = len(rows)
        tree.sign_head(session, head, signer, 1_900_000_000_000)


def test_a_changed_entry_is_caught_by_verify_and_by_the_consistency_check(
    ledger: Ledger, served: str, tmp_path: Path
) -> None:
    export, sth, key = _saved(ledger, tmp_path)
    db = ledger.app.extensions["db"]
    with db.writing() as session:
        changed = session.connection().exec_driver_sql(
            "UPDATE entries SET event = replace(event, '\"step\":5', '\"step\":7') "
            "WHERE seq = 3")
        assert changed.rowcount == 1
    tampered = tmp_path / "tampered.ndjson"
    tampered.write_bytes(ledger.get("/v1/exports/entries", format="ndjson").get_data())
    result = _verify(str(tampered), "--tree-head", str(sth), "--public-key", str(key))
    assert result.exit_code == 1 and "is not what was signed" in result.output
    online = ["--tree-head", str(sth), "--public-key", str(key), "--url", served,
              "--token", ledger.inspector]
    result = _verify(str(export), *online)
    assert result.exit_code == 1 and "the live log is not what was signed" in result.output
    _rebuild(ledger)
    result = _verify(str(export), *online)
    assert result.exit_code == 1 and "not consistent with the saved tree head" in result.output


def test_a_deleted_entry_is_caught_by_verify_and_by_the_consistency_check(
    ledger: Ledger, served: str, tmp_path: Path
) -> None:
    export, sth, key = _saved(ledger, tmp_path)
    with ledger.app.extensions["db"].writing() as session:
        assert session.connection().exec_driver_sql(
            "DELETE FROM entries WHERE seq = 5").rowcount == 1
    cut = tmp_path / "cut.ndjson"
    cut.write_bytes(ledger.get("/v1/exports/entries", format="ndjson").get_data())
    result = _verify(str(cut), "--tree-head", str(sth), "--public-key", str(key))
    assert result.exit_code == 1 and "entry 5 is missing" in result.output
    online = ["--tree-head", str(sth), "--public-key", str(key), "--url", served,
              "--token", ledger.inspector]
    result = _verify(str(export), *online)
    assert result.exit_code == 1 and "entry 5 is missing from the live log" in result.output
    _rebuild(ledger)
    result = _verify(str(export), *online)
    assert result.exit_code == 1 and "FAILED" in result.output
