"""Outbound URLs: public addresses only, unless configuration allows private ones."""

from __future__ import annotations

import pytest

from shared.config import load
from shared.netguard import check_url


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://127.8.9.10:8000/", "http://localhost:8001/",
    "http://[::1]/", "http://10.0.0.5/", "http://172.16.3.4/", "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/", "http://0.0.0.0/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:10.0.0.1]/", "http://[fc00::1]/",
    "http://[fe80::1]/", "http://224.0.0.1/", "http://240.0.0.1/", "http://2130706433/",
    "http://0x7f000001/", "https://user:pass@127.0.0.1/", "http://[2002:7f00:1::]/",
])
def test_private_and_loopback_addresses_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="LADDER_OUTBOUND_ALLOW_PRIVATE"):
        check_url(url, allow_private=False)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://10.0.0.5/",
                                 "https://localhost/"])
def test_configuration_can_allow_private_addresses(url: str) -> None:
    check_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["https://93.184.216.34/hooks", "http://[2606:4700::1111]/"])
def test_public_addresses_are_allowed(url: str) -> None:
    check_url(url, allow_private=False)


@pytest.mark.parametrize(("url", "reason"), [
    ("file:///etc/passwd", "only http and https"), ("gopher://1.2.3.4/", "only http and https"),
    ("http:///nohost", "no host"), ("http://1.2.3.4:99999/", "port"),
    ("https://name-that-does-not-exist.invalid/", "does not resolve"),
])
def test_other_schemes_and_unresolvable_hosts_are_refused(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_url(url, allow_private="invalid" not in url)


def test_private_addresses_are_refused_unless_the_setting_allows_them() -> None:
    assert load("recruitment", {})["OUTBOUND_ALLOW_PRIVATE"] is False
    assert load("recruitment", {"LADDER_OUTBOUND_ALLOW_PRIVATE": "true"})[
        "OUTBOUND_ALLOW_PRIVATE"] is True
