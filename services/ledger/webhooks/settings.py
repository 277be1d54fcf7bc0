"""Webhooks out, the settings: the LADDER_WEBHOOK_* values every use case reads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from services.ledger.disclosure import Control
from shared import outbound


@dataclass(frozen=True)
class Settings:
    """The LADDER_WEBHOOK_* settings, as shared.config reads them."""

    schedule: tuple[float, ...]
    jitter: float
    timeout: float
    allowed: tuple[outbound.Network, ...]
    secret_overlap: float
    max_entries: int
    requeue_after: float
    retention_days: float
    # Alerts watch the figures a reader below admin sees, never the exact ones.
    disclosure: Control

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        return cls(schedule=tuple(config["WEBHOOK_SCHEDULE"]), jitter=config["WEBHOOK_JITTER"],
                   timeout=config["WEBHOOK_TIMEOUT"],
                   allowed=tuple(config["WEBHOOK_ALLOWED_NETWORKS"]),
                   secret_overlap=config["WEBHOOK_SECRET_OVERLAP"],
                   max_entries=config["WEBHOOK_MAX_ENTRIES"],
                   requeue_after=config["WEBHOOK_REQUEUE_AFTER"],
                   retention_days=config["WEBHOOK_RETENTION_DAYS"],
                   disclosure=Control.from_config(config))

    @classmethod
    def defaults(cls) -> Settings:
        from shared.config import DEV_SECRETS, disclosure_settings, webhook_settings

        return cls.from_config({**webhook_settings({}), **disclosure_settings({}),
                                "DISCLOSURE_KEY": DEV_SECRETS["LADDER_DISCLOSURE_KEY"]})

    @property
    def lease(self) -> timedelta:
        """How long an attempt holds its message: past it, a killed worker's claim is void."""
        return timedelta(seconds=2 * self.timeout + 1)
