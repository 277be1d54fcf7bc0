"""Every token scope against every endpoint, with the endpoints read from each OpenAPI.

A new route is covered as soon as it is in the spec; a new route without a token
requirement fails the test unless it is one of the few public ones. The policy, the
tiers and what each includes are declared here, apart from the code they check.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest
from flask import Flask

from shared.auth import SCOPE_VERBS, create_token, revoke_token
from shared.config import DOMAIN_SERVICES, SERVICES
from tests.integration.conftest import MakeApp

# Routes that take no bearer token, and why.
PUBLIC = {
    ("GET", "/healthz"), ("GET", "/readyz"),      # probes
    ("GET", "/v1/public-key"),                     # what auditors verify with
    # Tree heads and consistency proofs are hashes only: anyone may verify the log.
    ("GET", "/ct/v1/get-sth"), ("GET", "/ct/v1/get-sth-history"),
    ("GET", "/ct/v1/get-sth-consistency"),
    # The same, as C2SP's checkpoint and hash tiles (no entry in them).
    ("GET", "/checkpoint"), ("GET", "/tile/{level}/{rest}"),
    # Published releases: disclosure-controlled figures, open data by design.
    ("GET", "/v1/releases"), ("GET", "/v1/releases/{release_id}"),
    ("GET", "/v1/releases/{release_id}/figures.csv"),
    ("GET", "/v1/releases/{release_id}/dictionary.csv"),
    ("GET", "/metrics"),                           # Prometheus: counts, no data (operations.md)
    ("POST", "/v1/webhooks/{integration}"),        # the signature is the credential
}
# The query a public route needs to answer at all.
PUBLIC_QUERY = {"/ct/v1/get-sth-consistency": {"first": "0", "second": "0"}}

# The tiers each service's tokens hold, and what a tier includes besides itself. Only
# the ledger has inspect; there, read is figures only.
TIERS = {"ledger": ("read", "inspect", "admin"),
         **{service: ("read", "write", "admin") for service in DOMAIN_SERVICES}}
INCLUDES = {"admin": {"read", "inspect", "write"}, "inspect": {"read"}}


# The policy, independent of the code under test: reads need read, changes need write,
# and these need admin. The spec must say the same, and the routes must enforce it.
ADMIN = {("POST", "/v1/citizens/erasure"), ("GET", "/v1/tokens"), ("POST", "/v1/tokens"),
         ("POST", "/v1/tokens/{token_id}/revocation"), ("GET", "/v1/rejected"),
         ("GET", "/v1/outbox/held"), ("POST", "/v1/entries/{seq}/erasure"),
         ("GET", "/v1/erasures"),
         # The organisation's targets: every reader reads them; admins set them.
         ("POST", "/v1/targets"), ("DELETE", "/v1/targets/{target_id}")}
# A POST that writes nothing: it explains what facts would give, so reading is enough.
READ = {("POST", "/v1/rubric/explanation")}
# Entry-level content of the ledger (events, pseudonyms, leaves, per-entry proofs).
INSPECT = {("GET", "/v1/entries"), ("GET", "/v1/exports/entries"),
           ("GET", "/ct/v1/get-entries"), ("GET", "/ct/v1/get-proof-by-hash"),
           ("GET", "/tile/entries/{rest}"), ("GET", "/v1/receipts")}


def policy(method: str, path: str) -> str:
    # Webhooks out: subscriptions, their secrets and delivery logs are for admins only.
    if (method, path) in ADMIN or path.startswith("/v1/subscriptions"):
        return "admin"
    if (method, path) in INSPECT:
        return "inspect"
    return "read" if method == "GET" or (method, path) in READ else "write"


def test_the_code_declares_the_same_tiers() -> None:
    assert SCOPE_VERBS == TIERS


def endpoints(app: Flask) -> list[tuple[str, str, str | None]]:
    """(method, path template, the verb it requires or None) for every operation."""
    spec = app.test_client().get("/openapi.json").json
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            secured = bool(operation.get("security"))
            assert secured == ("x-scope" in operation), (method, path)
            found.append((method.upper(), path, operation.get("x-scope")))
    return found


def _tokens(app: Flask, service: str) -> dict[str, tuple[str, set[str]]]:
    """Name -> (bearer token, the scopes it holds), for every kind of holder."""
    model = importlib.import_module(f"services.{service}.models").ApiToken
    db, pepper = app.extensions["db"], app.config["TOKEN_PEPPER"]
    tokens: dict[str, tuple[str, set[str]]] = {}
    for verb in TIERS[service]:
        scopes = {f"{service}:{verb}"}
        purpose = "the scope matrix" if verb == "inspect" else None
        tokens[f"{service}:{verb}"] = (create_token(db, model, pepper, verb, scopes, purpose),
                                       scopes)
    tokens["read+write"] = (create_token(db, model, pepper, "rw", {f"{service}:read",
                                                                  f"{service}:write"}),
                            {f"{service}:read", f"{service}:write"})
    # A verb of another tier (recruitment:inspect, ledger:write) grants nothing here.
    lacking = {f"{service}:{verb}" for tiers in TIERS.values() for verb in tiers
               if verb not in TIERS[service]}
    tokens["verbs this service lacks"] = (create_token(db, model, pepper, "lacking", lacking),
                                          lacking)
    others = {f"{other}:{verb}" for other in SERVICES if other != service
              for verb in TIERS[other]}
    tokens["every other service's scopes"] = (create_token(db, model, pepper, "others", others),
                                              others)
    tokens["no scopes"] = (create_token(db, model, pepper, "empty", []), set())
    revoked = create_token(db, model, pepper, "revoked", {f"{service}:admin"})
    revoke_token(db, model, name="revoked")
    tokens["revoked admin"] = (revoked, set())
    return tokens


def _expected(scopes: set[str], service: str, verb: str, live: bool) -> int | None:
    """401, 403, or None for allowed (any answer but those two)."""
    if not live:
        return 401
    held = {tier for tier in TIERS[service] if f"{service}:{tier}" in scopes}
    if verb in held or any(verb in INCLUDES.get(tier, ()) for tier in held):
        return None
    return 403


def _request(app: Flask, method: str, path: str, headers: dict[str, str],
             query: dict[str, str] | None = None) -> Any:
    # Path parameters name nothing that exists: an allowed request gets 404 or 422.
    url = re.sub(r"\{[^}]+\}", "999999", path)
    body = {} if method in ("POST", "PATCH", "PUT") else None
    return app.test_client().open(url, method=method, json=body, headers=headers,
                                  query_string=query, buffered=True)


@pytest.mark.parametrize("service", SERVICES)
def test_every_scope_against_every_endpoint(service: str, make_app: MakeApp) -> None:
    app = make_app(service)
    routes = endpoints(app)
    secured = [(m, p, v) for m, p, v in routes if v is not None]
    public = {(m, p) for m, p, v in routes if v is None}
    assert public <= PUBLIC, f"routes without a token requirement: {public - PUBLIC}"
    assert len(secured) >= 8
    assert [(m, p, v) for m, p, v in secured if v != policy(m, p)] == []
    holders: dict[str, tuple[dict[str, str], set[str], bool]] = {
        "no Authorization": ({}, set(), False),
        "Basic credentials": ({"Authorization": "Basic bGFkZGVyOmxhZGRlcg=="}, set(), False),
        "an unknown token": ({"Authorization": "Bearer ldr_not-a-token"}, set(), False),
        "an empty bearer": ({"Authorization": "Bearer "}, set(), False),
    }
    for name, (token, scopes) in _tokens(app, service).items():
        holders[name] = ({"Authorization": f"Bearer {token}"}, scopes, name != "revoked admin")
    wrong: list[str] = []
    for method, path, verb in secured:
        assert verb is not None
        for name, (headers, scopes, live) in holders.items():
            response = _request(app, method, path, headers)
            expected = _expected(scopes, service, verb, live)
            got = response.status_code
            ok = got not in (401, 403) if expected is None else got == expected
            if ok and got == 401:
                ok = response.headers.get("WWW-Authenticate", "").startswith("Bearer")
            if ok and got in (401, 403):
                ok = set(response.json) == {"code", "status", "message", "errors"}
            if not ok:
                wrong.append(f"{method} {path} ({service}:{verb}) with {name}: {got}, "
                             f"expected {expected or 'allowed'}")
            assert got < 500, (method, path, name, response.json)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("service", SERVICES)
def test_public_routes_need_no_token(service: str, make_app: MakeApp) -> None:
    app = make_app(service)
    for method, path, verb in endpoints(app):
        if verb is None and method == "GET":
            answer = _request(app, method, path, {}, PUBLIC_QUERY.get(path))
            # A path parameter names nothing that exists: 404 shows it got past any guard.
            # Without one, 200: the app's database and the session's Redis are up, so even
            # /readyz has nothing to refuse for.
            expected = 404 if "{" in path else 200
            assert answer.status_code == expected, (path, answer.get_data(as_text=True))
