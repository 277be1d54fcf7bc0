"""A witness (c2sp.org/tlog-witness) that an independent body runs: a regulator,
Healthwatch, or a user-led organisation. It follows one or more ledgers, and cosigns each
checkpoint that extends the last one it cosigned of that ledger, so that a ledger cannot
show one history to some and another to others unnoticed (docs/ledger-format.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask

from shared.app import make_app
from shared.errors import LadderApi


def _register(app: Flask, api: LadderApi) -> None:
    from services.witness import api as routes

    key, app.config["WITNESS_NAME"], vkey = identity(app.config)
    app.extensions["witness_key"], app.extensions["witness_vkey"] = key, vkey
    app.extensions["witness_logs"] = {v.name: v for v in app.config["WITNESS_LOGS"]}
    api.register_blueprint(routes.blp)


def identity(config: Mapping[str, Any]) -> tuple[Ed25519PrivateKey, str, str]:
    """The witness's key, name and cosignature verifier key, from its settings (in
    development, a key file that is missing is made)."""
    from shared import notes
    from shared.keys import load_ed25519

    key = load_ed25519(config["WITNESS_KEY"], config["WITNESS_KEY_FILE"],
                       config["LADDER_ENV"] == "production")
    name = config["WITNESS_NAME"] or default_name(key)
    return key, name, notes.vkey(name, notes.raw_public_key(key), notes.COSIGNATURE)


def default_name(key: Any) -> str:
    """A witness's name when none is configured: unique to its key, under ``.invalid``."""
    import hashlib

    from shared import notes

    return f"witness.invalid/{hashlib.sha256(notes.raw_public_key(key)).hexdigest()[:16]}"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return make_app("witness", config, _register)
