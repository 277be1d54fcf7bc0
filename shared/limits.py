"""Rate limits on the API and the webhooks: 429 with Retry-After, counted in Redis.

Counts live in Redis, so every gunicorn worker of a service, and every instance
behind a load balancer, shares them. Three limits, each a string such as
``1200 per minute`` (empty: no such limit):

- ``RATE_LIMIT_API``: each bearer token on the REST and tree-head routes (each
  client address, for requests without one);
- ``RATE_LIMIT_WEBHOOKS``: each integration from each client address; keyed by
  address too so that unsigned junk sent to an integration's URL cannot use up
  the integration's own allowance;
- ``RATE_LIMIT_ADDRESS``: each client address over all of them, so that inventing
  tokens or integration names gets no further allowance.

Counting is by sliding window: two counters per key, so a request costs the same
whatever the limit (a moving window keeps one timestamp per request, which a high
limit makes long to read). Health checks and the OpenAPI document are never
limited. If Redis cannot be reached, counting falls back to each process's memory
rather than refuse or fail requests: the outbox accepts work while Redis is away,
and so do the limits.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask, Response, request
from flask_limiter import ApplicationLimit, Limiter
from limits import parse_many

from shared.config import ConfigError
from shared.errors import RETRY_AFTER_UNAVAILABLE

LIMITED = ("/v1/", "/ct/")
WEBHOOKS = "/v1/webhooks/"


def storage_uri(redis_url: str) -> str:
    """The limits library's name for the Redis that kombu calls ``redis+socket://``."""
    if redis_url.startswith("redis+socket://"):
        return "redis+unix://" + redis_url.removeprefix("redis+socket://")
    return redis_url


def _address() -> str:
    return request.remote_addr or "unknown"


def _token_or_address() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        # The token itself never reaches Redis, only a digest of it.
        return "token:" + hashlib.sha256(token.strip().encode()).hexdigest()[:32]
    return "address:" + _address()


def _integration_and_address() -> str:
    integration = request.path.removeprefix(WEBHOOKS).split("/", 1)[0]
    return f"{integration[:100]}@{_address()}"


def _is_webhook() -> bool:
    return request.path.startswith(WEBHOOKS)


def _is_limited() -> bool:
    return request.path.startswith(LIMITED)


def _limit(config: dict[str, Any], key: str, scope: str, key_function: Any,
           applies: Any) -> list[ApplicationLimit]:
    value = str(config.get(key) or "").strip()
    if not value:
        return []
    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigError(f"LADDER_{key} is not a rate limit such as '600 per minute': "
                          f"{value!r}") from exc
    return [ApplicationLimit(value, key_function=key_function, scope=scope,
                             exempt_when=lambda: not applies(),
                             error_message=f"Too many requests: at most {value}.")]


def init_app(app: Flask) -> Limiter:
    """Attach the limiter; its counts are kept per service."""
    config = app.config
    limits = (
        _limit(config, "RATE_LIMIT_API", "api", _token_or_address,
               lambda: _is_limited() and not _is_webhook())
        + _limit(config, "RATE_LIMIT_WEBHOOKS", "webhooks", _integration_and_address,
                 _is_webhook)
        + _limit(config, "RATE_LIMIT_ADDRESS", "address", _address, _is_limited)
    )
    timeout = config["BROKER_TIMEOUT"]
    limiter = Limiter(
        _address,
        application_limits=limits,  # type: ignore[arg-type]
        storage_uri=storage_uri(config.get("RATE_LIMIT_STORAGE_URL") or config["REDIS_URL"]),
        storage_options={"socket_timeout": timeout, "socket_connect_timeout": timeout},
        strategy="sliding-window-counter",
        key_prefix=config.get("RATE_LIMIT_KEY_PREFIX") or f"ladder:{config['SERVICE_NAME']}",
        headers_enabled=True,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        enabled=bool(limits),
    )
    # Registered first so that it runs after the limiter has added its headers.
    app.after_request(_retry_after_only_when_refused)
    limiter.init_app(app)
    return limiter


def _retry_after_only_when_refused(response: Response) -> Response:
    """The limiter sets Retry-After on every answer, to when its window resets.

    That means something only on a 429. A 503 says how long the database needs.
    """
    if response.status_code == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
    elif response.status_code != 429:
        response.headers.pop("Retry-After", None)
    return response
