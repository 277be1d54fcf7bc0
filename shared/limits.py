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

Counting is by sliding window counter, as the ``limits`` library defines it: two
counters per key, the current window's and the previous one's, weighted by how much of
the previous window is still inside the last one. A request costs the same whatever the
limit.

**One round trip.** Every limit that applies to a request is checked and counted in one
Lua script, so a request costs one Redis round trip, not one or two per limit: that is
why this is not flask-limiter, which hits each limit with a round trip of its own and
reads the headers' figures with another: three for a webhook, about 0.8 ms of its CPU
against 0.26 ms here (docs/performance.md). The script counts a request against every limit or
against none: a request one limit refuses does not use up the others.

Health checks and the OpenAPI document are never limited. If Redis cannot be reached,
counting falls back to each process's memory (the ``limits`` library's) for
:data:`RETRY_REDIS_AFTER` seconds rather than refuse or fail requests: the outbox
accepts work while Redis is away, and so do the limits.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from flask import Flask, Response, g, request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from werkzeug.exceptions import TooManyRequests

from shared.config import ConfigError
from shared.errors import RETRY_AFTER_UNAVAILABLE

log = logging.getLogger(__name__)

LIMITED = ("/v1/", "/ct/")
WEBHOOKS = "/v1/webhooks/"
# Seconds counted in memory after Redis failed, before Redis is tried again.
RETRY_REDIS_AFTER = 5.0

# KEYS: the previous and the current window's counter of each limit, in pairs.
# ARGV: each limit's amount and window in milliseconds, in pairs.
# First every window that has ended is shifted, and each weighted count read; only if
# none would go over its amount is each current counter incremented. Returns 1 or 0
# (counted or refused), then each limit's previous count, its time to live, the
# current count and its time to live, as they stand afterwards.
_SCRIPT = """
local n = #KEYS / 2
local over = false
local figures = {}
for i = 1, n do
  local previous, current = KEYS[2 * i - 1], KEYS[2 * i]
  local amount, window = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local current_ttl = redis.call('pttl', current)
  if current_ttl > 0 and current_ttl < window then
    redis.call('rename', current, previous)
    redis.call('set', current, 0, 'PX', current_ttl + window)
  end
  local previous_count = tonumber(redis.call('get', previous)) or 0
  local previous_ttl = math.max(redis.call('pttl', previous), 0)
  local current_count = tonumber(redis.call('get', current)) or 0
  if math.floor(previous_count * previous_ttl / window) + current_count + 1 > amount then
    over = true
  end
  figures[i] = {previous_count, previous_ttl, current_count}
end
local answer = {over and 0 or 1}
for i = 1, n do
  local current, window = KEYS[2 * i], tonumber(ARGV[2 * i])
  if not over then
    if redis.call('exists', current) == 1 then
      figures[i][3] = redis.call('incr', current)
    else
      redis.call('set', current, 1, 'PX', window * 2)
      figures[i][3] = 1
    end
  end
  local current_ttl = math.max(redis.call('pttl', current), 0)
  table.insert(answer, figures[i][1])
  table.insert(answer, figures[i][2])
  table.insert(answer, figures[i][3])
  table.insert(answer, current_ttl)
end
return answer
"""


def redis_url(url: str) -> str:
    """redis-py's name for the Redis that kombu calls ``redis+socket://``."""
    if url.startswith("redis+socket://"):
        return "unix://" + url.removeprefix("redis+socket://")
    return url


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


def _is_api() -> bool:
    return not _is_webhook()


@dataclass(frozen=True)
class Rule:
    """One configured limit: what it allows, and whom a request counts against."""

    scope: str
    text: str
    item: RateLimitItem
    who: Callable[[], str]
    applies: Callable[[], bool]


@dataclass(frozen=True)
class Standing:
    """Where a request leaves one limit."""

    rule: Rule
    remaining: int
    reset_at: float


def _rule(config: dict[str, Any], key: str, scope: str, who: Callable[[], str],
          applies: Callable[[], bool]) -> list[Rule]:
    value = str(config.get(key) or "").strip()
    if not value:
        return []
    try:
        items = parse_many(value)
    except ValueError as exc:
        raise ConfigError(f"LADDER_{key} is not a rate limit such as '600 per minute': "
                          f"{value!r}") from exc
    return [Rule(scope, value, item, who, applies) for item in items]


def _standing(rule: Rule, previous: int, previous_ttl: float, current: int,
              current_ttl: float, now: float) -> Standing:
    """What is left of a limit, and when a request more would fit: the ``limits``
    library's figures for a sliding window counter, from its two counters."""
    window = rule.item.get_expiry()
    weighted = previous * previous_ttl / window + current
    remaining = max(0, rule.item.amount - math.floor(weighted))
    # A counter set this instant has exactly two windows to live: its period, not 0.
    resets = [previous_ttl % (window / previous) or window / previous] if previous else []
    resets += [current_ttl % window or window] if current else []
    return Standing(rule, remaining, now + min(resets, default=0.0))


class Limits:
    """Every limit of one app, counted in Redis, or in memory while Redis is away."""

    def __init__(self, rules: list[Rule], url: str, prefix: str, timeout: float) -> None:
        self.rules = rules
        self.prefix = prefix
        self.redis = redis.Redis.from_url(redis_url(url), socket_timeout=timeout,
                                          socket_connect_timeout=timeout)
        self.script = self.redis.register_script(_SCRIPT)
        self.memory = SlidingWindowCounterRateLimiter(MemoryStorage())
        self.memory_lock = threading.Lock()
        self.redis_away_until = 0.0

    def count(self, rules: list[Rule]) -> tuple[bool, list[Standing]]:
        """Count a request against ``rules``: whether it fits, and where it leaves each."""
        keys = [f"{self.prefix}:{rule.scope}:{rule.who()}:{rule.item.amount}/"
                f"{rule.item.get_expiry()}" for rule in rules]
        if time.monotonic() >= self.redis_away_until:
            try:
                return self._in_redis(rules, keys)
            except redis.RedisError as exc:
                log.warning("rate limits: Redis unreachable, counting in memory for %g s: %s",
                            RETRY_REDIS_AFTER, exc)
                self.redis_away_until = time.monotonic() + RETRY_REDIS_AFTER
        return self._in_memory(rules, keys)

    def _in_redis(self, rules: list[Rule], keys: list[str]) -> tuple[bool, list[Standing]]:
        pairs = [name for key in keys for name in (f"{key}:previous", f"{key}:current")]
        windows = [n for rule in rules
                   for n in (rule.item.amount, rule.item.get_expiry() * 1000)]
        answer = [int(n) for n in self.script(keys=pairs, args=windows)]
        now = time.time()
        return bool(answer[0]), [
            _standing(rule, answer[1 + 4 * i], answer[2 + 4 * i] / 1000,
                      answer[3 + 4 * i], answer[4 + 4 * i] / 1000, now)
            for i, rule in enumerate(rules)]

    def _in_memory(self, rules: list[Rule], keys: list[str]) -> tuple[bool, list[Standing]]:
        pairs = list(zip(rules, keys, strict=True))
        with self.memory_lock:
            fits = all(self.memory.test(rule.item, key) for rule, key in pairs)
            if fits:
                for rule, key in pairs:
                    self.memory.hit(rule.item, key)
            standings = []
            for rule, key in pairs:
                stats = self.memory.get_window_stats(rule.item, key)
                standings.append(Standing(rule, stats.remaining, stats.reset_time))
        return fits, standings


def init_app(app: Flask) -> None:
    """Check and count every limited request before it is handled."""
    config = app.config
    rules = (_rule(config, "RATE_LIMIT_API", "api", _token_or_address, _is_api)
             + _rule(config, "RATE_LIMIT_WEBHOOKS", "webhooks", _integration_and_address,
                     _is_webhook)
             + _rule(config, "RATE_LIMIT_ADDRESS", "address", _address, lambda: True))
    # Registered first so that it runs after every other after_request.
    app.after_request(_headers)
    if not rules:
        return
    limits = Limits(rules, config.get("RATE_LIMIT_STORAGE_URL") or config["REDIS_URL"],
                    config.get("RATE_LIMIT_KEY_PREFIX") or f"ladder:{config['SERVICE_NAME']}",
                    config["BROKER_TIMEOUT"])
    app.extensions["limits"] = limits

    @app.before_request
    def _check() -> None:
        if not request.path.startswith(LIMITED):
            return
        applying = [rule for rule in limits.rules if rule.applies()]
        if not applying:
            return
        fits, standings = limits.count(applying)
        if fits:
            # The headers speak of the request's own limit, its token's or its
            # integration's (the address's only where no other applies): what a client
            # can plan by, and the same for a name that exists and one that does not.
            g.rate_limit = standings[0]
            return
        # The limit that refused: one with nothing left (the first, if several).
        g.rate_limit = min(standings, key=lambda s: s.remaining)
        raise TooManyRequests(f"Too many requests: at most {g.rate_limit.rule.text}.",
                              retry_after=max(1, math.ceil(g.rate_limit.reset_at
                                                           - time.time())))


def _headers(response: Response) -> Response:
    """The X-RateLimit headers of the limit the request was counted against; Retry-After
    only where it means something: on a 429, and on a 503 (how long the database needs)."""
    standing: Standing | None = g.get("rate_limit")
    if standing is not None:
        response.headers["X-RateLimit-Limit"] = str(standing.rule.item.amount)
        response.headers["X-RateLimit-Remaining"] = str(standing.remaining)
        response.headers["X-RateLimit-Reset"] = str(int(standing.reset_at))
    if response.status_code == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_UNAVAILABLE)
    return response
