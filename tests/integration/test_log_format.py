"""Log format 2 and erasure (docs/ledger-format.md), on real databases and real HTTP.

A ledger written in format 1 upgrades to format 2 without a signed head changing, and
its old heads still verify an export that now mixes both formats. An erased entry keeps
its leaf hash: every proof, tile and signed head still verifies, ``ladder verify`` says
it was erased rather than failing, and its content is gone from the database's files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

import services.ledger
from services.cli import main
from services.ledger import leaves, verify
from services.ledger.models import ApiToken, Entry
from services.ledger.signing import Signer, TreeHead
from shared import merkle
from shared.auth import create_token
from shared.db import Database, make_engine
from shared.embedded_redis import EmbeddedRedis
from shared.migrations import upgrade
from tests.integration.conftest import MakeApp
from tests.support import appending, serving
from tests.support import events as ev
from tests.support.citizens import scrubbable_postgres
from tests.support.databases import database

SEED = bytes(range(32))
OLD = 9  # entries written in format 1, before the upgrade


def _format_1_rows(count: int) -> list[dict[str, Any]]:
    rows = []
    for seq in range(1, count + 1):
        event = ev.involvement("training", seq % 7 + 1, pseudonym=f"p{seq}", org_unit="ward")
        rows.append({"seq": seq, "source": event["source"], "event_id": event["id"],
                     "type": event["type"], "area": "training", "time": "2026-02-01 09:00:00",
                     "received_at": f"2026-02-01 10:00:{seq:02d}.{seq * 1111:06d}",
                     "event": json.dumps(event, sort_keys=True, separators=(",", ":"),
                                         ensure_ascii=False)})
    return rows


@contextmanager
def _format_1_ledger(backend: str, tmp_path: Path) -> Iterator[tuple[str, TreeHead]]:
    """A ledger as revision 0015 left it: OLD format-1 entries, and a head signed over
    them with SEED's key. Built as the log then was, from raw rows: migration 0003 hashes
    them in."""
    signer = Signer(Ed25519PrivateKey.from_private_bytes(SEED))
    with database(backend, tmp_path, "format1") as url:
        upgrade("ledger", url, "0002")
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO entries (seq, source, event_id, type, area, time, received_at, "
                "event) VALUES (:seq, :source, :event_id, :type, :area, :time, :received_at, "
                ":event)"), _format_1_rows(OLD))
        upgrade("ledger", url, "0015")
        with engine.begin() as connection:
            hashes = [bytes(h) for h in connection.scalars(sa.text(
                "SELECT leaf_hash FROM entries ORDER BY seq"))]
            head = signer.sign(OLD, 1_800_000_000_000, merkle.root_of(hashes))
            connection.execute(sa.text("UPDATE ledger_head SET size = :n"), {"n": OLD})
            connection.execute(sa.text(
                "INSERT INTO tree_heads (size, timestamp, root_hash, signature) "
                "VALUES (:size, :timestamp, :root, :signature)"),
                {"size": head.size, "timestamp": head.timestamp, "root": head.root,
                 "signature": head.signature})
        engine.dispose()
        yield url, head


def _app(url: str, redis_server: EmbeddedRedis) -> Flask:
    return services.ledger.create_app({
        "DATABASE_URL": url, "REDIS_URL": redis_server.url, "TESTING": True,
        "SIGNING_KEY": base64.b64encode(SEED).decode(), "AREA_DATABASE_URLS": {}})


def _tokens(app: Flask) -> dict[str, str]:
    db, pepper = app.extensions["db"], app.config["TOKEN_PEPPER"]
    return {verb: create_token(db, ApiToken, pepper, verb, [f"ledger:{verb}"],
                               "checking the log" if verb == "inspect" else None)
            for verb in ("read", "inspect", "admin")}


def _export(app: Flask, token: str, path: Path, fmt: str = "ndjson") -> Path:
    response = app.test_client().get("/v1/exports/entries", query_string={"format": fmt},
                                     headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    path.write_bytes(response.get_data())
    return path


def _sth(app: Flask) -> TreeHead:
    return TreeHead.from_json(app.test_client().get("/ct/v1/get-sth").json)


def _erase(app: Flask, token: str, seq: int, **body: Any) -> Any:
    return app.test_client().post(f"/v1/entries/{seq}/erasure",
                                  json={"ground": "consent-withdrawn", **body},
                                  headers={"Authorization": f"Bearer {token}"})


def test_a_format_1_ledger_upgrades_without_rewriting_a_signed_head(
        backend: str, tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    with _format_1_ledger(backend, tmp_path) as (url, old_head):
        upgrade("ledger", url)
        app = _app(url, redis_server)
        try:
            tokens = _tokens(app)
            db: Database = app.extensions["db"]
            key = app.extensions["signer"].public_key
            result = appending.append(
                db, [ev.involvement("training", 3, org_unit="ward") for _ in range(6)],
                app.extensions["signer"])
            assert result.appended == 6
            new_head = _sth(app)
            assert new_head.size == OLD + 6
            with db.reading() as session:
                kept = session.execute(sa.text(
                    "SELECT size, timestamp, root_hash, signature FROM tree_heads "
                    "WHERE size = :n"), {"n": OLD}).one()
            assert TreeHead(*kept) == old_head  # the format-1 head, byte for byte
            export = _export(app, tokens["inspect"], tmp_path / "mixed.ndjson")
            lines = export.read_bytes().splitlines()
            assert [leaves.salted(line) for line in lines] == [False] * OLD + [True] * 6
            # The old head verifies the first OLD entries, the new one all of them.
            assert verify.verify_export(export, old_head, key).size == OLD
            assert verify.verify_export(export, new_head, key) == verify.Verified(OLD + 6, [])
            csv_export = _export(app, tokens["inspect"], tmp_path / "mixed.csv", "csv")
            assert verify.verify_export(csv_export, new_head, key).size == OLD + 6
            proof = app.test_client().get("/ct/v1/get-sth-consistency", query_string={
                "first": OLD, "second": new_head.size}).json["consistency"]
            merkle.verify_consistency(OLD, new_head.size, [base64.b64decode(h) for h in proof],
                                      old_head.root, new_head.root)
        finally:
            app.extensions["db"].dispose()


def test_an_erased_entry_keeps_its_proofs_and_verify_reports_it(
        backend: str, tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    with _format_1_ledger(backend, tmp_path) as (url, old_head):
        upgrade("ledger", url)
        app = _app(url, redis_server)
        try:
            _erased_in_both_formats(app, old_head, tmp_path)
        finally:
            app.extensions["db"].dispose()


def _erased_in_both_formats(app: Flask, old_head: TreeHead, tmp_path: Path) -> None:
    tokens = _tokens(app)
    db: Database = app.extensions["db"]
    key = app.extensions["signer"].public_key
    marker = "needle-" + hashlib.sha256(tmp_path.name.encode()).hexdigest()[:16]
    # What only the entry holds, not the measures: a note in its data, one per entry.
    appending.append(db, [ev.involvement("training", 5, org_unit="ward", note=f"{marker}-{n}")
                          for n in "abc"], app.extensions["signer"])
    head = _sth(app)
    before = _export(app, tokens["inspect"], tmp_path / "before.ndjson").read_bytes()
    format_1, format_2 = 4, OLD + 2
    for token in ("read", "inspect"):
        assert _erase(app, tokens[token], format_2).status_code == 403
    with ExitStack() as stack:
        if db.engine.dialect.name == "postgresql":
            stack.enter_context(scrubbable_postgres(os.environ["TEST_DATABASE_URL"]))
        response = _erase(app, tokens["admin"], format_2, reference="DPO-2026-117")
        assert response.status_code == 200, response.json
        # A transaction of another test, begun before, can hold the scrub up on a shared
        # server: erasing again finishes it, as docs/api.md says.
        for _ in range(3):
            if response.json["scrub"]["complete"]:
                break
            response = _erase(app, tokens["admin"], format_2)
    assert {k: response.json[k] for k in ("seq", "ground", "reference", "erased_by", "format")
            } == {"seq": format_2, "ground": "consent-withdrawn", "reference": "DPO-2026-117",
                  "erased_by": "admin", "format": 2}
    assert response.json["scrub"]["complete"] is True, response.json["scrub"]
    again = _erase(app, tokens["admin"], format_2, ground="objection")
    assert again.status_code == 200 and again.json["ground"] == "consent-withdrawn"
    assert _erase(app, tokens["admin"], format_1, ground="no-longer-necessary").json[
        "format"] == 1
    # Nothing else changed: no new head, the same leaf hashes, the other lines as they were.
    assert _sth(app) == head
    after = _export(app, tokens["inspect"], tmp_path / "after.ndjson")
    old_lines, new_lines = before.splitlines(), after.read_bytes().splitlines()
    for seq, (was, now) in enumerate(zip(old_lines, new_lines, strict=True), start=1):
        if seq in (format_1, format_2):
            assert leaves.erased_hash(now) == leaves.leaf_hash(was)
        else:
            assert now == was
    assert verify.verify_export(after, head, key) == verify.Verified(head.size,
                                                                     [format_1, format_2])
    assert verify.verify_export(after, old_head, key) == verify.Verified(OLD, [format_1])
    csv_after = _export(app, tokens["inspect"], tmp_path / "after.csv", "csv")
    assert verify.verify_export(csv_after, head, key).erased == [format_1, format_2]
    result = CliRunner().invoke(main, ["verify", str(after), "--tree-head",
                                       str(_saved_head(app, tmp_path)), "--public-key",
                                       str(_saved_key(app, tmp_path))])
    assert result.exit_code == 0, result.output
    assert "2 of them were erased" in result.output
    assert f"entries {format_1}, {format_2}" in result.output
    # The proofs of the erased entries still verify, from the hashes they kept.
    client = app.test_client()
    inspect = {"Authorization": f"Bearer {tokens['inspect']}"}
    for seq in (format_1, format_2):
        leaf_hash = leaves.erased_hash(new_lines[seq - 1])
        assert leaf_hash is not None
        proof = client.get("/ct/v1/get-proof-by-hash", headers=inspect, query_string={
            "hash": base64.b64encode(leaf_hash).decode(), "tree_size": head.size}).json
        assert proof["leaf_index"] == seq - 1
        merkle.verify_inclusion(seq - 1, head.size, leaf_hash,
                                [base64.b64decode(p) for p in proof["audit_path"]], head.root)
    page = client.get("/v1/entries", headers=inspect, query_string={"limit": 100}).json
    erased = {e["seq"]: e for e in page["items"] if e["erased"]}
    assert sorted(erased) == [format_1, format_2]
    assert all(e["event"] is None and e["salt"] is None and e["pseudonym"] is None
               for e in erased.values())
    entries = client.get("/ct/v1/get-entries", headers=inspect,
                         query_string={"start": 0, "end": head.size - 1}).json["entries"]
    # A format-2 erased entry still has its commitment, a format-1 one has no input left.
    assert base64.b64decode(entries[format_2 - 1]["leaf_input"]) == hashlib.sha256(
        old_lines[format_2 - 1]).digest()
    assert entries[format_1 - 1]["leaf_input"] == ""
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    listed = client.get("/v1/erasures", headers=admin).json["items"]
    assert [(e["seq"], e["format"]) for e in listed] == [(format_1, 1), (format_2, 2)]
    # Tiles: the root and the consistency with the old head, from the hash tiles alone.
    with serving.served(app) as base:
        vkey = client.get("/v1/public-key").json["vkey"]
        result = CliRunner().invoke(main, ["verify-log", base, "--vkey", vkey])
        assert result.exit_code == 0, result.output
        assert f"{head.size} entries" in result.output, result.output
    bundle = client.get("/tile/entries/000.p/" + str(head.size), headers=inspect)
    assert bundle.status_code == 409 and f"entry {format_1} was erased" in bundle.json["message"]
    with db.reading() as session:
        rows = session.execute(sa.select(Entry.event, Entry.salt, Entry.subject,
                                         Entry.pseudonym, Entry.leaf_hash)
                               .where(Entry.seq.in_([format_1, format_2]))).all()
    assert all(r[:4] == (None, None, None, None) and len(r.leaf_hash) == 32 for r in rows)
    if db.engine.dialect.name == "sqlite":
        path = Path(db.engine.url.database or "")
        files = [path, *path.parent.glob(path.name + "-*")]
        held = b"".join(f.read_bytes() for f in files if f.exists())
        assert f"{marker}-b".encode() not in held  # the entry erased, format_2
        assert f"{marker}-c".encode() in held  # one not erased, found where it is kept


def _saved_head(app: Flask, tmp_path: Path) -> Path:
    path = tmp_path / "sth.json"
    path.write_text(json.dumps(app.test_client().get("/ct/v1/get-sth").json))
    return path


def _saved_key(app: Flask, tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_text(app.test_client().get("/v1/public-key").json["public_key_pem"])
    return path


@pytest.mark.parametrize(("path", "body", "status"), [
    ("/v1/entries/1/erasure", {}, 422),
    ("/v1/entries/1/erasure", {"ground": "because"}, 422),
    ("/v1/entries/1/erasure", {"ground": 7}, 422),
    ("/v1/entries/1/erasure", {"ground": "objection", "reference": ""}, 422),
    ("/v1/entries/1/erasure", {"ground": "objection", "reference": "x" * 201}, 422),
    ("/v1/entries/1/erasure", {"ground": "objection", "reference": "\ud800"}, 422),
    ("/v1/entries/99/erasure", {"ground": "objection"}, 404),
    ("/v1/entries/0/erasure", {"ground": "objection"}, 404),
    ("/v1/entries/99999999999999999999999/erasure", {"ground": "objection"}, 404),
    ("/v1/entries/-1/erasure", {"ground": "objection"}, 404),
    ("/v1/entries/one/erasure", {"ground": "objection"}, 404),
])
def test_a_refused_erasure_says_why_and_changes_nothing(
        make_app: MakeApp, path: str, body: dict[str, Any], status: int) -> None:
    app = make_app("ledger")
    admin = _tokens(app)["admin"]
    appending.append(app.extensions["db"], [ev.involvement("training", 4)],
                     app.extensions["signer"])
    response = app.test_client().post(path, json=body,
                                      headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == status, response.get_data(as_text=True)
    assert set(response.json) == {"code", "status", "message", "errors"}
    with app.extensions["db"].reading() as session:
        assert session.scalar(sa.select(Entry.event).where(Entry.seq == 1)) is not None
        assert session.scalar(sa.text("SELECT count(*) FROM erasures")) == 0


def test_a_receipt_is_refused_for_an_erased_entry(make_app: MakeApp) -> None:
    app = make_app("ledger")
    tokens = _tokens(app)
    event = ev.involvement("training", 4)
    appending.append(app.extensions["db"], [event], app.extensions["signer"])
    assert _erase(app, tokens["admin"], 1).status_code == 200
    response = app.test_client().get("/v1/receipts", query_string={
        "source": event["source"], "id": event["id"]},
        headers={"Authorization": f"Bearer {tokens['inspect']}"})
    assert response.status_code == 409 and "erased" in response.json["message"]


def test_ladder_entry_erase_erases_as_the_api_does(
        make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app("ledger")
    db: Database = app.extensions["db"]
    appending.append(db, [ev.involvement("training", 4) for _ in range(2)],
                     app.extensions["signer"])
    monkeypatch.setenv("LEDGER_DATABASE_URL", db.engine.url.render_as_string(False))
    runner = CliRunner()
    refused = runner.invoke(main, ["entry", "erase", "2", "--ground", "whim"])
    assert refused.exit_code == 2 and "'whim' is not one of" in refused.output
    assert runner.invoke(main, ["entry", "erase", "3", "--ground", "objection"]).exit_code == 1
    assert runner.invoke(main, ["entry", "erase", "0", "--ground", "objection"]).exit_code == 2
    result = runner.invoke(main, ["entry", "erase", "2", "--ground", "legal-obligation",
                                  "--reference", "court order 17"])
    # On a shared PostgreSQL server the scrub may be left incomplete (wal_recycle, other
    # tests' transactions): the command says so and exits 1, the erasure done.
    if db.engine.dialect.name == "sqlite" or result.exit_code != 1:
        assert result.exit_code == 0, result.output
    else:
        assert "could not be scrubbed" in result.output
    assert "entry 2: erased on legal-obligation" in result.output
    with db.reading() as session:
        assert [tuple(r) for r in session.execute(sa.text(
            "SELECT seq, ground, reference FROM erasures"))] == [
            (2, "legal-obligation", "court order 17")]
        assert session.scalar(sa.select(Entry.event).where(Entry.seq == 2)) is None
        assert session.scalar(sa.select(Entry.event).where(Entry.seq == 1)) is not None
