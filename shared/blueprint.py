"""flask-smorest's Blueprint, with JSON bodies read through the one strict parse.

webargs would parse a body again with Python's lenient parser; ``load_json`` is
the parser's public hook for where a location's data comes from.
"""

from __future__ import annotations

from typing import Any

import flask_smorest
from marshmallow import Schema
from webargs.flaskparser import FlaskParser

from shared import screening


class Parser(FlaskParser):
    def load_json(self, req: Any, schema: Schema) -> Any:
        return screening.json_body()


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = Parser()
