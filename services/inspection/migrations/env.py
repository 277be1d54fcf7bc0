"""Alembic environment for the inspection database."""

from services.inspection.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
