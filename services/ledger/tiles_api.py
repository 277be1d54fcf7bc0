"""The log as C2SP static resources: ``/checkpoint`` and ``/tile/…`` (c2sp.org/tlog-tiles).

They are the same tree as the CT-shaped API (services.ledger.log_api), in the form that
C2SP witnesses, monitors and verifiers read. The checkpoint and the hash tiles are hashes
only: anyone may fetch them, without a token. Entry bundles are the entries themselves:
they need ``ledger:inspect``.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from flask import Response, current_app, request
from flask.views import MethodView

from services.ledger import tiles, tree, witnessing
from services.ledger.tiles import Tile
from shared.auth import require
from shared.blueprint import Blueprint
from shared.db import current_db
from shared.errors import Conflict, NotFound

blp = Blueprint("tlog", __name__, url_prefix="",
                description="The log as C2SP tlog-tiles: checkpoint, tiles, entry bundles")

IMMUTABLE = "max-age=31536000, immutable"
MAX_BUNDLE_ENTRY = 0xFFFF  # each entry of a bundle has a uint16 length
T = TypeVar("T")


@blp.route("/checkpoint")
class Checkpoint(MethodView):
    @blp.response(200, description="The latest tree head as a C2SP checkpoint (signed note)",
                  content_type="text/plain")
    def get(self) -> Response:
        """The latest tree head as a signed C2SP checkpoint; no token needed. With
        witnesses, the newest one a quorum of them cosigned, with their cosignatures."""
        signer, witnesses = current_app.extensions["signer"], current_app.extensions["witnesses"]
        quorum = current_app.config["WITNESS_QUORUM"]
        with current_db().reading() as session:
            served = witnessing.served_checkpoint(session, signer, witnesses, quorum) or \
                witnessing.served_checkpoint(session, signer, [], quorum)
        assert served is not None  # without witnesses there is always one
        note = served.note
        # Mutable: no cache may keep it for more than a moment (tlog-tiles).
        return Response(note, content_type="text/plain; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=2"})


def _read(level: str, rest: str, read: Callable[[sa.Connection, Tile], T]) -> tuple[Tile, T]:
    """The tile the path names, and what ``read`` finds of it in a tree that has it all."""
    tile = tiles.parse(level, rest)
    if tile is None:
        raise NotFound(f"tile/{level}/{rest} is not a tile's path (c2sp.org/tlog-tiles).")
    with current_db().looking_up() as connection:
        size = tree.current_size(connection)
        if not tiles.available(tile, size):
            raise NotFound(f"The tree of size {size} does not have all of {tile.path()}.")
        try:
            return tile, read(connection, tile)
        except LookupError as exc:
            raise Conflict(f"The log cannot serve {tile.path()}: {exc}.") from exc


@blp.route("/tile/<level>/<path:rest>")
class HashTile(MethodView):
    @blp.response(200, description="256 hashes of 32 bytes, or W of a partial tile",
                  content_type="application/octet-stream")
    def get(self, level: str, rest: str) -> Response:
        """A tile of the Merkle tree's hashes; no token needed."""
        if level == "entries":  # only without a token: the next route takes the rest
            raise NotFound("Entry bundles need a path under tile/entries/.")
        cache: tiles.Cache = current_app.extensions["tiles"]
        named = tiles.parse(level, rest)
        body = cache.get(named) if named is not None else None
        if body is None and named is not None and named.level == 0 \
                and named.width == tiles.WIDTH and named.index < tiles.MAX_INDEX:
            # Written once the log had all of it: no need to read the tree's size first.
            with current_db().looking_up() as connection:
                body = tree.stored_leaf_tile(connection, named.index)
            if body is not None:
                cache.put(named, body)
        if body is None:
            tile, read = _read(level, rest, tree.tile_hashes)
            cache.put(tile, read)
            body = read
        return Response(body, content_type="application/octet-stream",
                        headers={"Cache-Control": f"public, {IMMUTABLE}"})


@blp.route("/tile/entries/<path:rest>")
class EntryBundle(MethodView):
    @require("inspect")
    @blp.response(200, description="Entries, each after its length as a big-endian uint16",
                  content_type="application/octet-stream")
    def get(self, rest: str) -> Response:
        """The entries whose leaf hashes level 0's tile of the same index holds."""
        tile, leaves = _read("entries", rest, tree.bundle_leaves)
        too_long = [i for i, leaf in enumerate(leaves) if len(leaf) > MAX_BUNDLE_ENTRY]
        if too_long:
            raise Conflict(f"Entry {tile.first + too_long[0]} is longer than an entry "
                           f"bundle can hold ({MAX_BUNDLE_ENTRY} bytes): read it with "
                           f"/ct/v1/get-entries.")
        body = b"".join(len(leaf).to_bytes(2, "big") + leaf for leaf in leaves)
        headers = {"Cache-Control": f"private, {IMMUTABLE}", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return Response(body, content_type="application/octet-stream", headers=headers)
