"""A witness (c2sp.org/tlog-witness) that an independent body runs: a regulator,
Healthwatch, or a user-led organisation. It follows one or more ledgers, and cosigns each
checkpoint that extends the last one it cosigned of that ledger, so that a ledger cannot
show one history to some and another to others unnoticed (docs/ledger-format.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from shared.app import make_app
from shared.errors import LadderApi


def _register(app: Flask, api: LadderApi) -> None:
    from services.witness import api as routes
    from shared import notes
    from shared.keys import load_ed25519

    key = load_ed25519(app.config["WITNESS_KEY"], app.config["WITNESS_KEY_FILE"],
                       app.config["LADDER_ENV"] == "production")
    app.config["WITNESS_NAME"] = app.config["WITNESS_NAME"] or default_name(key)
    app.extensions["witness_key"] = key
    app.extensions["witness_vkey"] = notes.vkey(
        app.config["WITNESS_NAME"], notes.raw_public_key(key), notes.COSIGNATURE)
    app.extensions["witness_logs"] = {v.name: v for v in app.config["WITNESS_LOGS"]}
    api.register_blueprint(routes.blp)


def default_name(key: Any) -> str:
    """A witness's name when none is configured: unique to its key, under ``.invalid``."""
    import hashlib

    from shared import notes

    return f"witness.invalid/{hashlib.sha256(notes.raw_public_key(key)).hexdigest()[:16]}"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    return make_app("witness", config, _register)
