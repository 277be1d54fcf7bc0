"""Alembic environment for the recruitment database."""

from services.recruitment.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
