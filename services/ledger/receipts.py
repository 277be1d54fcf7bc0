"""Offline receipts (c2sp.org/tlog-proof): proof that an entry is in the log, which anyone
holding the log's and the witnesses' public keys can check with no network at all.

A receipt is the line ``c2sp.org/tlog-proof@v1``, ``extra`` and the entry's line in
base64 (what its leaf hash is computed from, services.ledger.leaves), ``index`` and the
entry's leaf index, its inclusion proof one hash a line, an empty line, and the
checkpoint it was proved against: with witnesses, the newest one a quorum of them
cosigned, their cosignatures included.
``ladder verify-receipt`` checks one.
"""

from __future__ import annotations

import base64
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from services.ledger import tree, witnessing
from services.ledger.models import Entry
from services.ledger.signing import Signer
from services.ledger.witnessing import Witness
from shared import merkle
from shared.auth import require
from shared.blueprint import Blueprint
from shared.db import Database, current_db
from shared.errors import Conflict, NotFound
from shared.fields import INT64_MAX

blp = Blueprint("receipts", __name__, url_prefix="/v1",
                description="Offline receipts of entries, in the C2SP tlog-proof form")

FIRST_LINE = "c2sp.org/tlog-proof@v1"


def receipt(index: int, leaf: bytes, path: list[bytes], checkpoint: str) -> str:
    hashes = "".join(base64.b64encode(h).decode() + "\n" for h in path)
    return (f"{FIRST_LINE}\nextra {base64.b64encode(leaf).decode()}\nindex {index}\n"
            f"{hashes}\n{checkpoint}")


class ReceiptArgs(Schema):
    source = fields.String(required=True, validate=validate.Length(min=1, max=512))
    id = fields.String(required=True, validate=validate.Length(min=1, max=512),
                       metadata={"description": "the CloudEvent id the entry was sent with"})


@blp.route("/receipts")
class Receipt(MethodView):
    @require("inspect")
    @blp.arguments(ReceiptArgs, location="query")
    @blp.response(200, description="A .tlog-proof file", content_type="text/plain")
    def get(self, args: dict[str, Any]) -> Response:
        """A receipt of the entry an organisation's system sent with this source and id:
        its leaf, its inclusion proof and the (cosigned) checkpoint it is proved in."""
        with current_db().reading() as session:
            seq = session.scalar(sa.select(Entry.seq).where(
                Entry.source == args["source"], Entry.event_id == args["id"]))
        if seq is None:
            raise NotFound("No entry with that source and id.")
        return download(current_db(), seq)


def download(db: Database, seq: int) -> Response:
    """Entry ``seq``'s receipt as a file to save: for the API and the dashboard."""
    ext = current_app.extensions
    text = of_entry(db, seq, ext["signer"], ext["witnesses"],
                    current_app.config["WITNESS_QUORUM"])
    return Response(text, content_type="text/plain; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="ladder-{seq}.tlog-proof"'})


def of_entry(db: Database, seq: int, signer: Signer, witnesses: list[Witness],
             quorum: int) -> str:
    """Entry ``seq``'s receipt: its leaf, its inclusion proof, and the newest checkpoint a
    quorum of the witnesses cosigned (the latest, without witnesses). 404 for no such
    entry; 409 for an erased one, or one newer than that checkpoint."""
    with db.reading() as session:
        # A seq past 64 bits is in no log, and in no database's integer.
        found = tree.leaves_between(session.connection(), seq, seq) if 1 <= seq <= INT64_MAX else []
        if not found:
            raise NotFound(f"No entry {seq}.")
        (leaf,) = found
        if leaf.erased:
            raise Conflict(f"Entry {seq} was erased: its content is gone, so there is "
                           f"nothing for a receipt to prove.")
        served = witnessing.served_checkpoint(session, signer, witnesses, quorum)
        if served is None:
            raise Conflict("No checkpoint is cosigned by a quorum of the witnesses yet: "
                           "ask again shortly.")
        size, checkpoint = served.size, served.note
        if seq > size:
            raise Conflict(f"Entry {seq} is newer than the checkpoint of size {size} "
                           f"that the witnesses cosigned: ask again shortly.")
        path = merkle.prove(merkle.inclusion_ranges(seq - 1, size),
                            tree.fetcher(session.connection()))
    return receipt(seq - 1, leaf.line, path, checkpoint)
