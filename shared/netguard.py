"""Outbound HTTP only to public addresses, unless configuration allows private ones.

A URL that Ladder is told to call (an outgoing webhook's endpoint, say) must not
make it reach into the network it runs in: loopback, private ranges, link-local
(cloud metadata at 169.254.169.254), carrier-grade NAT, multicast and reserved
addresses are refused, including by a name that resolves to one, or an IPv6
address that maps one. ``LADDER_OUTBOUND_ALLOW_PRIVATE=true`` allows them, for a
deployment whose receivers live on its own network.

A name is resolved here, and every address it resolves to must be public. The
caller should connect to what was checked, soon: a name can resolve differently
later (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def check_url(url: str, allow_private: bool) -> None:
    """Return if ``url`` may be called; raise ValueError saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"only http and https URLs may be called, not {parts.scheme or 'none'!r}")
    host = parts.hostname
    if not host:
        raise ValueError("the URL names no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValueError(f"the URL's port is not valid: {exc}") from exc
    if allow_private:
        return
    for address in resolve(host, port):
        reason = _not_public(address)
        if reason:
            raise ValueError(f"{host} is {reason} ({address}); set "
                             "LADDER_OUTBOUND_ALLOW_PRIVATE=true to allow it")


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` stands for: itself if it is one, else what DNS says."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError(f"{host} does not resolve: {exc}") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _not_public(address: Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return _not_public(mapped)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "not a public address"
    return None
