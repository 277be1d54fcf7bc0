"""Alembic environment of the area services (shared.areas names them): the tables they share."""

from shared.area.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
