"""Settings, read from the environment only.

Every setting is named in `.env.example` with its default. A service's own
settings are prefixed with its name (``RECRUITMENT_DATABASE_URL``); the rest are
shared (``REDIS_URL``, ``LADDER_*``).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dotenv

from shared import areas, notes
from shared.networks import parse_networks

# One service per area (shared/areas.py), and the ledger.
DOMAIN_SERVICES = areas.names()
SERVICES = (*DOMAIN_SERVICES, "ledger")
# Their ports, and a witness's (services/witness: no service of Ladder's, but `make run`
# starts one for development).
DEFAULT_PORTS = {**{entry.name: entry.port for entry in areas.AREAS}, "ledger": 8000,
                 "witness": 8010}

# Values that are fine on a laptop and refused in production.
DEV_SECRETS = {
    "LADDER_PSEUDONYM_KEY": "dev-pseudonym-key-not-for-production",
    "LADDER_TOKEN_PEPPER": "dev-token-pepper-not-for-production",
    "LADDER_SESSION_SECRET": "dev-session-secret-not-for-production",
    "LADDER_DISCLOSURE_KEY": "dev-disclosure-key-not-for-production",
}
# The secrets each process holds. The ledger never holds the pseudonym key (with it,
# anyone reading the ledger could test a guessed citizen reference against its
# pseudonyms); the domain services never hold the ledger's signing key; the relay
# holds none. Production refuses a needed secret that is missing, a default, or short.
NEEDED_SECRETS: dict[str, tuple[str, ...]] = {
    # The session secret signs the dashboard's cookie and CSRF tokens; the disclosure key
    # decides which way each figure is rounded (with it, rounding could be undone).
    "ledger": ("LADDER_TOKEN_PEPPER", "LADDER_SESSION_SECRET", "LADDER_DISCLOSURE_KEY"),
    **{name: ("LADDER_TOKEN_PEPPER", "LADDER_PSEUDONYM_KEY") for name in DOMAIN_SERVICES},
}
MIN_SECRET_LENGTH = 32
# Seconds a stop needs beyond Celery's soft shutdown: cancel, requeue, disconnect.
STOP_MARGIN = 5.0


class ConfigError(RuntimeError):
    """A setting is missing or unsafe for the mode we run in."""


def load_dotenv_file(path: Path) -> None:
    """Set what a .env file sets and the environment does not: the real environment wins,
    as it does over docker-compose's .env. python-dotenv reads it: quotes, ``export``,
    comments, and ``${VAR}`` in a value (the real environment's first)."""
    dotenv.load_dotenv(path, override=False)


def var_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the embedded defaults keep their files (SQLite, Redis, keys)."""
    env = os.environ if env is None else env
    return Path(env.get("LADDER_VAR_DIR", "var")).resolve()


def default_redis_url(env: Mapping[str, str] | None = None) -> str:
    """The embedded Redis listens on a unix socket under the var directory."""
    return f"redis+socket://{var_dir(env) / 'redis.sock'}"


def metrics_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where processes keep prometheus-client's multiprocess files."""
    env = os.environ if env is None else env
    return Path(env.get("LADDER_METRICS_DIR") or var_dir(env) / "metrics").resolve()


def database_url(service: str, env: Mapping[str, str] | None = None) -> str:
    """A service's database: ``<SERVICE>_DATABASE_URL`` if set; otherwise the one
    convention, ``LADDER_DATABASE_URL_TEMPLATE`` with ``{service}`` standing for the
    service's name; otherwise a SQLite file under the var directory."""
    env = os.environ if env is None else env
    own = env.get(f"{service.upper()}_DATABASE_URL")
    if own:
        return own
    template = env.get("LADDER_DATABASE_URL_TEMPLATE")
    if not template:
        return f"sqlite:///{var_dir(env) / (service + '.db')}"
    # Without it every service would share one database, and the areas' tables clash.
    if "{service}" not in template:
        raise ConfigError(f"LADDER_DATABASE_URL_TEMPLATE must contain {{service}}, which "
                          f"each service's name replaces; got {template!r}")
    return template.replace("{service}", service)


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{key} must be a number, got {raw!r}") from exc


def _int(env: Mapping[str, str], key: str, default: int) -> int:
    return int(_float(env, key, default))


# Standard Webhooks' example schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
# 14 h, 20 h and 24 h, each delay counted from the attempt before.
WEBHOOK_SCHEDULE = "0,5,300,1800,7200,18000,36000,50400,72000,86400"


def _schedule(env: Mapping[str, str]) -> tuple[float, ...]:
    raw = env.get("LADDER_WEBHOOK_SCHEDULE") or WEBHOOK_SCHEDULE
    try:
        delays = tuple(float(part) for part in raw.replace(" ", "").split(","))
    except ValueError as exc:
        raise ConfigError("LADDER_WEBHOOK_SCHEDULE must be seconds separated by commas, "
                          f"got {raw!r}") from exc
    if not delays or any(d < 0 for d in delays):
        raise ConfigError(f"LADDER_WEBHOOK_SCHEDULE must list delays of 0 s or more, got {raw!r}")
    return delays


def webhook_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Webhooks out (docs/webhooks.md): retry schedule, timeouts, the SSRF guard's exceptions."""
    try:
        allowed = parse_networks(env.get("LADDER_WEBHOOK_ALLOWED_NETWORKS", ""))
    except ValueError as exc:
        raise ConfigError(f"LADDER_WEBHOOK_ALLOWED_NETWORKS: {exc}") from exc
    jitter = _float(env, "LADDER_WEBHOOK_JITTER", 0.1)
    if not 0 <= jitter < 1:
        raise ConfigError(f"LADDER_WEBHOOK_JITTER must be from 0 to under 1, got {jitter}")
    timeout = _float(env, "LADDER_WEBHOOK_TIMEOUT", 15.0)
    if timeout <= 0:
        raise ConfigError("LADDER_WEBHOOK_TIMEOUT must be more than 0 seconds")
    return {
        "WEBHOOK_SCHEDULE": _schedule(env),
        "WEBHOOK_JITTER": jitter,
        "WEBHOOK_TIMEOUT": timeout,
        "WEBHOOK_ALLOWED_NETWORKS": allowed,
        "WEBHOOK_SECRET_OVERLAP": _float(env, "LADDER_WEBHOOK_SECRET_OVERLAP", 86400.0),
        "WEBHOOK_MAX_ENTRIES": max(1, _int(env, "LADDER_WEBHOOK_MAX_ENTRIES", 100)),
        "WEBHOOK_SWEEP_INTERVAL": _float(env, "LADDER_WEBHOOK_SWEEP_INTERVAL", 1.0),
        "WEBHOOK_REQUEUE_AFTER": _float(env, "LADDER_WEBHOOK_REQUEUE_AFTER", 60.0),
        "WEBHOOK_RETENTION_DAYS": _float(env, "LADDER_WEBHOOK_RETENTION_DAYS", 90.0),
    }


def disclosure_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Disclosure control of every figure below admin (docs/metrics.md)."""
    base = _int(env, "LADDER_DISCLOSURE_BASE", 5)
    if base < 2:
        raise ConfigError(f"LADDER_DISCLOSURE_BASE must be 2 or more, got {base}: "
                          "a base of 1 would show every count exact")
    threshold = _int(env, "LADDER_SUPPRESSION_THRESHOLD", 10)
    if threshold < base:
        raise ConfigError(f"LADDER_SUPPRESSION_THRESHOLD ({threshold}) must be at least "
                          f"LADDER_DISCLOSURE_BASE ({base})")
    schedule = env.get("LADDER_PUBLISH_SCHEDULE", "")
    if schedule not in ("", "month", "quarter", "year"):
        raise ConfigError(f"LADDER_PUBLISH_SCHEDULE must be empty, month, quarter or year, "
                          f"got {schedule!r}")
    return {"DISCLOSURE_BASE": base, "SUPPRESSION_THRESHOLD": threshold,
            "PUBLISH_SCHEDULE": schedule,
            "PUBLISH_DELAY_DAYS": _float(env, "LADDER_PUBLISH_DELAY_DAYS", 7.0)}


def _rate_limit(env: Mapping[str, str], key: str, default: str) -> str:
    """A limit such as ``1200 per minute``; ``off`` for none."""
    raw = (env.get(key) or default).strip()
    return "" if raw.lower() == "off" else raw


def load(service: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Build the Flask config of one service from the environment."""
    env = os.environ if env is None else env
    mode = env.get("LADDER_ENV", "development")
    if mode not in ("development", "production"):
        raise ConfigError(f"LADDER_ENV must be development or production, got {mode!r}")
    config: dict[str, Any] = {
        "SERVICE_NAME": service,
        "LADDER_ENV": mode,
        "DATABASE_URL": database_url(service, env),
        # An erasure in any area erases in every area (shared/area/erasure.py).
        "AREA_DATABASE_URLS": {area: database_url(area, env) for area in areas.names()},
        "REDIS_URL": env.get("REDIS_URL") or default_redis_url(env),
        "MAX_CONTENT_LENGTH": _int(env, "LADDER_MAX_BODY_BYTES", 256 * 1024),
        "VISIBILITY_TIMEOUT": _float(env, "LADDER_VISIBILITY_TIMEOUT", 300.0),
        "SOFT_SHUTDOWN_TIMEOUT": _float(env, "LADDER_SOFT_SHUTDOWN_TIMEOUT", 10.0),
        "BROKER_TIMEOUT": _float(env, "LADDER_BROKER_TIMEOUT", 2.0),
        "RELAY_BATCH_SIZE": _int(env, "LADDER_RELAY_BATCH_SIZE", 2000),
        "RELAY_INTERVAL": _float(env, "LADDER_RELAY_INTERVAL", 0.2),
        "REPUBLISH_AFTER": _float(env, "LADDER_REPUBLISH_AFTER", 600.0),
        "FOLLOW_BATCH_SIZE": max(1, _int(env, "LADDER_FOLLOW_BATCH_SIZE", 2000)),
        "FOLLOW_INTERVAL": _float(env, "LADDER_FOLLOW_INTERVAL", 0.05),
        "FOLLOW_STUCK_AFTER": _float(env, "LADDER_FOLLOW_STUCK_AFTER", 60.0),
        "FOLLOW_SKIP_AFTER": max(0, _int(env, "LADDER_FOLLOW_SKIP_AFTER", 3)),
        **disclosure_settings(env),
        "PAGE_LIMIT_MAX": _int(env, "LADDER_PAGE_LIMIT_MAX", 1000),
        "SESSION_HOURS": _float(env, "LADDER_SESSION_HOURS", 8.0),
        **webhook_settings(env),
        "RATE_LIMIT_API": _rate_limit(env, "LADDER_RATE_LIMIT_API", "1200 per minute"),
        "RATE_LIMIT_WEBHOOKS": _rate_limit(env, "LADDER_RATE_LIMIT_WEBHOOKS", "1200 per minute"),
        "RATE_LIMIT_ADDRESS": _rate_limit(env, "LADDER_RATE_LIMIT_ADDRESS", "6000 per minute"),
        "RATE_LIMIT_STORAGE_URL": env.get("LADDER_RATE_LIMIT_STORAGE_URL", ""),
    }
    config["METRICS_DIR"] = str(metrics_dir(env))
    config["STOP_GRACE_PERIOD"] = stop_grace_period(env)
    config["SIGNING_KEY"] = env.get("LADDER_SIGNING_KEY", "")
    config["LOG_ORIGIN"] = _origin(env.get("LADDER_LOG_ORIGIN", ""))
    config["SIGNING_KEY_FILE"] = env.get("LADDER_SIGNING_KEY_FILE") or str(
        var_dir(env) / "ledger-signing-key.pem")
    if config["SIGNING_KEY"]:
        _check_seed(config["SIGNING_KEY"])
    if mode == "production" and service == "ledger":
        _check_signing_file(env)
    if service == "witness":
        config.update(witness_settings(env, mode))
    if service == "ledger":
        config.update(witnesses(env))
    if service in DOMAIN_SERVICES:
        config.update(receipt_settings(env))
    for key, dev_value in DEV_SECRETS.items():
        value = env.get(key, "")
        if mode == "production" and key in NEEDED_SECRETS.get(service, ()):
            _check_secret(key, value, dev_value)
        config[key.removeprefix("LADDER_")] = value or (dev_value if mode == "development"
                                                       else "")
    return config


def stop_grace_period(env: Mapping[str, str] | None = None) -> float:
    """Seconds a process has between SIGTERM and SIGKILL (docker-compose's stop_grace_period).

    Refused if it leaves the ledger worker no time to finish its soft shutdown.
    """
    env = os.environ if env is None else env
    grace = _float(env, "LADDER_STOP_GRACE_PERIOD", 30.0)
    soft = _float(env, "LADDER_SOFT_SHUTDOWN_TIMEOUT", 10.0)
    if grace < soft + STOP_MARGIN:
        raise ConfigError(
            f"LADDER_STOP_GRACE_PERIOD ({grace:g} s) must exceed LADDER_SOFT_SHUTDOWN_TIMEOUT "
            f"({soft:g} s) by at least {STOP_MARGIN:g} s, or a stop kills the worker before "
            f"it has put its batch back")
    return grace


def _check_secret(key: str, value: str, dev_value: str) -> None:
    if not value or value == dev_value:
        raise ConfigError(f"{key} must be set to a secret value in production "
                          f"(e.g. the output of `openssl rand -base64 32`)")
    if len(value) < MIN_SECRET_LENGTH:
        raise ConfigError(f"{key} is too short for production: use at least "
                          f"{MIN_SECRET_LENGTH} characters (`openssl rand -base64 32`)")


def witnesses(env: Mapping[str, str]) -> dict[str, Any]:
    """The witnesses the ledger asks to cosign its checkpoints: LADDER_WITNESSES, ``<URL>
    <cosignature vkey>`` pairs separated by commas; and how many must cosign a checkpoint
    before the ledger serves it (LADDER_WITNESS_QUORUM, every one by default)."""
    found = []
    for item in env.get("LADDER_WITNESSES", "").split(","):
        parts = item.split()
        if not parts:
            continue
        try:
            if len(parts) != 2 or not parts[0].startswith(("http://", "https://")):
                raise notes.NoteError("not '<URL> <vkey>'")
            found.append((parts[0].rstrip("/"), notes.Verifier.parse(parts[1],
                                                                     notes.COSIGNATURE)))
        except notes.NoteError as exc:
            raise ConfigError(f"LADDER_WITNESSES: {item.strip()!r}: {exc}") from exc
    quorum = _int(env, "LADDER_WITNESS_QUORUM", len(found))
    if found and not 1 <= quorum <= len(found):
        raise ConfigError(f"LADDER_WITNESS_QUORUM must be between 1 and the {len(found)} "
                          f"witnesses of LADDER_WITNESSES")
    return {"WITNESSES": found, "WITNESS_QUORUM": quorum,
            "WITNESS_INTERVAL": _float(env, "LADDER_WITNESS_INTERVAL", 1.0)}


def local_url(host: str, port: str) -> str:
    """The URL of a service of this machine bound to ``host``: 0.0.0.0 on the loopback."""
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"


def receipt_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """Where an area asks the ledger for the receipt of an involvement it recorded, and
    the ledger token it presents (shared/area/receipts.py): LADDER_LEDGER_URL, by default
    the ledger of this machine (LADDER_BIND, LEDGER_PORT); LADDER_RECEIPTS_TOKEN, an
    inspect token, without which the area's receipt route answers 503."""
    url = (env.get("LADDER_LEDGER_URL") or local_url(
        env.get("LADDER_BIND", ""), env.get("LEDGER_PORT") or str(DEFAULT_PORTS["ledger"]))
    ).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query \
            or parts.fragment:
        raise ConfigError(f"LADDER_LEDGER_URL must be the ledger's http(s) URL, e.g. "
                          f"http://ledger:8000; got {url!r}")
    token = env.get("LADDER_RECEIPTS_TOKEN", "")
    if token and (not token.isprintable() or any(c.isspace() for c in token)):
        # It goes into a header: say what is wrong here rather than fail at each request.
        raise ConfigError("LADDER_RECEIPTS_TOKEN must be a ledger token as `ladder token "
                          "create` shows it, without spaces")
    return {"LEDGER_URL": url, "RECEIPTS_TOKEN": token}


def witness_settings(env: Mapping[str, str], mode: str) -> dict[str, Any]:
    """A witness's name, key and the logs it follows (LADDER_WITNESS_LOGS: their verifier
    keys, separated by spaces, commas or newlines, each followed, if the witness is to
    monitor its published figures, by the ledger's URL); how often it fetches them, and
    when its copy is stale (docs/witness.md)."""
    name = env.get("LADDER_WITNESS_NAME", "")
    try:
        logs, urls = _witness_logs(env.get("LADDER_WITNESS_LOGS", ""))
        if name:
            notes.check_name(name)
    except notes.NoteError as exc:
        raise ConfigError(f"LADDER_WITNESS_NAME or LADDER_WITNESS_LOGS: {exc}") from exc
    interval = _float(env, "LADDER_WITNESS_MONITOR_INTERVAL", 300.0)
    stale_after = _float(env, "LADDER_WITNESS_MONITOR_STALE_AFTER", 3 * interval)
    if interval <= 0 or stale_after <= 0:
        raise ConfigError("LADDER_WITNESS_MONITOR_INTERVAL and _STALE_AFTER must be more "
                          "than 0 seconds")
    seed = env.get("LADDER_WITNESS_KEY", "")
    if seed:
        _check_seed(seed, "LADDER_WITNESS_KEY")
    path = env.get("LADDER_WITNESS_KEY_FILE") or str(var_dir(env) / "witness-key.pem")
    if mode == "production" and not seed and not Path(path).is_file():
        raise ConfigError("LADDER_WITNESS_KEY or LADDER_WITNESS_KEY_FILE must be set in "
                          "production: the witness signs its cosignatures with it")
    return {"WITNESS_NAME": name, "WITNESS_LOGS": logs, "WITNESS_KEY": seed,
            "WITNESS_KEY_FILE": path, "WITNESS_LOG_URLS": urls,
            "WITNESS_MONITOR_INTERVAL": interval, "WITNESS_MONITOR_STALE_AFTER": stale_after}


def _witness_logs(value: str) -> tuple[list[notes.Verifier], dict[str, str]]:
    """The verifier keys of LADDER_WITNESS_LOGS, and the URL that follows a key, by the
    log's origin: where that ledger publishes its releases."""
    logs: list[notes.Verifier] = []
    urls: dict[str, str] = {}
    for item in value.replace(",", " ").split():
        if not item.startswith(("http://", "https://")):
            logs.append(notes.Verifier.parse(item))
        elif not logs or logs[-1].name in urls or not urlsplit(item).hostname:
            raise notes.NoteError(f"{item!r}: a ledger's URL follows its verifier key, once")
        else:
            urls[logs[-1].name] = item.rstrip("/")
    return logs, urls


def _origin(value: str) -> str:
    """The log's name in its checkpoints (c2sp.org/tlog-checkpoint): its public URL
    without the scheme, e.g. ``ledger.example.org``; empty for one derived from the key."""
    if not value:
        return ""
    try:
        return notes.check_name(value)
    except notes.NoteError as exc:
        raise ConfigError(f"LADDER_LOG_ORIGIN: {exc}") from exc


def _check_seed(value: str, key: str = "LADDER_SIGNING_KEY") -> None:
    try:
        seed = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        seed = b""
    if len(seed) != 32:
        raise ConfigError(f"{key} must be base64 of a 32-byte Ed25519 seed "
                          f"(`openssl rand -base64 32`)")


def _check_signing_file(env: Mapping[str, str]) -> None:
    """Production signs with a key it was given; it never makes one up."""
    if env.get("LADDER_SIGNING_KEY"):
        return
    path = env.get("LADDER_SIGNING_KEY_FILE")
    if not path:
        raise ConfigError("LADDER_SIGNING_KEY or LADDER_SIGNING_KEY_FILE must be set in "
                          "production: the ledger signs its tree heads with it")
    if not Path(path).is_file():
        raise ConfigError(f"LADDER_SIGNING_KEY_FILE names {path}, which is not a file")
