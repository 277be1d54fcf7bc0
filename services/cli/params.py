"""What the commands accept as text: what can be stored, as the API accepts it."""

from __future__ import annotations

import re
from typing import Any

import click

from shared import text


class Text(click.ParamType):
    """Text that will be stored: valid UTF-8 without NUL, at most ``limit`` characters.

    Arguments that are not UTF-8 reach Python as lone surrogates (shared/text.py).
    """

    name = "text"

    def __init__(self, limit: int, pattern: str | None = None, hint: str = "") -> None:
        self.limit = limit
        self.pattern = re.compile(pattern) if pattern else None
        self.hint = hint

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        value = str(value)
        why = text.problem(value)
        if why:
            self.fail(f"{text.shown(value)!r}: {why}", param, ctx)
        if not 0 < len(value) <= self.limit:
            self.fail(f"must be 1 to {self.limit} characters", param, ctx)
        if self.pattern and not self.pattern.fullmatch(value):
            self.fail(f"{value!r}: {self.hint}", param, ctx)
        return value


class Reference(Text):
    """A citizen's reference: storable text with a visible character, as the API takes it."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        from shared.area.references import normalise

        value = super().convert(value, param, ctx)
        if not normalise(value):
            self.fail("holds no visible character: it names no one", param, ctx)
        return value


# An integration's name is the last part of its webhook's URL.
INTEGRATION_NAME = Text(100, r"[A-Za-z0-9][A-Za-z0-9._-]*",
                        "letters, digits, '.', '_' or '-', starting with a letter or digit")
REFERENCE = Reference(200)
