"""The baseline of row a: a Flask app that only parses the JSON and answers 202."""

from __future__ import annotations

from flask import Flask, request


def create_app() -> Flask:
    app = Flask("bare")

    @app.post("/v1/webhooks/<integration>")
    def receive(integration: str) -> tuple[dict[str, str], int]:
        request.get_json()
        return {"status": "accepted"}, 202

    return app
