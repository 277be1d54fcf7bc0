"""Outbound URLs: public addresses only, unless configuration allows the network."""

from __future__ import annotations

import pytest

from shared.networks import parse_networks
from shared.outbound import check_destination, system_resolve


def _resolve(host: str, port: int) -> list[str]:
    """Names resolve as a fixed table: no DNS in a unit test."""
    table = {"localhost": ["127.0.0.1", "::1"], "hooks.example": ["93.184.216.34"],
             "rebound.example": ["93.184.216.34", "10.0.0.7"]}
    return table.get(host, [])


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://127.8.9.10:8000/", "http://localhost:8001/",
    "http://[::1]/", "http://10.0.0.5/", "http://172.16.3.4/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/", "http://0.0.0.0/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:10.0.0.1]/", "http://[fc00::1]/",
    "http://[fe80::1]/", "http://224.0.0.1/", "http://240.0.0.1/",
    "http://[2002:7f00:1::]/", "http://rebound.example/",
])
def test_private_and_loopback_addresses_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="LADDER_WEBHOOK_ALLOWED_NETWORKS"):
        check_destination(url, (), _resolve)


@pytest.mark.parametrize("url", ["http://2130706433/", "http://0x7f000001/", "http://127.1/"])
def test_odd_spellings_of_loopback_are_refused_as_the_resolver_reads_them(url: str) -> None:
    # getaddrinfo reads these numeric forms itself, without asking DNS.
    with pytest.raises(ValueError, match="LADDER_WEBHOOK_ALLOWED_NETWORKS"):
        check_destination(url, (), system_resolve)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://10.0.0.5/",
                                 "https://localhost/"])
def test_configuration_can_allow_private_networks(url: str) -> None:
    check_destination(url, parse_networks("127.0.0.0/8, ::1/128, 10.0.0.0/8"), _resolve)


@pytest.mark.parametrize("url", ["https://93.184.216.34/hooks", "http://[2606:4700::1111]/",
                                 "https://hooks.example/in"])
def test_public_addresses_are_allowed(url: str) -> None:
    check_destination(url, (), _resolve)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://1.2.3.4/", "http:///nohost",
                                 "http://1.2.3.4:99999/", "https://user:pass@1.2.3.4/",
                                 "https://nowhere.invalid/"])
def test_other_schemes_credentials_and_unresolvable_hosts_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        check_destination(url, (), _resolve)
