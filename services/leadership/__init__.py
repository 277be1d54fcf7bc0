"""Leadership: citizens supporting local leaders in driving culture change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from services.leadership.api import BLUEPRINTS, SCHEMAS
    from shared.area.api import create_area_app

    return create_area_app("leadership", config, BLUEPRINTS, SCHEMAS)
