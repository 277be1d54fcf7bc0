"""Address ranges as a setting gives them (LADDER_WEBHOOK_ALLOWED_NETWORKS).

Apart from shared/outbound.py, which uses them, so that reading the settings does not
import an HTTP client: every process reads them, and most never send a webhook.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"127.0.0.0/8, ::1/128"`` -> networks; ValueError names a bad one."""
    networks = []
    for part in text.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(f"{part!r} is not a network: {exc}") from exc
    return tuple(networks)
