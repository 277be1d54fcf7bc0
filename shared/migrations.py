"""Alembic, driven from code: each service keeps its versions in ``services/<name>/migrations``."""

from __future__ import annotations

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData

from shared.db import make_engine


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", f"services.{service}:migrations")
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(service: str, url: str, revision: str = "head") -> None:
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
