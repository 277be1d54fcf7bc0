"""Alembic environment for a witness's database."""

from services.witness.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
