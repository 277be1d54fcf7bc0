"""Alembic environment of the three domain services: the tables they share."""

from shared.area.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
