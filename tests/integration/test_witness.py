"""A witness cosigns each checkpoint that extends the last it cosigned, and refuses a fork.

The ledger's checkpoints and consistency proofs come from a real ledger app; the witness
is its own app, on its own database. Cosignatures are checked with the verifier written
from the C2SP texts (tests/support/c2sp.py).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from services.cli import main
from services.ledger import integrity, service, witnessing
from services.ledger.models import ApiToken as LedgerToken
from services.ledger.models import Entry, WitnessCosignature
from services.witness.models import Cosignature
from shared import notes
from shared.auth import create_token
from tests.integration.conftest import PURPOSE, MakeApp
from tests.support import c2sp, serving
from tests.support import events as ev

ORIGIN = "ledger.example.org/rose-house"
LOG_SEED = base64.b64encode(bytes(range(32))).decode()
WITNESS_SEED = base64.b64encode(bytes(range(32, 64))).decode()
WITNESS_NAME = "witness.example.org/healthwatch"


class Log:
    """A ledger app, and what a log sends its witness."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.http = app.test_client()
        self.batches = 0

    def append(self, size: int, changed: int | None = None) -> None:
        """``size`` entries; with ``changed``, the entry of that index is another event."""
        batch = [ev.involvement("training", pseudonym=f"p{self.batches}-{n}",
                                hours=2 if n == changed else 1) for n in range(size)]
        self.batches += 1
        assert service.append_batch(self.app.extensions["db"], batch,
                                    self.app.extensions["signer"]).appended == size

    def checkpoint(self) -> str:
        return self.http.get("/checkpoint").get_data(as_text=True)

    def body(self, old: int, note: str | None = None) -> bytes:
        note = note or self.checkpoint()
        size = int(note.split("\n")[1])
        proof: list[bytes] = []
        if 0 < old < size:
            found = self.http.get("/ct/v1/get-sth-consistency",
                                  query_string={"first": old, "second": size}).json
            proof = [base64.b64decode(h) for h in found["consistency"]]
        return c2sp.add_checkpoint_body(old, proof, note)

    def vkey(self) -> str:
        return str(self.http.get("/v1/public-key").json["vkey"])


def _log(make_app: MakeApp) -> Log:
    return Log(make_app("ledger", LOG_ORIGIN=ORIGIN, SIGNING_KEY=LOG_SEED))


def _witness(make_app: MakeApp, *vkeys: str) -> Flask:
    return make_app("witness", WITNESS_NAME=WITNESS_NAME, WITNESS_KEY=WITNESS_SEED,
                    WITNESS_LOGS=[notes.Verifier.parse(v) for v in vkeys])


def _add(witness: Flask, body: bytes) -> Any:
    return witness.test_client().post("/add-checkpoint", data=body,
                                      content_type="text/plain")


def _witness_key(witness: Flask) -> c2sp.Verifier:
    return c2sp.parse_vkey(witness.test_client().get("/v1/witness").json["vkey"])


def test_the_witness_cosigns_each_checkpoint_that_extends_the_last(make_app: MakeApp) -> None:
    log = _log(make_app)
    witness = _witness(make_app, log.vkey())
    key = _witness_key(witness)
    log.append(5)
    for old, grow in ((0, 7), (5, 1), (12, 300), (13, 0)):
        note = log.checkpoint()
        response = _add(witness, log.body(old, note))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.content_type == "text/plain; charset=utf-8"
        line = response.get_data(as_text=True)
        assert line.startswith(f"\u2014 {WITNESS_NAME} ") and line.endswith("\n")
        # Appended to the checkpoint, the line verifies as a tlog-cosignature.
        assert c2sp.verify_cosignature(note + line, key) > 0
        assert c2sp.open_checkpoint(note + line, c2sp.parse_vkey(log.vkey())).origin == ORIGIN
        log.append(grow) if grow else None
    state = witness.test_client().get("/v1/witness").json
    assert state["name"] == WITNESS_NAME
    assert [(entry["origin"], entry["size"]) for entry in state["logs"]] == [(ORIGIN, 313)]
    # The monitoring endpoint serves the last checkpoint cosigned, both signatures on it.
    served = witness.test_client().get(state["logs"][0]["checkpoint_path"])
    assert served.status_code == 200
    c2sp.verify_cosignature(served.get_data(as_text=True), key)
    assert c2sp.open_checkpoint(served.get_data(as_text=True),
                                c2sp.parse_vkey(log.vkey())).size == 313
    with witness.extensions["db"].reading() as session:
        assert session.scalars(sa.select(Cosignature.size).order_by(Cosignature.id)).all() == [
            5, 12, 13, 313]


def test_a_fork_is_refused_and_the_witness_keeps_the_history_it_cosigned(
        make_app: MakeApp) -> None:
    """A copy of the ledger, under the same key and origin, with one old entry rewritten
    and every tree head signed again: the witness that cosigned the original refuses it."""
    log, fork = _log(make_app), _log(make_app)
    witness = _witness(make_app, log.vkey())
    log.append(5)
    fork.append(5, changed=3)
    assert _add(witness, log.body(0)).status_code == 200
    # The same size, another root: the key signed two trees of one size.
    refused = _add(witness, fork.body(5))
    assert refused.status_code == 422 and "a fork" in refused.json["message"]
    # Grown, with a proof from its own tree of 5: it does not extend the one cosigned.
    fork.append(4)
    refused = _add(witness, fork.body(5))
    assert refused.status_code == 422, refused.get_data(as_text=True)
    assert "does not extend the one of size 5" in refused.json["message"]
    # The honest log goes on being cosigned.
    log.append(4)
    assert _add(witness, log.body(5)).status_code == 200


def test_the_size_the_witness_expects_is_a_409_in_the_protocols_shape(
        make_app: MakeApp) -> None:
    log = _log(make_app)
    witness = _witness(make_app, log.vkey())
    log.append(5)
    assert _add(witness, log.body(0)).status_code == 200
    log.append(3)
    for old in (0, 3, 6):
        response = _add(witness, log.body(old))
        assert response.status_code == 409
        assert response.content_type == "text/x.tlog.size"
        assert response.get_data() == b"5\n"
    # Ahead of the checkpoint itself: 400.
    response = _add(witness, log.body(9))
    assert response.status_code == 400 and "larger than" in response.json["message"]


def test_what_is_not_the_followed_log_signing_is_refused(make_app: MakeApp) -> None:
    log = _log(make_app)
    witness = _witness(make_app, log.vkey())
    log.append(5)
    body = log.body(0)
    # Another log altogether: 404.
    other = Log(make_app("ledger", LOG_ORIGIN="ledger.example.org/elsewhere"))
    other.append(1)
    assert _add(witness, other.body(0)).status_code == 404
    # The same origin, signed by another key: 403.
    impostor = Log(make_app("ledger", LOG_ORIGIN=ORIGIN))
    impostor.append(5)
    refused = _add(witness, impostor.body(0))
    assert refused.status_code == 403 and "no signature by" in refused.json["message"]
    # The log's key, but the signature does not fit the text: 403.
    tampered = body.replace(b"\n5\n", b"\n6\n", 1)
    assert _add(witness, tampered).status_code == 403
    # A proof from size 0: 422.
    proof_line = base64.b64encode(bytes(32)).decode().encode()
    assert _add(witness, body.replace(b"old 0\n", b"old 0\n" + proof_line + b"\n", 1)
                ).status_code == 422
    assert _add(witness, body).status_code == 200


@pytest.mark.parametrize("body", [
    b"", b"old 0\n", b"old 00\n\nx\n", b"old -1\n\nx\n", b"old 1e3\n\nx\n", b"old\n\nx\n",
    b"old 0\nnot base64\n\nx\n", b"old 0\nAAAA\n\nx\n", b"\xff\xfe\n\n", b"old 0 \n\nx\n",
    b"old 0\n" + b"".join(base64.b64encode(bytes(32)) + b"\n" for _ in range(64)) + b"\nx\n",
    b"old 99999999999999999999999\n\nx\n", b"new 0\n\nx\n",
])
def test_a_malformed_request_is_400_in_the_error_shape(make_app: MakeApp, body: bytes) -> None:
    witness = _witness(make_app)
    response = _add(witness, body)
    assert response.status_code == 400, (body, response.status_code)
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_concurrent_submissions_are_checked_and_recorded_one_at_a_time(
        make_app: MakeApp) -> None:
    """tlog-witness: checking the old size and recording the new checkpoint are atomic,
    or two requests could roll the witness's view back."""
    log = _log(make_app)
    witness = _witness(make_app, log.vkey())
    log.append(5)
    body = log.body(0)
    statuses: list[int] = []

    def send() -> None:
        statuses.append(_add(witness, body).status_code)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] + [409] * 5
    with witness.extensions["db"].reading() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Cosignature)) == 1


def test_the_witness_remembers_across_a_restart(make_app: MakeApp) -> None:
    log = _log(make_app)
    witness = _witness(make_app, log.vkey())
    log.append(5)
    assert _add(witness, log.body(0)).status_code == 200
    again = make_app("witness", DATABASE_URL=witness.config["DATABASE_URL"],
                     WITNESS_NAME=WITNESS_NAME, WITNESS_KEY=WITNESS_SEED,
                     WITNESS_LOGS=[notes.Verifier.parse(log.vkey())])
    assert _add(again, log.body(0)).get_data() == b"5\n"


def test_a_witness_key_is_never_taken_for_a_log_key() -> None:
    key = Ed25519PrivateKey.generate()
    witness_vkey = notes.vkey(WITNESS_NAME, notes.raw_public_key(key), notes.COSIGNATURE)
    with pytest.raises(notes.NoteError):
        notes.Verifier.parse(witness_vkey)
    verifier = notes.Verifier.parse(witness_vkey, notes.COSIGNATURE)
    text = notes.checkpoint_body(ORIGIN, 1, bytes(32))
    line = notes.cosign(text, WITNESS_NAME, key, 1_700_000_000)
    assert notes.cosigned_at(text + "\n" + line, verifier) == 1_700_000_000
    with pytest.raises(notes.NoteError):
        notes.open_note(text + "\n" + line, verifier)


def test_the_ledger_serves_the_newest_checkpoint_a_quorum_of_its_witnesses_cosigned(
        make_app: MakeApp, tmp_path: Path) -> None:
    """The ledger asks each witness, over HTTP, for the latest head; /checkpoint is the
    newest one every witness (the quorum, here) cosigned; ladder verify-log checks it."""
    seeds = [base64.b64encode(bytes([i]) * 32).decode() for i in (7, 8)]
    log_key = notes.vkey(ORIGIN, notes.raw_public_key(
        Ed25519PrivateKey.from_private_bytes(base64.b64decode(LOG_SEED))))
    witnesses = [make_app("witness", WITNESS_NAME=f"witness.example.org/w{i}", WITNESS_KEY=s,
                          WITNESS_LOGS=[notes.Verifier.parse(log_key)])
                 for i, s in enumerate(seeds)]
    with ExitStack() as stack:
        urls = [stack.enter_context(serving.served(w)) for w in witnesses]
        vkeys = [w.test_client().get("/v1/witness").json["vkey"] for w in witnesses]
        ledger = make_app("ledger", LOG_ORIGIN=ORIGIN, SIGNING_KEY=LOG_SEED, WITNESS_QUORUM=2,
                          WITNESSES=[(u, notes.Verifier.parse(v, notes.COSIGNATURE))
                                     for u, v in zip(urls, vkeys, strict=True)])
        log, db = Log(ledger), ledger.extensions["db"]
        signer, asked = ledger.extensions["signer"], ledger.extensions["witnesses"]
        log.append(5)
        # None has cosigned yet: the log's own checkpoint, with no cosignature.
        assert c2sp.count_cosignatures(log.checkpoint(), [c2sp.parse_vkey(v) for v in vkeys]
                                       ) == []
        assert [witnessing.request_cosignature(db, signer, w) for w in asked] == [5, 5]
        log.append(3)
        assert witnessing.request_cosignature(db, signer, asked[0]) == 8
        served = log.checkpoint()  # the newest both cosigned is still 5
        assert c2sp.open_checkpoint(served, c2sp.parse_vkey(log_key)).size == 5
        assert sorted(c2sp.count_cosignatures(served, [c2sp.parse_vkey(v) for v in vkeys])
                      ) == ["witness.example.org/w0", "witness.example.org/w1"]
        # The second witness's record of it lost on the ledger's side: its 409 says 5.
        with db.writing() as session:
            session.execute(sa.delete(WitnessCosignature)
                            .where(WitnessCosignature.witness == "witness.example.org/w1"))
        assert witnessing.request_cosignature(db, signer, asked[1]) == 8
        assert c2sp.open_checkpoint(log.checkpoint(), c2sp.parse_vkey(log_key)).size == 8
        with serving.served(ledger) as url:
            args = ["verify-log", url, "--vkey", log_key, "--witness", vkeys[0], "--witness",
                    vkeys[1]]
            result = CliRunner().invoke(main, args)
            assert result.exit_code == 0, result.output
            assert "at least 2 of 2 witnesses cosigned it" in result.output
            stranger = notes.vkey("witness.example.org/w9", notes.raw_public_key(
                Ed25519PrivateKey.generate()), notes.COSIGNATURE)
            result = CliRunner().invoke(main, [*args, "--witness", stranger])
            assert result.exit_code == 1 and "cosigned by 2 of the 3" in result.output
            assert CliRunner().invoke(main, [*args, "--witness", stranger, "--quorum", "2"]
                                      ).exit_code == 0


def test_a_receipt_proves_an_entry_offline_with_the_public_keys_alone(
        make_app: MakeApp, tmp_path: Path) -> None:
    """GET /v1/receipts gives a c2sp.org/tlog-proof of an entry, in the checkpoint its
    witness cosigned; ladder verify-receipt and the C2SP verifier both accept it, and
    refuse it changed."""
    witness = _witness(make_app, notes.vkey(ORIGIN, notes.raw_public_key(
        Ed25519PrivateKey.from_private_bytes(base64.b64decode(LOG_SEED)))))
    witness_vkey = witness.test_client().get("/v1/witness").json["vkey"]
    with serving.served(witness) as url:
        ledger = make_app("ledger", LOG_ORIGIN=ORIGIN, SIGNING_KEY=LOG_SEED,
                          WITNESSES=[(url, notes.Verifier.parse(witness_vkey,
                                                                notes.COSIGNATURE))])
        log, http = Log(ledger), ledger.test_client()
        inspector = create_token(ledger.extensions["db"], LedgerToken,
                                 ledger.config["TOKEN_PEPPER"], "cqc", ["ledger:inspect"],
                                 PURPOSE)
        log.append(7)
        with ledger.extensions["db"].reading() as session:
            source, event_id = session.execute(
                sa.select(Entry.source, Entry.event_id).where(Entry.seq == 4)).one()
        get = {"query_string": {"source": source, "id": event_id},
               "headers": {"Authorization": f"Bearer {inspector}"}}
        # Not cosigned yet: nothing to prove it in.
        assert http.get("/v1/receipts", **get).status_code == 409
        witnessing.request_cosignature(ledger.extensions["db"], ledger.extensions["signer"],
                                       ledger.extensions["witnesses"][0])
        response = http.get("/v1/receipts", **get)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "ladder-4.tlog-proof" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    proof = c2sp.parse_tlog_proof(text)
    assert proof.index == 3 and proof.extra is not None
    # The extra line is the entry's salted line; the leaf input is its SHA-256 (format 2).
    commitment = hashlib.sha256(proof.extra).digest()
    c2sp.verify_tlog_proof(text, c2sp.leaf_hash(commitment), c2sp.parse_vkey(log.vkey()),
                           [c2sp.parse_vkey(witness_vkey)], 1)
    file = tmp_path / "entry.tlog-proof"
    file.write_text(text, encoding="utf-8")
    args = ["verify-receipt", str(file), "--vkey", log.vkey(), "--witness", witness_vkey]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"the entry is number 4 of {ORIGIN}" in result.output
    assert f'"id":"{event_id}"' in result.output
    assert http.get("/v1/receipts", query_string={"source": source, "id": "nope"},
                    headers=get["headers"]).status_code == 404
    assert http.get("/v1/receipts", query_string=get["query_string"]).status_code == 401
    other = base64.b64encode(c2sp.leaf_hash(b"x")).decode()
    for changed, words in (
            (text.replace("index 3\n", "index 2\n"), "not at index 2"),
            (text.replace(f"extra {base64.b64encode(proof.extra).decode()}",
                          f"extra {base64.b64encode(proof.extra.replace(b'4', b'5')).decode()}",
                          1), "not at index 3"),
            (text.replace(base64.b64encode(proof.path[0]).decode(), other, 1), "not at index"),
            (text.replace(f"{ORIGIN}\n7\n", f"{ORIGIN}\n8\n", 1), "does not verify"),
            (text.replace(f"\u2014 {WITNESS_NAME} ", "\u2014 someone.else ", 1),
             "cosigned by 0 of the 1"),
            ("c2sp.org/tlog-proof@v1\nindex 3\n\n" + text.split("\n\n", 1)[1], "extra"),
            (text.replace("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2"), "not a receipt")):
        file.write_text(changed, encoding="utf-8")
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1 and words in result.output, (words, result.output)


def test_the_integrity_panel_checks_what_a_quorum_of_witnesses_cosigned(
        make_app: MakeApp) -> None:
    log_key = notes.vkey(ORIGIN, notes.raw_public_key(
        Ed25519PrivateKey.from_private_bytes(base64.b64decode(LOG_SEED))))
    witness = _witness(make_app, log_key)
    witness_vkey = witness.test_client().get("/v1/witness").json["vkey"]
    with serving.served(witness) as url:
        ledger = make_app("ledger", LOG_ORIGIN=ORIGIN, SIGNING_KEY=LOG_SEED,
                          WITNESSES=[(url, notes.Verifier.parse(witness_vkey,
                                                                notes.COSIGNATURE))])
        log, db = Log(ledger), ledger.extensions["db"]
        signer, asked = ledger.extensions["signer"], ledger.extensions["witnesses"]
        log.append(5)
        checked = integrity.check(db, signer, asked, 1)
        assert checked.passed and "no checkpoint is cosigned by 1 of its 1" in checked.detail
        witnessing.request_cosignature(db, signer, asked[0])
        log.append(3)
        checked = integrity.check(db, signer, asked, 1)
        assert checked.passed, checked.detail
        assert "1 of its 1 witnesses cosigned the checkpoint of 5 entries, 3 entries behind" \
            in checked.detail
    # A stored cosignature changed under the ledger: the panel fails, saying whose.
    with db.writing() as session:
        line = session.scalar(sa.select(WitnessCosignature.line))
        assert line is not None
        name, blob = line.rstrip("\n").rsplit(" ", 1)
        raw = bytearray(base64.b64decode(blob))
        raw[-1] ^= 1  # the signature's last byte
        session.execute(sa.update(WitnessCosignature).values(
            line=f"{name} {base64.b64encode(bytes(raw)).decode()}\n"))
    checked = integrity.check(db, signer, asked, 1)
    assert not checked.passed
    assert f"a stored cosignature of {WITNESS_NAME} does not verify" in checked.detail
