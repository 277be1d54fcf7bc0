"""Alembic, driven from code.

The ledger keeps its versions in ``services/ledger/migrations``. The three domain
services share theirs in ``shared/area/migrations``; a service with tables of its
own (training's courses) adds ``services/<name>/migrations/versions`` after them.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData

from shared import area
from shared.config import DOMAIN_SERVICES
from shared.db import make_engine


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    if service in DOMAIN_SERVICES:
        shared_dir = Path(area.__file__).parent / "migrations"
        own = Path(__file__).parent.parent / "services" / service / "migrations" / "versions"
        locations = [shared_dir / "versions"] + ([own] if own.is_dir() else [])
        cfg.set_main_option("script_location", str(shared_dir))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
    else:
        cfg.set_main_option("script_location", f"services.{service}:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(service: str, url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(service, url), revision)


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py``."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by alembic_config()"
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
