"""Schemathesis over each service's OpenAPI: no 5xx, and every answer is what the spec says.

Positive cases (valid by the schema) and negative ones (invalid by it) for every
operation, with a token that holds every scope of the service, so that requests
reach the handlers. A negative case must be refused with a 4xx. What is not
checked: that a schema-valid request is accepted, since rules across fields (a
closing date after the opening one) and references to other resources (an
activity that must exist) cannot be written in OpenAPI 3.0.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.auth import VERBS, create_token
from tests.integration.conftest import MakeApp

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 10))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, negative_data_rejection]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["valid", "invalid"])
@pytest.mark.parametrize("service", ["recruitment", "training", "inspection", "ledger"])
def test_every_operation_answers_as_its_openapi_says(service: str, mode: GenerationMode,
                                                      make_app: MakeApp) -> None:
    app = make_app(service)
    model = importlib.import_module(f"services.{service}.models").ApiToken
    token = create_token(app.extensions["db"], model, app.config["TOKEN_PEPPER"], "fuzz",
                         [f"{service}:{verb}" for verb in VERBS])
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    # The token matrix is its own test (test_scopes.py); here every request is authorised.
    schema.config.generation.update(with_security_parameters=False)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()

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
