"""Outbound HTTP to addresses a user gave us: checked URLs, an SSRF guard, pinned connections.

A webhook URL is chosen by whoever holds an admin token; without a guard it is a way
to make Ladder's servers call into their own network (a database console, a cloud
metadata endpoint). So a URL must be http(s), and every address its host resolves to
must be a public one unless it lies in a network the configuration names
(``LADDER_WEBHOOK_ALLOWED_NETWORKS``, for tests and local development).

The check runs when a subscription is made and again at every delivery, because DNS
can change in between. At delivery the connection goes to the very address that was
checked (the socket is pinned to it; TLS still verifies the certificate against the
host name), so a name that resolves to a public address for the check and to a
private one a moment later cannot slip through. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.poolmanager import PoolManager
from urllib3.util.connection import create_connection

from shared.networks import Network

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolve = Callable[[str, int], list[str]]

SCHEMES = ("http", "https")
USER_AGENT = "Ladder-Webhooks/1.0"
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UrlInvalid(ValueError):
    """Not a URL Ladder will send to: the message says why."""


class AddressRefused(ValueError):
    """The host resolves to an address the SSRF guard refuses: the message says which."""

    def __init__(self, message: str, address: str = "", why: str = "") -> None:
        super().__init__(message)
        self.address = address
        self.why = why


class Unresolvable(ValueError):
    """The host name does not resolve."""


class DeliveryError(Exception):
    """The request did not get an HTTP answer; ``kind`` is timeout, connection, tls,
    dns or refused."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def check_url(url: str) -> Target:
    """Parse a webhook URL: absolute http(s), a host, no credentials, no fragment."""
    if not url or any(c.isspace() or ord(c) < 32 for c in url):
        raise UrlInvalid("Not a URL: it is empty or contains spaces or control characters.")
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UrlInvalid(f"Not a valid URL: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UrlInvalid(f"The scheme must be http or https, not {parts.scheme or 'none'!r}.")
    host = parts.hostname or ""
    if not host:
        raise UrlInvalid("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise UrlInvalid("Credentials in the URL are not allowed: the signature is the "
                         "credential.")
    if parts.fragment or url.endswith("#"):
        raise UrlInvalid("A webhook URL has no #fragment.")
    try:
        ascii_host = host if _is_ip(host) else host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise UrlInvalid(f"The host {host!r} is not a valid name.") from exc
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, ascii_host, port or (443 if scheme == "https" else 80), path)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def system_resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, as the operating system's resolver says."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"The host {host!r} does not resolve: {exc}.") from exc
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone
        if address not in addresses:
            addresses.append(address)
    return addresses


def _embedded(ip: IPAddress) -> IPAddress | None:
    """The IPv4 address inside an IPv4-mapped, 6to4, Teredo or NAT64 IPv6 address."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def classify(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address ("a loopback address"), or None if it is."""
    inner = _embedded(ip)
    if inner is not None:
        why = classify(inner)
        return f"{why}: it carries {inner}" if why else None
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if not ip.is_global:
        return "not a public address"
    return None


def guard(addresses: Iterable[str], allowed: Sequence[Network]) -> list[str]:
    """Refuse if any address is non-public and outside ``allowed``; else return them."""
    checked = []
    for text in addresses:
        ip = ipaddress.ip_address(text)
        why = classify(ip)
        if why and not any(ip.version == net.version and ip in net for net in allowed):
            raise AddressRefused(f"{ip} is {why}", str(ip), why)
        checked.append(text)
    if not checked:
        raise Unresolvable("The host resolves to no address.")
    return checked


def check_destination(url: str, allowed: Sequence[Network],
                      resolve: Resolve = system_resolve) -> tuple[Target, list[str]]:
    """Parse ``url`` and resolve its host; raise UrlInvalid, Unresolvable or AddressRefused."""
    target = check_url(url)
    literal = _is_ip(target.host)
    addresses = [target.host] if literal else resolve(target.host, target.port)
    try:
        return target, guard(addresses, allowed)
    except AddressRefused as exc:
        where = str(exc) if literal else f"{target.host} resolves to {exc.address}, {exc.why}"
        raise AddressRefused(
            f"{where}; Ladder sends webhooks only to public addresses, unless "
            "LADDER_WEBHOOK_ALLOWED_NETWORKS includes the address") from exc


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


# The guard is written here, beneath requests, because requests alone resolves the host
# again when it connects: a name could pass the check and then connect somewhere else.
# Each connection below goes to the one address that was checked, while the URL, the
# Host header, TLS's SNI and the certificate check all keep the host's name.


class _PinnedConnection(urllib3.connection.HTTPConnection):
    """Connects to ``address``, chosen and checked beforehand, instead of resolving."""

    def __init__(self, *args: Any, address: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.address = address

    def _new_conn(self) -> socket.socket:
        try:
            return create_connection((self.address, self.port), self.timeout,
                                     source_address=self.source_address,
                                     socket_options=self.socket_options)
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"connecting to {self.address} timed out") from exc
        except OSError as exc:
            raise NewConnectionError(
                self, f"cannot connect to {self.address}:{self.port}: {exc}") from exc


class _PinnedHTTPSConnection(_PinnedConnection, urllib3.connection.HTTPSConnection):
    """TLS over the pinned socket: SNI and the certificate check use the host name."""


class _PinnedPoolManager(PoolManager):
    def __init__(self, address: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.address = address

    def _new_pool(self, scheme: str, host: str, port: int,
                  request_context: dict[str, Any] | None = None) -> HTTPConnectionPool:
        pool = super()._new_pool(scheme, host, port, request_context)
        pool.ConnectionCls = _PinnedHTTPSConnection if scheme == "https" else _PinnedConnection
        pool.conn_kw["address"] = self.address
        return pool


class _PinnedAdapter(HTTPAdapter):
    """requests' transport, its every connection pinned to ``address``; no retries."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        self.poolmanager = _PinnedPoolManager(self.address, num_pools=connections,
                                              maxsize=maxsize, block=block, **pool_kwargs)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float,
         allowed: Sequence[Network], max_body: int = 1024,
         resolve: Resolve = system_resolve) -> Response:
    """POST ``body`` to ``url`` once: no redirects followed, ``timeout`` seconds in all.

    Returns the status, the headers and the first ``max_body`` bytes of the answer;
    raises DeliveryError when there is no answer (the SSRF guard refusing included).
    """
    deadline = time.monotonic() + timeout
    try:
        target, addresses = check_destination(url, allowed, resolve)
    except AddressRefused as exc:
        raise DeliveryError("refused", str(exc)) from exc
    except Unresolvable as exc:
        raise DeliveryError("dns", str(exc)) from exc
    except UrlInvalid as exc:
        raise DeliveryError("refused", str(exc)) from exc
    last: DeliveryError | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return _exchange(target, address, body, headers, remaining, max_body, timeout)
        except _Unreachable as exc:
            last = exc.error  # try the host's next address
    raise last or DeliveryError("timeout", f"no answer within {timeout:g} s")


class _Unreachable(Exception):
    def __init__(self, error: DeliveryError) -> None:
        self.error = error


def _exchange(target: Target, address: str, body: bytes, headers: dict[str, str],
              remaining: float, max_body: int, timeout: float) -> Response:
    with requests.Session() as session:
        # Nothing from the environment: no proxy (it would connect elsewhere), no netrc,
        # and none of requests' default headers.
        session.trust_env = False
        session.headers.clear()
        session.mount("http://", _PinnedAdapter(address))
        session.mount("https://", _PinnedAdapter(address))
        try:
            response = session.post(
                f"{target.scheme}://{target.host_header}{target.path}", data=body,
                headers={"Host": target.host_header, "User-Agent": USER_AGENT,
                         "Content-Type": "application/json", **headers},
                # One deadline for connecting and reading together; requests hands a urllib3
                # Timeout through as it is, though its annotation names only numbers.
                timeout=urllib3.Timeout(total=remaining),  # type: ignore[arg-type]
                allow_redirects=False, stream=True)
            with response:
                data = response.raw.read(max_body, decode_content=False)
                return Response(response.status_code,
                                {k.lower(): v for k, v in response.headers.items()}, data)
        except requests.exceptions.ConnectTimeout as exc:
            raise DeliveryError("timeout", f"connecting to {address} timed out") from exc
        except requests.exceptions.SSLError as exc:
            raise DeliveryError("tls", f"TLS with {target.host} failed: {exc}") from exc
        except requests.exceptions.ConnectionError as exc:
            reason = exc.args[0].reason if exc.args and isinstance(exc.args[0],
                                                                   MaxRetryError) else None
            if isinstance(reason, NewConnectionError):
                raise _Unreachable(DeliveryError("connection", str(reason))) from exc
            raise DeliveryError("connection", f"the connection failed: {exc!r}") from exc
        except (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError) as exc:
            raise DeliveryError("timeout", f"no answer within {timeout:g} s") from exc
        except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError,
                OSError) as exc:
            raise DeliveryError("connection", f"the connection failed: {exc!r}") from exc
