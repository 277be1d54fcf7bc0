"""The integration fixtures (real Redis, migrated databases, apps), for the security tests."""

from __future__ import annotations

from tests.integration.conftest import (
    AreaClient,
    area,
    ledger_db,
    make_app,
    module_make_app,
    shared_area,
)

__all__ = ["AreaClient", "area", "ledger_db", "make_app", "module_make_app", "shared_area"]
