"""flask-smorest's Blueprint, with JSON bodies read through the one strict parse, and
its views documented when the API's document is first read (shared/openapi.py).

webargs would parse a body again with Python's lenient parser; ``load_json`` is
the parser's public hook for where a location's data comes from.
"""

from __future__ import annotations

import functools
from typing import Any

import flask_smorest
from marshmallow import Schema
from webargs.flaskparser import FlaskParser

from shared import screening
from shared.openapi import DeferredDocsApi


class Parser(FlaskParser):
    def load_json(self, req: Any, schema: Schema) -> Any:
        return screening.json_body()


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()

    def register_views_in_doc(self, api: DeferredDocsApi, app: Any, spec: Any, *, name: str,
                              parameters: Any) -> None:
        api.document_later(functools.partial(super().register_views_in_doc, api, app, spec,
                                             name=name, parameters=parameters))
