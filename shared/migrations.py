"""Alembic, driven from code, and the databases it migrates.

The ledger keeps its versions in ``services/ledger/migrations``. The areas (shared/
areas.py) share theirs in ``shared/area/migrations``; an area with tables of its own
(training's courses) adds ``<its package>/migrations/versions`` after them.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import make_url

from shared import area, areas
from shared.db import make_engine

# Where a missing PostgreSQL database is created from: every server has it.
MAINTENANCE_DATABASE = "postgres"


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    if service == "ledger":
        cfg.set_main_option("script_location", "services.ledger:migrations")
    else:
        package = importlib.import_module(areas.get(service).module)
        own = Path(str(package.__file__)).parent / "migrations" / "versions"
        shared_dir = Path(area.__file__).parent / "migrations"
        locations = [shared_dir / "versions"] + ([own] if own.is_dir() else [])
        cfg.set_main_option("script_location", str(shared_dir))
        cfg.set_main_option("path_separator", "os")
        cfg.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(service: str, url: str, revision: str = "heads") -> None:
    command.upgrade(alembic_config(service, url), revision)


def create_database(url: str) -> bool:
    """Create the PostgreSQL database ``url`` names if it does not exist; whether it did.

    The release step runs this for every service before migrating it, so that each
    area's database follows from the registry and no script lists them. A SQLite file
    is made when first opened.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or not parsed.database:
        return False
    server = sa.create_engine(parsed.set(database=MAINTENANCE_DATABASE),
                              isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            if connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                 {"name": parsed.database}):
                return False
            quoted = connection.dialect.identifier_preparer.quote(parsed.database)
            connection.exec_driver_sql(f"CREATE DATABASE {quoted}")
            return True
    finally:
        server.dispose()


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
