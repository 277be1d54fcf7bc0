"""Settings come from the environment; production refuses default secrets."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, load


def test_embedded_defaults_live_under_the_var_directory() -> None:
    config = load("recruitment", {"LADDER_VAR_DIR": "/srv/ladder"})
    assert config["DATABASE_URL"] == "sqlite:////srv/ladder/recruitment.db"
    assert config["REDIS_URL"] == "redis+socket:///srv/ladder/redis.sock"


def test_a_service_database_url_selects_postgresql() -> None:
    url = "postgresql+psycopg://ladder@db/ladder_ledger"
    assert load("ledger", {"LEDGER_DATABASE_URL": url})["DATABASE_URL"] == url


def test_production_refuses_the_default_pseudonym_key() -> None:
    with pytest.raises(ConfigError, match="LADDER_PSEUDONYM_KEY"):
        load("recruitment", {"LADDER_ENV": "production"})
    config = load("recruitment", {"LADDER_ENV": "production", "LADDER_PSEUDONYM_KEY": "s3cret"})
    assert config["PSEUDONYM_KEY"] == "s3cret"


def test_a_malformed_number_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="LADDER_RELAY_BATCH_SIZE"):
        load("ledger", {"LADDER_RELAY_BATCH_SIZE": "lots"})
