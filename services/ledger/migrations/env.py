"""Alembic environment for the ledger database."""

from services.ledger.models import Base
from shared.migrations import run_env

run_env(Base.metadata)
