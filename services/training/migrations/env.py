"""Alembic environment for the training database."""

from services.training.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
