"""Settings come from the environment; production refuses default secrets."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest

from shared import areas
from shared.config import ConfigError, load, load_dotenv_file, stop_grace_period


def test_embedded_defaults_live_under_the_var_directory() -> None:
    config = load("recruitment", {"LADDER_VAR_DIR": "/srv/ladder"})
    assert config["DATABASE_URL"] == "sqlite:////srv/ladder/recruitment.db"
    assert config["REDIS_URL"] == "redis+socket:///srv/ladder/redis.sock"


def test_a_service_database_url_selects_postgresql() -> None:
    url = "postgresql+psycopg://ladder@db/ladder_ledger"
    assert load("ledger", {"LEDGER_DATABASE_URL": url})["DATABASE_URL"] == url


def test_every_service_follows_one_database_convention_unless_given_its_own() -> None:
    env = {"LADDER_DATABASE_URL_TEMPLATE": "postgresql+psycopg://ladder@db/ladder_{service}"}
    config = load("leadership", env)
    assert config["DATABASE_URL"] == "postgresql+psycopg://ladder@db/ladder_leadership"
    # An erasure reaches every area's database, however many there are.
    assert config["AREA_DATABASE_URLS"] == {
        area: f"postgresql+psycopg://ladder@db/ladder_{area}" for area in areas.names()}
    own = {**env, "LEDGER_DATABASE_URL": "sqlite:////srv/ledger.db"}
    assert load("ledger", own)["DATABASE_URL"] == "sqlite:////srv/ledger.db"


def test_a_database_convention_that_does_not_name_the_service_is_refused() -> None:
    with pytest.raises(ConfigError, match="must contain {service}"):
        load("ledger", {"LADDER_DATABASE_URL_TEMPLATE": "postgresql+psycopg://db/ladder"})


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


def test_a_dotenv_file_fills_in_only_what_the_environment_does_not_set(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# comment\n\nREDIS_URL=redis://example:6379/0\nexport LADDER_ENV='production'\n"
                   "LADDER_SIGNING_KEY=\nnot a setting\nLADDER_BIND=0.0.0.0  # all interfaces\n"
                   "LADDER_VAR_DIR=${LADDER_BIND}/var\n")
    real = {"PATH": "/usr/bin", "LADDER_BIND": "127.0.0.2"}
    with mock.patch.dict(os.environ, real, clear=True):
        load_dotenv_file(env)
        filled = dict(os.environ)
    # The real environment wins, in a value that names it too.
    assert filled == {**real, "REDIS_URL": "redis://example:6379/0", "LADDER_ENV": "production",
                      "LADDER_SIGNING_KEY": "", "LADDER_VAR_DIR": "127.0.0.2/var"}
    with mock.patch.dict(os.environ, real, clear=True):
        load_dotenv_file(tmp_path / "missing")
        assert dict(os.environ) == real


SEED = "n2p6Rr1cH0m5mP2vXjY3x8Kq9T0wL4sB7dF1gH2jK3c="
PRODUCTION = {"LADDER_ENV": "production", "LADDER_TOKEN_PEPPER": "p" * 32,
              "LADDER_PSEUDONYM_KEY": "k" * 32, "LADDER_SIGNING_KEY": SEED,
              "LADDER_SESSION_SECRET": "s" * 32, "LADDER_DISCLOSURE_KEY": "d" * 32}


@pytest.mark.parametrize("service", ["recruitment", "ledger"])
def test_production_refuses_a_short_secret(service: str) -> None:
    with pytest.raises(ConfigError, match="LADDER_TOKEN_PEPPER is too short"):
        load(service, {**PRODUCTION, "LADDER_TOKEN_PEPPER": "p" * 31})


def test_each_service_needs_only_its_own_secrets_in_production() -> None:
    # The ledger never holds the pseudonym key, nor a domain service the signing key.
    ledger = load("ledger", {k: v for k, v in PRODUCTION.items() if k != "LADDER_PSEUDONYM_KEY"})
    assert ledger["PSEUDONYM_KEY"] == ""
    assert load("training", {k: v for k, v in PRODUCTION.items()
                             if k != "LADDER_SIGNING_KEY"})["SIGNING_KEY"] == ""
    # The relay holds no secret at all.
    assert load("relay", {"LADDER_ENV": "production"})["TOKEN_PEPPER"] == ""
    with pytest.raises(ConfigError, match="LADDER_PSEUDONYM_KEY"):
        load("inspection", {**PRODUCTION, "LADDER_PSEUDONYM_KEY": ""})


def test_production_ledger_needs_a_signing_key_it_was_given(tmp_path: Path) -> None:
    no_key = {k: v for k, v in PRODUCTION.items() if k != "LADDER_SIGNING_KEY"}
    with pytest.raises(ConfigError, match="LADDER_SIGNING_KEY or LADDER_SIGNING_KEY_FILE"):
        load("ledger", no_key)
    with pytest.raises(ConfigError, match="not a file"):
        load("ledger", {**no_key, "LADDER_SIGNING_KEY_FILE": str(tmp_path / "missing.pem")})
    assert load("ledger", PRODUCTION)["SIGNING_KEY"] == SEED


@pytest.mark.parametrize("seed", ["not base64!", "c2hvcnQ=", SEED + SEED])
def test_a_signing_key_must_be_a_32_byte_seed(seed: str) -> None:
    with pytest.raises(ConfigError, match="32-byte Ed25519 seed"):
        load("ledger", {"LADDER_SIGNING_KEY": seed})


def test_the_stop_grace_period_must_outlast_the_soft_shutdown() -> None:
    assert load("ledger", {})["STOP_GRACE_PERIOD"] == 30.0
    assert stop_grace_period({"LADDER_SOFT_SHUTDOWN_TIMEOUT": "25"}) == 30.0
    with pytest.raises(ConfigError, match="must exceed LADDER_SOFT_SHUTDOWN_TIMEOUT"):
        stop_grace_period({"LADDER_SOFT_SHUTDOWN_TIMEOUT": "26"})
    with pytest.raises(ConfigError, match="LADDER_STOP_GRACE_PERIOD"):
        load("relay", {"LADDER_STOP_GRACE_PERIOD": "10"})


def test_metrics_live_under_the_var_directory_unless_told() -> None:
    assert load("ledger", {"LADDER_VAR_DIR": "/srv/ladder"})["METRICS_DIR"] == (
        "/srv/ladder/metrics")
    assert load("ledger", {"LADDER_METRICS_DIR": "/m"})["METRICS_DIR"] == "/m"


def test_the_ledger_in_production_refuses_the_default_session_secret() -> None:
    production = {**PRODUCTION, "LADDER_SESSION_SECRET": ""}
    with pytest.raises(ConfigError, match="LADDER_SESSION_SECRET"):
        load("ledger", production)
    with pytest.raises(ConfigError, match="LADDER_SESSION_SECRET"):
        load("ledger", {**production,
                        "LADDER_SESSION_SECRET": "dev-session-secret-not-for-production"})
    assert load("ledger", {**production, "LADDER_SESSION_SECRET": "s" * 32})[
        "SESSION_SECRET"] == "s" * 32
    # The domain services have no sessions: they neither need nor hold it.
    assert load("recruitment", production)["SESSION_SECRET"] == ""


def test_the_ledger_in_production_refuses_the_default_disclosure_key() -> None:
    # With the key, anyone could tell which way each figure was rounded, and undo it.
    for value in ("", "dev-disclosure-key-not-for-production", "d" * 31):
        with pytest.raises(ConfigError, match="LADDER_DISCLOSURE_KEY"):
            load("ledger", {**PRODUCTION, "LADDER_DISCLOSURE_KEY": value})
    assert load("recruitment", {**PRODUCTION, "LADDER_DISCLOSURE_KEY": ""})[
        "DISCLOSURE_KEY"] == ""


@pytest.mark.parametrize(("settings", "problem"), [
    ({"LADDER_DISCLOSURE_BASE": "1"}, "LADDER_DISCLOSURE_BASE must be 2 or more"),
    ({"LADDER_DISCLOSURE_BASE": "5", "LADDER_SUPPRESSION_THRESHOLD": "3"}, "at least"),
])
def test_disclosure_settings_that_would_show_exact_counts_are_refused(
        settings: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load("ledger", settings)
