"""The ledger's root URL, which `make run` prints: where to go from here. A browser gets a
page of links, anything else the same links as JSON. No token is needed: it names what
exists, nothing it holds. Like the dashboard, it is not part of the OpenAPI document."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template_string, request

# Each destination, what it is, and whether it needs a token.
LINKS = (
    ("dashboard", "/dashboard", "The auditors' dashboard: the measures, signed in with a "
                                "ledger token"),
    ("openapi", "/openapi.json", "The OpenAPI document of every route of the API"),
    ("checkpoint", "/checkpoint", "The log's latest checkpoint (C2SP), cosigned by its "
                                  "witnesses; no token"),
    ("public_key", "/v1/public-key", "The key that signs the log, and its verifier key; "
                                     "no token"),
    ("releases", "/v1/releases", "The published, disclosure-controlled figures; no token"),
    ("health", "/readyz", "Whether the ledger is ready"),
)
DOCS = ("The documentation is in the docs/ directory of Ladder's source: api.md (the API "
        "and its reader tiers), ledger-format.md (the log, and how to verify it), "
        "metrics.md, operations.md.")

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ladder ledger</title></head>
<body>
<main>
<h1>Ladder ledger</h1>
<p>The shared, verifiable ledger of how citizens are involved in health and social care.</p>
<ul>
{% for name, path, what in links %}<li><a href="{{ path }}">{{ path }}</a>: {{ what }}</li>
{% endfor %}</ul>
<p>{{ docs }}</p>
</main>
</body>
</html>
"""


def init_app(app: Flask) -> None:
    app.add_url_rule("/", "home", home, methods=["GET"])


def home() -> Response:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    if best == "text/html" and request.accept_mimetypes["text/html"] > \
            request.accept_mimetypes["application/json"]:
        return Response(render_template_string(PAGE, links=LINKS, docs=DOCS),
                        content_type="text/html; charset=utf-8")
    return jsonify({"service": "ledger", "docs": DOCS,
                    "links": {name: {"href": path, "title": what}
                              for name, path, what in LINKS}})
