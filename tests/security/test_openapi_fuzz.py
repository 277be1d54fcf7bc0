"""Schemathesis over each service's OpenAPI: no 5xx, and every answer is what the spec says.

Positive cases (valid by the schema) and negative ones (invalid by it) for every
operation, with a token that holds every scope of the service, so that requests
reach the handlers. A negative case must be refused with a 4xx. What is not
checked: that a schema-valid request is accepted, since rules across fields (a
closing date after the opening one) and references to other resources (an
activity that must exist) cannot be written in OpenAPI 3.0.

What schemathesis generates is made hostile too, through its ``flatmap_*`` hooks
(registered on each schema, not globally): half the bodies get one node replaced or
one key added (tests/support/hostile.py). In positive mode that is anything hostile:
lone surrogates, non-characters, NUL and other controls, huge and tiny numbers,
strings where numbers belong and the like, dates before 2000 or at the limits of a
datetime, and, sent as raw JSON text, a key twice, 5,001-digit numbers, NaN and deep
nesting. In negative mode only what must be refused wherever it lands (a lone
surrogate or a NUL, in text or a key; an integer of more than 20 digits), so that an
invalid case stays invalid. Query arguments (and, in positive mode, path parameters)
get hostile text the same way.
"""

from __future__ import annotations

import importlib
import os
import re
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.auth import SCOPE_VERBS, create_token
from shared.config import SERVICES
from tests.integration.conftest import MakeApp
from tests.support.databases import BACKENDS
from tests.support.hostile import (
    BAD_TIMES,
    LITERALS,
    Pairs,
    Raw,
    encode,
    hostile_change,
    texts,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 10))
# Query and path text: numbers no column holds, digits Python's int() reads but JSON
# does not, RFC 3339 at a datetime's limits, non-characters, controls; never a lone
# surrogate (a URL cannot carry one: the client would fail, not the server).
HOSTILE_ARGUMENTS = (st.sampled_from(
    ["99999999999999999999999", "-99999999999999999999999", "1e308", "-0", "0x10", "\u0663",
     "\uff11", "1_000", " 1", "1 ", "NaN", "Infinity", "%", "a" * 5000, "2026-02-30",
     "0001-01-01", "9999-12-31", *BAD_TIMES, LITERALS[0][0]])
    | texts("non-character").map(lambda pair: pair[0])
    | texts("control character").map(lambda pair: pair[0]))
NUL_ARGUMENTS = texts("NUL").map(lambda pair: pair[0])


def _wire(value: Any) -> Any:
    """A body as schemathesis sends it: raw JSON text (bytes) if json.dumps cannot write it."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Raw | Pairs):
            return encode(value)
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def make_hostile(schema: Any, mode: GenerationMode) -> None:
    """Register this schema's hooks that make half of what it generates hostile."""
    negative = mode == GenerationMode.NEGATIVE

    @schema.hook("flatmap_body")
    def hostile_body(context: Any, body: Any) -> st.SearchStrategy[Any]:
        changed = hostile_change(body, refusals_only=negative, raw=not negative)
        return st.just(body) | changed.map(_wire)

    def one_argument(values: Any) -> st.SearchStrategy[Any]:
        if not values:
            return st.just(values)
        hostile = NUL_ARGUMENTS if negative else HOSTILE_ARGUMENTS
        return st.just(values) | st.builds(lambda key, value: {**values, key: value},
                                           st.sampled_from(sorted(values)), hostile)

    @schema.hook("flatmap_query")
    def hostile_query(context: Any, query: Any) -> st.SearchStrategy[Any]:
        return one_argument(query)

    if negative:
        return  # a NUL in a path is 404 (test_hostile_input.py); no need to slow this down

    @schema.hook("flatmap_path_parameters")
    def hostile_path(context: Any, path_parameters: Any) -> st.SearchStrategy[Any]:
        return one_argument(path_parameters)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


# Invalid cases on one database: each is refused by the schema before any query but the
# token's, which the valid cases run on every database.
MODES = [pytest.param(GenerationMode.POSITIVE, backend, id=f"{backend}-valid")
         for backend in BACKENDS] + [
    pytest.param(GenerationMode.NEGATIVE, "sqlite", id="sqlite-invalid")]


@pytest.mark.parametrize(("mode", "backend"), MODES)
@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_as_its_openapi_says(service: str, mode: GenerationMode,
                                                      make_app: MakeApp) -> None:
    app = make_app(service)
    model = importlib.import_module(f"services.{service}.models").ApiToken
    token = create_token(app.extensions["db"], model, app.config["TOKEN_PEPPER"], "fuzz",
                         [f"{service}:{verb}" for verb in SCOPE_VERBS[service]])
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    # The token matrix is its own test (test_scopes.py); here every request is authorised.
    schema.config.generation.update(with_security_parameters=False)
    make_hostile(schema, mode)
    spec = app.test_client().get("/openapi.json").json
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if mode == GenerationMode.NEGATIVE and _nothing_to_negate(spec, operation):
            continue

        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(mode))
        def call(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        try:
            call()
            operations += 1
        except hypothesis.errors.Unsatisfiable:
            continue  # nothing to negate (no parameters), or no way to make it invalid
        except Exception as exc:
            failures.append(f"{operation.label}:\n{exc}")
    assert not failures, "\n\n".join(failures)
    assert operations >= (3 if mode == GenerationMode.NEGATIVE else 10)


def _nothing_to_negate(spec: dict[str, Any], operation: Any) -> bool:
    """Whether an operation takes nothing but path parameters that may be any non-empty text.

    No case of it can be sent that is invalid by the schema: the only invalid value is
    the empty text, which cannot be sent in a path (nor can a slash). Schemathesis would
    draw and discard about a thousand candidates before giving up as Unsatisfiable, close
    to two seconds of CPU for each such operation. What a hostile path does is tested by
    test_hostile_input.py and by the slash test below.
    """
    path = spec["paths"][operation.path]
    method = path[operation.method.lower()]
    if "requestBody" in method:
        return False
    parameters = [*path.get("parameters", []), *method.get("parameters", [])]
    return all(p.get("in") == "path" and _any_text(p.get("schema", {})) for p in parameters)


def _any_text(schema: dict[str, Any]) -> bool:
    rest = {key: value for key, value in schema.items() if key != "minLength"}
    return rest == {"type": "string"} and schema.get("minLength", 0) <= 1


ERROR_KEYS = {"code", "status", "message", "errors"}


@pytest.mark.parametrize("service", SERVICES)
def test_a_path_parameter_with_a_slash_is_a_4xx_in_the_shape_not_a_redirect(
    service: str, make_app: MakeApp
) -> None:
    # What the path hook above finds at random, every time: a parameter that starts or
    # ends with an (encoded) slash makes a double slash in the path. It names nothing:
    # it must be refused, not redirected to the path with the slashes merged (another
    # resource, which a client following a 308 would then POST to again).
    app = make_app(service)
    model = importlib.import_module(f"services.{service}.models").ApiToken
    token = create_token(app.extensions["db"], model, app.config["TOKEN_PEPPER"], "fuzz",
                         [f"{service}:{verb}" for verb in SCOPE_VERBS[service]])
    client = app.test_client()
    spec = client.get("/openapi.json").json
    failures = []
    for template, operations in spec["paths"].items():
        for method in operations:
            if method not in ("get", "post", "patch", "put", "delete") or "{" not in template:
                continue
            for value in ("%2FA-1", "A-1%2F"):
                path = re.sub(r"\{[^}]+\}", value, template)
                response = client.open(path, method=method.upper(), json={} if method in (
                    "post", "patch", "put") else None, headers={"Authorization": f"Bearer {token}"})
                body = response.get_json(silent=True)
                if not (400 <= response.status_code < 500 and isinstance(body, dict)
                        and set(body) == ERROR_KEYS):
                    failures.append(f"{method.upper()} {path} -> {response.status_code} "
                                    f"{response.content_type} Location="
                                    f"{response.headers.get('Location')}")
    assert not failures, "\n".join(failures)
