"""Alembic, driven from code, and the databases it migrates.

The ledger keeps its versions in ``services/ledger/migrations``, a witness in
``services/witness/migrations``. The areas (shared/
areas.py) share theirs in ``shared/area/migrations``; an area with tables of its own
(training's courses) adds ``<its package>/migrations/versions`` after them. Those
packages are found by name, never imported here: Alembic is pointed at their folders.
"""

from __future__ import annotations

import importlib.util
import os
from importlib.machinery import PathFinder
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
# The ledger's and the witness's packages; each area's is named in the registry
# (shared/areas.py).
OWN_HISTORY = {"ledger": "services.ledger", "witness": "services.witness"}


def package_folder(name: str) -> Path:
    """The folder of the package ``name``, found without running any of its code (nor
    its parents'): a top-level name is found as an import would find it, and each
    sub-package in the folders of the one above."""
    top, *rest = name.split(".")
    spec = importlib.util.find_spec(top)
    for depth in range(len(rest)):
        if spec is None or not spec.submodule_search_locations:
            break
        spec = PathFinder.find_spec(".".join([top, *rest[:depth + 1]]),
                                    spec.submodule_search_locations)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"no package {name}", name=name)
    return Path(next(iter(spec.submodule_search_locations)))


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    if service in OWN_HISTORY:
        cfg.set_main_option("script_location",
                            str(package_folder(OWN_HISTORY[service]) / "migrations"))
    else:
        own = package_folder(areas.get(service).module) / "migrations" / "versions"
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
