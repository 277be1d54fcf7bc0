"""Settings come from the environment; production refuses default secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import ConfigError, load, read_dotenv


def test_embedded_defaults_live_under_the_var_directory() -> None:
    config = load("recruitment", {"LADDER_VAR_DIR": "/srv/ladder"})
    assert config["DATABASE_URL"] == "sqlite:////srv/ladder/recruitment.db"
    assert config["REDIS_URL"] == "redis+socket:///srv/ladder/redis.sock"


def test_a_service_database_url_selects_postgresql() -> None:
    url = "postgresql+psycopg://ladder@db/ladder_ledger"
    assert load("ledger", {"LEDGER_DATABASE_URL": url})["DATABASE_URL"] == url


@pytest.mark.parametrize("secret", ["LADDER_PSEUDONYM_KEY", "LADDER_TOKEN_PEPPER"])
def test_production_refuses_a_missing_or_default_secret(secret: str) -> None:
    secrets = {"LADDER_PSEUDONYM_KEY": "k" * 32, "LADDER_TOKEN_PEPPER": "p" * 32}
    production = {"LADDER_ENV": "production", **secrets}
    assert load("recruitment", production)[secret.removeprefix("LADDER_")] == secrets[secret]
    with pytest.raises(ConfigError, match=secret):
        load("recruitment", {**production, secret: ""})
    with pytest.raises(ConfigError, match=secret):
        load("recruitment", {**production, secret: load("recruitment", {})[
            secret.removeprefix("LADDER_")]})


def test_a_malformed_number_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="LADDER_RELAY_BATCH_SIZE"):
        load("ledger", {"LADDER_RELAY_BATCH_SIZE": "lots"})


def test_a_dotenv_file_is_read_as_key_value_lines(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# comment\n\nREDIS_URL=redis://example:6379/0\nexport LADDER_ENV='production'\n"
                   "LADDER_SIGNING_KEY=\nnot a setting\n")
    assert read_dotenv(env) == {"REDIS_URL": "redis://example:6379/0",
                                "LADDER_ENV": "production", "LADDER_SIGNING_KEY": ""}
    assert read_dotenv(tmp_path / "missing") == {}


def test_the_ledger_in_production_refuses_the_default_session_secret() -> None:
    production = {"LADDER_ENV": "production", "LADDER_PSEUDONYM_KEY": "k" * 32,
                  "LADDER_TOKEN_PEPPER": "p" * 32, "LADDER_SIGNING_KEY_FILE": "/keys/ledger.pem"}
    with pytest.raises(ConfigError, match="LADDER_SESSION_SECRET"):
        load("ledger", production)
    with pytest.raises(ConfigError, match="LADDER_SESSION_SECRET"):
        load("ledger", {**production,
                        "LADDER_SESSION_SECRET": "dev-session-secret-not-for-production"})
    assert load("ledger", {**production, "LADDER_SESSION_SECRET": "s" * 32})[
        "SESSION_SECRET"] == "s" * 32
    # The domain services have no sessions: they neither need nor read it.
    assert "SESSION_SECRET" not in load("recruitment", production)
