"""The Merkle log, in the shapes of the Certificate Transparency API (RFC 6962 section 4).

Hashes and signatures travel base64-encoded, as in CT. Tree heads and consistency
proofs are hashes only: anyone may fetch them, without a token, to verify the log.
Leaves and inclusion proofs are per entry: they need ``ledger:inspect``.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.ledger import tree
from services.ledger.models import Entry, Head, TreeHeadRow
from shared import merkle
from shared.auth import require
from shared.blueprint import Blueprint
from shared.db import current_db
from shared.errors import Conflict, Invalid, NotFound
from shared.fields import INT64_MAX, cursor


def _prove(connection: sa.Connection, ranges: list[merkle.Range]) -> list[bytes]:
    try:
        return merkle.prove(ranges, tree.fetcher(connection))
    except LookupError as exc:
        raise Conflict(f"The log cannot prove this: {exc}.") from exc

blp = Blueprint("log", __name__, url_prefix="/ct/v1",
                description="The Merkle log: signed tree heads, proofs and entries")
keys = Blueprint("keys", __name__, url_prefix="/v1", description="The log's public key")

MAX_ENTRIES = 1000


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


class STHSchema(Schema):
    tree_size = fields.Integer(required=True)
    timestamp = fields.Integer(required=True, metadata={"description": "milliseconds"})
    sha256_root_hash = fields.String(required=True)
    tree_head_signature = fields.String(required=True, metadata={
        "description": "Ed25519 over RFC 6962 TreeHeadSignature bytes; see ledger-format.md"})


@blp.route("/get-sth")
class GetSTH(MethodView):
    @blp.response(200, STHSchema)
    def get(self) -> dict[str, Any]:
        """The latest signed tree head; no token needed."""
        with current_db().looking_up() as connection:
            head = tree.latest_head(connection)
        if head is None:
            # Nothing appended yet: the empty tree, signed now.
            head = current_app.extensions["signer"].sign(0, int(time.time() * 1000),
                                                         merkle.EMPTY_ROOT)
        return head.as_json()


@blp.route("/get-sth-history")
class GetSTHHistory(MethodView):
    @blp.arguments(Schema.from_dict({"limit": fields.Integer(
        load_default=20, validate=validate.Range(min=1, max=1000))}), location="query")
    @blp.response(200, STHSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """The most recent signed tree heads, newest first; no token needed."""
        with current_db().reading() as session:
            rows = session.scalars(sa.select(TreeHeadRow).order_by(TreeHeadRow.size.desc())
                                   .limit(args["limit"]))
            return [{"tree_size": r.size, "timestamp": r.timestamp,
                     "sha256_root_hash": _b64(r.root_hash),
                     "tree_head_signature": _b64(r.signature)} for r in rows]


def _in_order(data: dict[str, Any], low: str, high: str) -> None:
    if low in data and high in data and data[low] > data[high]:
        raise ValidationError(f"must not be smaller than {low}", field_name=high)


class ConsistencyArgs(Schema):
    first = cursor(maximum=INT64_MAX, required=True)
    second = cursor(maximum=INT64_MAX, required=True)

    @validates_schema
    def _order(self, data: dict[str, Any], **_: Any) -> None:
        _in_order(data, "first", "second")


class ConsistencySchema(Schema):
    consistency = fields.List(fields.String(), required=True)


def _beyond(current: int, size: int, name: str) -> None:
    if size > current:
        raise Invalid(f"{name} {size} is beyond the current tree size {current}.",
                      {"query": {name: [f"Must be at most {current}."]}})


@blp.route("/get-sth-consistency")
class GetConsistency(MethodView):
    @blp.arguments(ConsistencyArgs, location="query")
    @blp.response(200, ConsistencySchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """A proof that the tree of size ``second`` extends the tree of size ``first``;
        no token needed."""
        with current_db().looking_up() as connection:
            _beyond(tree.current_size(connection), args["second"], "second")
            path = _prove(connection, merkle.consistency_ranges(args["first"], args["second"]))
        return {"consistency": [_b64(h) for h in path]}


# The tree's size and the entries with a leaf hash, built once (every proof asks it).
_LEAF = (sa.select(Head.size, Entry.seq).select_from(Head)
         .outerjoin(Entry, Entry.leaf_hash == sa.bindparam("leaf")).where(Head.id == 1))


class ProofArgs(Schema):
    hash = fields.String(required=True, metadata={"description": "base64 leaf hash"})
    tree_size = cursor(1, INT64_MAX, required=True)


class ProofSchema(Schema):
    leaf_index = fields.Integer(required=True)
    audit_path = fields.List(fields.String(), required=True)


@blp.route("/get-proof-by-hash")
class GetProof(MethodView):
    @require("inspect")
    @blp.arguments(ProofArgs, location="query")
    @blp.response(200, ProofSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """An inclusion proof of the leaf with this hash in the tree of ``tree_size``."""
        try:
            leaf = base64.b64decode(args["hash"], validate=True)
        except (binascii.Error, ValueError):
            leaf = b""
        if len(leaf) != 32:
            raise Invalid("hash must be a base64 SHA-256 leaf hash.",
                          {"query": {"hash": ["Not 32 bytes of base64."]}})
        with current_db().looking_up() as connection:
            # The tree's size and the entries with this leaf hash, in one statement;
            # through the hash's index, then the first in Python: with ``ORDER BY seq
            # LIMIT 1`` (or ``min(seq)``) PostgreSQL may walk the primary key instead,
            # filtering every entry before it: 342 ms for the 777,777th of 1M.
            rows = connection.execute(_LEAF, {"leaf": leaf}).all()
            _beyond(rows[0].size if rows else 0, args["tree_size"], "tree_size")
            seq = min((r.seq for r in rows if r.seq is not None), default=None)
            if seq is None or seq > args["tree_size"]:
                raise NotFound(f"No leaf with that hash in the tree of size {args['tree_size']}.")
            path = _prove(connection, merkle.inclusion_ranges(seq - 1, args["tree_size"]))
        return {"leaf_index": seq - 1, "audit_path": [_b64(h) for h in path]}


class EntriesArgs(Schema):
    start = cursor(maximum=INT64_MAX, required=True)
    end = cursor(maximum=INT64_MAX, required=True)

    @validates_schema
    def _order(self, data: dict[str, Any], **_: Any) -> None:
        _in_order(data, "start", "end")


class LeafSchema(Schema):
    leaf_input = fields.String(required=True, metadata={"description": "base64 leaf bytes"})
    extra_data = fields.String(required=True)


@blp.route("/get-entries")
class GetEntries(MethodView):
    @require("inspect")
    @blp.arguments(EntriesArgs, location="query")
    @blp.response(200, Schema.from_dict({"entries": fields.List(fields.Nested(LeafSchema))}))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Leaves ``start`` to ``end`` (0-based, inclusive; at most 1000 at a time, and
        none beyond the tree)."""
        with current_db().looking_up() as connection:
            size = tree.current_size(connection)
            if args["start"] >= size:
                raise Invalid(f"start {args['start']} is beyond the last leaf of the tree of "
                              f"size {size}.",
                              {"query": {"start": [f"Must be smaller than {size}."]}})
            # Bounded by the tree, so that start + 1 and end + 1 fit the BIGINT column.
            end = min(args["end"], args["start"] + MAX_ENTRIES - 1, size - 1)
            found = tree.leaves_between(connection, args["start"] + 1, end + 1)
            # leaf_input hashes to the leaf (RFC 9162 2.1); in format 2 it is a commitment,
            # and extra_data carries the line it commits to (docs/ledger-format.md).
            return {"entries": [
                {"leaf_input": _b64(leaf.input or b""),
                 "extra_data": "" if leaf.input == leaf.line else _b64(leaf.line)}
                for leaf in found]}


class PublicKeySchema(Schema):
    algorithm = fields.String()
    public_key = fields.String(metadata={"description": "base64 of the raw 32 bytes"})
    public_key_pem = fields.String()
    key_id = fields.String(metadata={"description": "SHA-256 of the raw key, hex"})
    origin = fields.String(metadata={"description": "the log's name in its C2SP checkpoints"})
    vkey = fields.String(metadata={
        "description": "the C2SP signed-note verifier key of the checkpoints: "
                       "<origin>+<key ID in hex>+<base64 of 0x01 and the raw key>"})


@keys.route("/public-key")
class PublicKey(MethodView):
    @keys.response(200, PublicKeySchema)
    def get(self) -> dict[str, str]:
        """The key that signs tree heads; no token needed."""
        return dict(current_app.extensions["signer"].public_json())
