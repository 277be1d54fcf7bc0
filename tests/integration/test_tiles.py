"""The log as C2SP static resources: the checkpoint and the tiles, checked by a verifier
written from the C2SP texts (tests/support/c2sp.py), which shares no code with the server.
"""

from __future__ import annotations

import base64
import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from services.cli import main
from services.ledger import access, followers, integrity, service, tree, verify
from services.ledger.models import AccessLog, Entry, Head, LeafTile, MerkleNode
from services.ledger.signing import Signer
from services.ledger.tiles import Tile
from services.ledger.webhooks.settings import Settings
from shared import merkle
from tests.integration.conftest import MakeApp
from tests.integration.test_dashboard import _verdict, sign_in
from tests.integration.test_ledger_api import Ledger
from tests.support import c2sp, serving
from tests.support import events as ev

ORIGIN = "ledger.example.org/rose-house"
# Batches that leave signed heads at sizes on both sides of tile boundaries: a partial
# level-0 tile, exactly one full one (with a level-1 tile of width 1), and more.
BATCHES = (5, 250, 1, 100, 156, 3)


class Tiles(Ledger):
    """The ledger over HTTP, as a C2SP client reads it."""

    def __init__(self, app: Flask) -> None:
        super().__init__(app)
        self.batches = 0
        self.checkpoints: list[c2sp.Checkpoint] = []
        self.notes: list[str] = []

    def fetch(self, path: str) -> bytes:
        response = self.http.get(f"/{path}")
        if response.status_code != 200:
            raise LookupError(f"{path}: {response.status_code} {response.get_data(as_text=True)}")
        return response.get_data()

    def fetch_bundle(self, path: str) -> bytes:
        response = self.http.get(f"/{path}", headers={"Authorization": f"Bearer {self.inspector}"})
        if response.status_code != 200:
            raise LookupError(f"{path}: {response.status_code}")
        return response.get_data()

    def log_key(self) -> c2sp.Verifier:
        return c2sp.parse_vkey(self.http.get("/v1/public-key").json["vkey"])

    def checkpoint(self) -> c2sp.Checkpoint:
        self.notes.append(self.http.get("/checkpoint").get_data(as_text=True))
        return c2sp.open_checkpoint(self.notes[-1], self.log_key())

    def append_sized(self, size: int) -> None:
        batch = [ev.involvement("training", pseudonym=f"p{self.batches}-{n}")
                 for n in range(size)]
        self.batches += 1
        result = service.append_batch(self.app.extensions["db"], batch,
                                      self.app.extensions["signer"])
        assert result.appended == size


@pytest.fixture(scope="module")
def ledger(module_make_app: MakeApp) -> Tiles:
    """A ledger whose heads stand at 5, 255, 256, 356, 512 and 515 entries, with the
    checkpoint read after each batch."""
    ledger = Tiles(module_make_app("ledger", LOG_ORIGIN=ORIGIN))
    for size in BATCHES:
        ledger.append_sized(size)
        ledger.checkpoints.append(ledger.checkpoint())
    return ledger


def test_anyone_reads_a_checkpoint_signed_under_the_published_vkey(ledger: Tiles) -> None:
    response = ledger.http.get("/checkpoint")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "max-age=2" in response.headers["Cache-Control"]
    key = ledger.http.get("/v1/public-key").json
    assert key["origin"] == ORIGIN and key["vkey"].startswith(f"{ORIGIN}+")
    checkpoint = c2sp.open_checkpoint(response.get_data(as_text=True), ledger.log_key())
    sth = ledger.http.get("/ct/v1/get-sth").json
    assert (checkpoint.origin, checkpoint.size, checkpoint.extensions) == (ORIGIN, 515, ())
    assert checkpoint.root == base64.b64decode(sth["sha256_root_hash"])
    assert [c.size for c in ledger.checkpoints] == [5, 255, 256, 356, 512, 515]


def test_the_checkpoint_of_an_empty_log_is_the_empty_tree(make_app: MakeApp) -> None:
    empty = Tiles(make_app("ledger"))
    checkpoint = empty.checkpoint()
    assert (checkpoint.size, checkpoint.root) == (0, c2sp.EMPTY_ROOT)
    # The default origin is the key's, under .invalid: never a real address.
    assert checkpoint.origin.startswith("ladder.invalid/")


def test_every_checkpoints_root_comes_from_the_tiles(ledger: Tiles) -> None:
    for checkpoint in ledger.checkpoints:
        assert c2sp.root_from_tiles(checkpoint.size, ledger.fetch,
                                    partial_fallback=False) == checkpoint.root


def test_proofs_from_tiles_verify_and_match_the_ct_api(ledger: Tiles) -> None:
    latest = ledger.checkpoints[-1]
    for old in ledger.checkpoints:
        proof = c2sp.consistency_proof_from_tiles(old.size, latest.size, ledger.fetch,
                                                  partial_fallback=False)
        c2sp.verify_consistency(old.size, latest.size, proof, old.root, latest.root)
        ct = ledger.http.get("/ct/v1/get-sth-consistency",
                             query_string={"first": old.size, "second": latest.size}).json
        assert [base64.b64encode(h).decode() for h in proof] == ct["consistency"]
    leaves = c2sp.parse_hash_tile(ledger.fetch("tile/0/000"), 256) + c2sp.parse_hash_tile(
        ledger.fetch("tile/0/001"), 256) + c2sp.parse_hash_tile(ledger.fetch("tile/0/002.p/3"), 3)
    for index in (0, 4, 254, 255, 256, 300, 511, 514):
        path = c2sp.inclusion_proof_from_tiles(index, latest.size, ledger.fetch,
                                               partial_fallback=False)
        c2sp.verify_inclusion(index, latest.size, leaves[index], path, latest.root)


def test_tiles_exist_exactly_as_the_tree_has_them(ledger: Tiles) -> None:
    # 515 entries: two full level-0 tiles and one of width 3; level 1, one of width 2.
    for path in ("tile/0/000", "tile/0/001", "tile/0/002.p/3", "tile/1/000.p/2",
                 "tile/0/002.p/1", "tile/1/000.p/1", "tile/0/000.p/255"):
        response = ledger.http.get(f"/{path}")
        assert response.status_code == 200, path
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    full = ledger.fetch("tile/0/000")
    assert len(full) == 8192 and ledger.fetch("tile/0/000.p/7") == full[:7 * 32]
    level1 = c2sp.parse_hash_tile(ledger.fetch("tile/1/000.p/2"), 2)
    assert level1 == [merkle.root_of(c2sp.parse_hash_tile(ledger.fetch(f"tile/0/00{i}"), 256))
                      for i in range(2)]
    for path in ("tile/0/002", "tile/0/002.p/4", "tile/1/000", "tile/1/000.p/3", "tile/2/000.p/1",
                 "tile/0/003.p/1", "tile/0/x001/000", "tile/63/000.p/1",
                 # past any 64-bit index, and past any database's integer
                 "tile/0/x999/x999/x999/x999/x999/x999/999",
                 "tile/0/x036/x028/x797/x018/x963/968", "tile/1/x999/x999/x999/x999/x999/999",
                 "tile/0/x999/x999/x999/x999/x999/x999/999.p/1"):
        _refused(ledger.http.get(f"/{path}"), 404, "does not have")


@pytest.mark.parametrize("path", [
    "tile/00/000", "tile/0/0", "tile/0/0000", "tile/0/x000/005", "tile/0/001.p/0",
    "tile/0/001.p/256", "tile/0/001.p/017", "tile/0/001.p/", "tile/0/001.p/-1", "tile/0/1e3",
    "tile/64/000", "tile/-1/000", "tile/0/x1/000", "tile/0/" + "9" * 5000,
    "tile/0/001.p/" + "9" * 5000,
    "tile/0/000/", "tile/0/000.p/1/2", "tile/0/٠٠٠", "tile/0/00١", "tile/0/000.p/١",
    "tile/entries", "tile/0/abc", "tile/ 0/000", "tile/0/000%00", "tile/0/000.P/1",
])
def test_a_path_that_is_not_a_tiles_one_way_of_writing_is_404(ledger: Tiles, path: str) -> None:
    response = ledger.http.get(f"/{path}")
    assert response.status_code == 404, (path, response.status_code)
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_entry_bundles_are_for_the_inspect_tier_and_hash_to_level_0(ledger: Tiles) -> None:
    _refused(ledger.http.get("/tile/entries/000"), 401, "bearer token")
    _refused(ledger.http.get("/tile/entries/000", headers={
        "Authorization": f"Bearer {ledger.auditor}"}), 403, "ledger:inspect")
    latest = ledger.checkpoints[-1]
    for index in range(3):
        entries = c2sp.entries_from_tiles(index, latest.size, _both(ledger),
                                          partial_fallback=False)
        body = ledger.get("/ct/v1/get-entries", start=index * 256,
                          end=min(index * 256 + 255, latest.size - 1)).json
        assert entries == [base64.b64decode(e["leaf_input"]) for e in body["entries"]]
    plain = ledger.fetch_bundle("tile/entries/001")
    response = ledger.http.get("/tile/entries/001", headers={
        "Authorization": f"Bearer {ledger.inspector}", "Accept-Encoding": "gzip, identity"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    assert gzip.decompress(response.get_data()) == plain and len(response.get_data()) < len(plain)
    assert "Content-Encoding" not in ledger.http.get("/tile/entries/001", headers={
        "Authorization": f"Bearer {ledger.inspector}"}).headers


def test_the_checkpoint_and_every_bundle_read_are_in_the_access_log_hash_tiles_not(
        ledger: Tiles) -> None:
    """Hash tiles are public, immutable hashes that a CDN may serve, as static files are:
    not logged. Entry bundles are the entries: logged, with who read them."""
    ledger.http.get("/checkpoint")
    ledger.http.get("/tile/1/000.p/2")
    ledger.fetch_bundle("tile/entries/002.p/3")
    ledger.http.get("/tile/0/001")
    with ledger.app.extensions["db"].reading() as session:
        rows = session.execute(sa.select(AccessLog.path, AccessLog.token_name)
                               .order_by(AccessLog.id.desc()).limit(2)).all()
    assert [tuple(r) for r in rows] == [("/tile/entries/002.p/3", "cqc"), ("/checkpoint", None)]


def test_a_tile_once_served_is_served_from_memory_and_the_same_bytes(make_app: MakeApp
                                                                     ) -> None:
    ledger = Tiles(make_app("ledger"))
    ledger.append_sized(300)
    first = ledger.fetch("tile/0/000")
    with ledger.app.extensions["db"].writing() as session:
        session.execute(sa.update(Entry).where(Entry.seq == 7).values(leaf_hash=None))
    # Served before the change, from memory: the tile is immutable once the tree has it.
    assert ledger.fetch("tile/0/000") == first
    # Never served: read from the database, which no longer has it all.
    _refused(ledger.http.get("/tile/0/000.p/100"), 409, "tampered")


def test_the_tiles_follower_keeps_each_full_leaf_tile_as_one_row(make_app: MakeApp) -> None:
    """Once the follower has applied the entries that fill a tile of level 0, the tile
    is one row, the same bytes as its entries' leaf hashes; a tile it has not reached,
    and a partial one, are still read from the entries."""
    ledger = Tiles(make_app("ledger"))
    db = ledger.app.extensions["db"]
    ledger.append_sized(600)  # tiles 0 and 1 full, 2 partial
    ledger.append_sized(100)
    with db.reading() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LeafTile)) == 0
        from_entries = [tree.tile_hashes(session.connection(), Tile(0, n, 256)) for n in range(2)]
    steps = list(followers.catch_up(db, Settings.defaults(), limit=250,
                                    followers=(followers.TILES,)))
    assert sum(step.applied for step in steps) == 700
    with db.reading() as session:
        kept = dict(session.execute(sa.select(LeafTile.index, LeafTile.hashes)).all())
    assert kept == dict(enumerate(from_entries))
    # Served from the row: it is what a client gets, and it verifies against the root.
    assert ledger.fetch("tile/0/001") == from_entries[1]
    checkpoint = ledger.checkpoint()
    assert c2sp.root_from_tiles(checkpoint.size, ledger.fetch) == checkpoint.root
    # A row of the wrong length is not a tile: the entries are read instead.
    with db.writing() as session:
        session.execute(sa.update(LeafTile).where(LeafTile.index == 0).values(hashes=b"x"))
    assert ledger.fetch("tile/0/000") == from_entries[0]
    # The partial tile is the entries' (the follower never writes it).
    assert len(ledger.fetch("tile/0/002.p/188")) == 32 * 188


def test_a_stored_tile_rewritten_whole_is_served_and_every_client_refuses_it(
        make_app: MakeApp) -> None:
    """The tile route serves ``leaf_tiles`` as it is, without reading the tree: a row
    rewritten with 8,192 bytes of the right shape reaches clients. What protects them is
    the checkpoint: a proof or a root folded from the rewritten tile does not verify."""
    ledger = Tiles(make_app("ledger"))
    db = ledger.app.extensions["db"]
    ledger.append_sized(600)
    list(followers.catch_up(db, Settings.defaults(), followers=(followers.TILES,)))
    checkpoint = ledger.checkpoint()
    with db.reading() as session:
        true = session.scalar(sa.select(LeafTile.hashes).where(LeafTile.index == 0))
    assert true is not None and len(true) == 32 * 256
    # Leaf 4's hash replaced by another, the rest as they were.
    forged = true[:4 * 32] + merkle.leaf_hash(b"rewritten") + true[5 * 32:]
    with db.writing() as session:
        session.execute(sa.update(LeafTile).where(LeafTile.index == 0).values(hashes=forged))
    assert ledger.fetch("tile/0/000") == forged
    leaf_5 = true[5 * 32:6 * 32]
    with pytest.raises(c2sp.VerificationError):
        path = c2sp.inclusion_proof_from_tiles(5, checkpoint.size, ledger.fetch)
        c2sp.verify_inclusion(5, checkpoint.size, leaf_5, path, checkpoint.root)
    vkey = ledger.http.get("/v1/public-key").json["vkey"]
    with serving.served(ledger.app) as url:
        # The root comes from the level-1 tile above it: the root alone cannot tell.
        assert _verify_log(url, "--vkey", vkey).exit_code == 0
        result = _verify_log(url, "--vkey", vkey, "--every-tile")
    assert result.exit_code == 1, result.output
    assert "FAILED: tile/0/000 does not hash to hash 0 of tile/1/000.p/2" in result.output


def test_every_tile_of_a_tree_is_checked_against_the_tile_above_it(make_app: MakeApp) -> None:
    """At sizes where each level has a full tile, a partial one and none: each full tile is
    checked once, and a sound tree passes."""
    ledger = Tiles(make_app("ledger"))
    with serving.served(ledger.app) as url:
        vkey = ledger.http.get("/v1/public-key").json["vkey"]
        for more, full in ((255, 0), (1, 1), (300, 2)):
            ledger.append_sized(more)
            size = ledger.checkpoint().size
            assert verify.check_every_tile(size, ledger.fetch) == full
            result = _verify_log(url, "--vkey", vkey, "--every-tile")
            assert result.exit_code == 0, result.output
            assert "every tile of it hashes into the tile above it" in result.output


def test_a_named_readers_read_that_cannot_be_logged_is_not_served(
        make_app: MakeApp, caplog: pytest.LogCaptureFixture) -> None:
    """Every read by a named reader is logged: when its row cannot be written, the answer
    is replaced by a 503 in the error shape (a page on the dashboard), and the failure is
    logged. An anonymous read of public hashes, and a refusal, still answer."""
    ledger = Tiles(make_app("ledger"))
    ledger.append_sized(5)
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    with ledger.app.extensions["db"].writing() as session:
        session.execute(sa.text("DROP TABLE access_log"))
    year = {"area": "training", "from": "2026-01-01", "to": "2026-12-31"}
    for response in (ledger.get("/v1/entries"), ledger.get("/v1/metrics", ledger.auditor, **year),
                     ledger.http.get("/tile/entries/000.p/5", headers={
                         "Authorization": f"Bearer {ledger.inspector}"})):
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.json["message"] == access.NOT_SERVED
        assert response.headers["Retry-After"] == "5"
        assert b"training" not in response.get_data() and response.json["errors"] == {}
    page = http.get("/dashboard")
    assert page.status_code == 503 and access.NOT_SERVED in page.get_data(as_text=True)
    assert "could not write the access log for /v1/entries" in caplog.text
    assert ledger.http.get("/checkpoint").status_code == 200
    assert ledger.http.get("/v1/entries").status_code == 401


def test_a_tampered_tree_is_refused_in_the_error_shape_never_served(make_app: MakeApp) -> None:
    ledger = Tiles(make_app("ledger"))
    ledger.append_sized(300)
    db = ledger.app.extensions["db"]
    with db.writing() as session:
        session.execute(sa.update(Entry).where(Entry.seq == 7).values(leaf_hash=None))
        session.execute(sa.delete(MerkleNode).where(MerkleNode.id == tree.node_id(8, 0)))
    _refused(ledger.http.get("/tile/0/000"), 409, "tampered")
    _refused(ledger.http.get("/tile/1/000.p/1"), 409, "tampered")
    # Proofs that need the missing hashes fail in the same way: a conflict, not a 500.
    with db.reading() as session:
        eighth = session.scalar(sa.select(Entry.leaf_hash).where(Entry.seq == 8))
    assert eighth is not None
    _refused(ledger.get("/ct/v1/get-proof-by-hash", hash=base64.b64encode(eighth).decode(),
                        tree_size=300), 409, "tampered")
    _refused(ledger.get("/ct/v1/get-sth-consistency", first=257, second=300), 409, "tampered")
    # The bundle is the entries, which are all there; one deleted, it is refused too.
    assert ledger.fetch_bundle("tile/entries/000")
    with db.writing() as session:
        session.execute(sa.delete(Entry).where(Entry.seq == 9))
    _refused(ledger.http.get("/tile/entries/000", headers={
        "Authorization": f"Bearer {ledger.inspector}"}), 409, "tampered")


def test_a_level_2_tile_holds_the_root_of_each_65536_leaves(make_app: MakeApp) -> None:
    """Level 2 needs 65,536 leaves: the tree's hashes are appended directly, with no
    entries behind them, which hash tiles above level 0 never read."""
    ledger = Tiles(make_app("ledger"))
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(65536 + 256 * 3 + 5)]
    db = ledger.app.extensions["db"]
    with db.writing() as session:
        head = session.get(Head, 1)
        assert head is not None
        tree_ = merkle.CompactRange()
        completed: list[tuple[merkle.Node, bytes]] = []
        for h in leaves:
            tree_.append(h, completed)
        session.execute(sa.insert(MerkleNode), [{"id": tree.node_id(*n), "hash": h}
                                                for n, h in completed])
        head.size = len(leaves)
    level2 = ledger.fetch("tile/2/000.p/1")
    assert level2 == merkle.root_of(leaves[:65536])
    level1 = c2sp.parse_hash_tile(ledger.fetch("tile/1/001.p/3"), 3)
    assert level1 == [merkle.root_of(leaves[65536 + 256 * i:65536 + 256 * (i + 1)])
                      for i in range(3)]
    assert len(ledger.fetch("tile/1/000")) == 8192
    _refused(ledger.http.get("/tile/1/001.p/4"), 404, "does not have")


def _both(ledger: Tiles) -> c2sp.Fetch:
    def fetch(path: str) -> bytes:
        return ledger.fetch_bundle(path) if path.startswith("tile/entries/") else \
            ledger.fetch(path)
    return fetch


def _refused(response: Any, status: int, words: str | None) -> None:
    assert response.status_code == status, (response.status_code, response.get_data())
    if words is not None:
        assert words in response.json["message"], response.json


@pytest.fixture
def served(ledger: Tiles) -> Iterator[str]:
    """The ledger over real HTTP, for ladder verify-log."""
    with serving.served(ledger.app) as url:
        yield url


def _verify_log(*args: str) -> Any:
    return CliRunner().invoke(main, ["verify-log", *args])


def test_ladder_verify_log_checks_the_live_log_from_its_tiles_without_a_token(
        ledger: Tiles, served: str, tmp_path: Path) -> None:
    vkey = ledger.http.get("/v1/public-key").json["vkey"]
    saved, later = tmp_path / "checkpoint", tmp_path / "later"
    saved.write_text(ledger.notes[0], encoding="utf-8")
    result = _verify_log(served, "--vkey", vkey, "--checkpoint", str(saved),
                         "--save-checkpoint", str(later))
    assert result.exit_code == 0, result.output
    assert f"OK: {ORIGIN} holds 515 entries" in result.output
    assert "extends the saved checkpoint of 5" in result.output
    assert later.read_text(encoding="utf-8") == ledger.notes[-1]
    key_file = tmp_path / "vkey"
    key_file.write_text(vkey + "\n")
    assert _verify_log(served, "--vkey", str(key_file)).exit_code == 0


def test_ladder_verify_log_fails_on_a_fork_a_truncation_or_another_key(
        ledger: Tiles, served: str, tmp_path: Path) -> None:
    vkey = ledger.http.get("/v1/public-key").json["vkey"]
    signer = ledger.app.extensions["signer"]
    # Checkpoints the log's own key signed over another history: shown to someone once.
    for name, size, words in (("fork", 5, "not consistent"), ("longer", 600, "truncated")):
        other = tmp_path / name
        other.write_text(signer.checkpoint(size, merkle.leaf_hash(name.encode())))
        result = _verify_log(served, "--vkey", vkey, "--checkpoint", str(other))
        assert result.exit_code == 1 and words in result.output, result.output
    stranger = Signer(Ed25519PrivateKey.generate(), ORIGIN)
    result = _verify_log(served, "--vkey", stranger.vkey())
    assert result.exit_code == 1 and "no signature by" in result.output, result.output
    result = _verify_log(served, "--vkey", "not+a+vkey")
    assert result.exit_code == 2 and "verifier key" in result.output, result.output


def test_ladder_verify_log_fails_when_a_tile_does_not_hash_to_the_checkpoint(
        make_app: MakeApp) -> None:
    ledger = Tiles(make_app("ledger"))
    ledger.append_sized(300)
    vkey = ledger.http.get("/v1/public-key").json["vkey"]
    with serving.served(ledger.app) as url:
        assert _verify_log(url, "--vkey", vkey).exit_code == 0
        # Tiles it served stay as they were; the next checkpoint needs new ones.
        ledger.append_sized(300)
        with ledger.app.extensions["db"].writing() as session:
            session.execute(sa.update(MerkleNode).where(MerkleNode.id == tree.node_id(8, 0))
                            .values(hash=merkle.leaf_hash(b"rewritten")))
        result = _verify_log(url, "--vkey", vkey)
    assert result.exit_code == 1, result.output
    assert "hash to root" in result.output and "signed checkpoint says" in result.output


def test_the_integrity_panel_checks_each_stored_tile_once_and_catches_a_rewritten_one(
        make_app: MakeApp) -> None:
    """The dashboard's check folds each full tile of level 0 the tiles follower stored
    since the last check into the tree's hash for it: a stored tile rewritten before the
    check fails it, though the root, read from the tiles above, still verifies."""
    ledger = Tiles(make_app("ledger"))
    db = ledger.app.extensions["db"]
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    ledger.append_sized(600)  # tiles 0 and 1 full
    # The follower has not stored them yet: the check passes and waits for them.
    page = http.get("/dashboard").text
    assert _verdict(page) == "passed" and "tile" not in _detail(page)
    list(followers.catch_up(db, Settings.defaults(), followers=(followers.TILES,)))
    assert "the 2 full tiles of level 0 stored since the last check" in _detail(
        http.get("/dashboard").text)
    ledger.append_sized(300)  # tile 2 full
    list(followers.catch_up(db, Settings.defaults(), followers=(followers.TILES,)))
    with db.reading() as session:
        true = session.scalar(sa.select(LeafTile.hashes).where(LeafTile.index == 2))
    assert true is not None
    forged = true[:4 * 32] + merkle.leaf_hash(b"rewritten") + true[5 * 32:]
    with db.writing() as session:
        session.execute(sa.update(LeafTile).where(LeafTile.index == 2).values(hashes=forged))
    page = http.get("/dashboard").text
    assert _verdict(page) == "failed"
    assert "the stored tile/0/002 does not fold into the hash the tree holds for it" in page
    # Put back, the next check passes, and reads that tile (and only that one) again.
    with db.writing() as session:
        session.execute(sa.update(LeafTile).where(LeafTile.index == 2).values(hashes=true))
    page = http.get("/dashboard").text
    assert _verdict(page) == "passed"
    assert "the 1 full tile of level 0 stored since the last check" in _detail(page)
    # A row of the wrong length is named as such.
    ledger.append_sized(256)  # tile 3 full
    list(followers.catch_up(db, Settings.defaults(), followers=(followers.TILES,)))
    with db.writing() as session:
        session.execute(sa.update(LeafTile).where(LeafTile.index == 3).values(hashes=b"x"))
    page = http.get("/dashboard").text
    assert _verdict(page) == "failed"
    assert "the stored tile/0/003 is 1 bytes, not a tile&#39;s 8,192" in page


def test_the_integrity_panel_checks_at_most_so_many_stored_tiles_at_a_time(
        make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """A check holds the writers' lock: the stored tiles it has not reached wait for the
    next, which starts where it stopped."""
    monkeypatch.setattr(integrity, "TILES_PER_CHECK", 2)
    ledger = Tiles(make_app("ledger"))
    db = ledger.app.extensions["db"]
    http = ledger.app.test_client()
    sign_in(http, ledger.auditor)
    ledger.append_sized(5 * 256)
    list(followers.catch_up(db, Settings.defaults(), followers=(followers.TILES,)))
    with db.writing() as session:
        session.execute(sa.update(LeafTile).where(LeafTile.index == 4).values(
            hashes=merkle.leaf_hash(b"rewritten") * 256))
    details = [_detail(http.get("/dashboard").text) for _ in range(3)]
    assert "the 2 full tiles of level 0" in details[0] and "the 2 full tiles" in details[1]
    assert "passed" in details[1] and "the stored tile/0/004 does not fold" in details[2]


def _detail(page: str) -> str:
    found = re.search(r'data-check="\w+".*?</p>', page, re.S)
    assert found
    return found.group(0)
