"""Webhooks out in plain Python: the SSRF guard, the retry schedule, Retry-After, filters."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

import pytest

from services.ledger.webhooks import domain
from shared import outbound
from shared.config import ConfigError, load
from shared.networks import parse_networks

NOW = datetime(2026, 5, 1, 12, 0, 0)
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


@pytest.mark.parametrize("address, why", [
    ("8.8.8.8", None),
    ("2606:4700:4700::1111", None),
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("10.0.0.1", "a private address"),
    ("172.31.255.255", "a private address"),
    ("192.168.1.1", "a private address"),
    ("fd12:3456::1", "a private address"),
    ("169.254.169.254", "a link-local address"),
    ("fe80::1", "a link-local address"),
    ("0.0.0.0", "an unspecified address"),
    ("::", "an unspecified address"),
    ("224.0.0.251", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("100.64.1.1", "not a public address"),
    ("192.0.2.1", "a private address"),
    ("240.0.0.1", "a private address"),
    ("::ffff:127.0.0.1", "a loopback address: it carries 127.0.0.1"),
    ("::ffff:8.8.8.8", None),
    ("64:ff9b::a00:1", "a private address: it carries 10.0.0.1"),
    ("2002:7f00:1::", "a loopback address: it carries 127.0.0.1"),
])
def test_only_public_addresses_pass_the_guard(address: str, why: str | None) -> None:
    assert outbound.classify(ipaddress.ip_address(address)) == why


def test_an_allowed_network_opens_exactly_itself() -> None:
    allowed = parse_networks("127.0.0.0/8, ::1/128")
    assert outbound.guard(["127.0.0.1", "::1"], allowed) == ["127.0.0.1", "::1"]
    with pytest.raises(outbound.AddressRefused, match="10.0.0.1 is a private address"):
        outbound.guard(["10.0.0.1"], allowed)
    with pytest.raises(ValueError, match="'10.0.0.300/8' is not a network"):
        parse_networks("10.0.0.300/8")


def test_a_name_is_refused_if_any_of_its_addresses_is_private() -> None:
    def resolve(host: str, port: int) -> list[str]:
        return {"hooks.example.org": ["93.184.215.14"],
                "split.example.org": ["93.184.215.14", "10.0.0.7"]}[host]

    target, addresses = outbound.check_destination("https://hooks.example.org/in?x=1", (),
                                                   resolve)
    assert (target.scheme, target.host, target.port, target.path) == (
        "https", "hooks.example.org", 443, "/in?x=1")
    assert addresses == ["93.184.215.14"]
    with pytest.raises(outbound.AddressRefused,
                       match="split.example.org resolves to 10.0.0.7, a private address"):
        outbound.check_destination("https://split.example.org/", (), resolve)


@pytest.mark.parametrize("url, message", [
    ("", "empty"),
    ("http://exa mple.org/", "spaces"),
    ("mailto:ops@example.org", "scheme"),
    ("//example.org/x", "scheme"),
    ("http:///path", "no host"),
    ("https://a:b@example.org/", "Credentials"),
    ("https://example.org:0x50/", "Not a valid URL"),
    ("https://example.org/#frag", "fragment"),
])
def test_urls_that_are_not_plain_http_are_refused(url: str, message: str) -> None:
    with pytest.raises(outbound.UrlInvalid, match=message):
        outbound.check_url(url)


def test_a_url_keeps_its_port_path_and_query_and_an_idn_host() -> None:
    target = outbound.check_url("http://bücher.example:8080/a/b?c=d")
    assert (target.host, target.port, target.path) == ("xn--bcher-kva.example", 8080,
                                                       "/a/b?c=d")
    assert target.host_header == "xn--bcher-kva.example:8080"
    assert outbound.check_url("https://[2001:db8::1]/").host_header == "[2001:db8::1]"


def test_the_schedule_is_standard_webhooks_and_then_it_is_spent() -> None:
    delays = [domain.judge(500, {}, step, SCHEDULE, 0.0, lambda: 0.5, NOW)
              for step in range(len(SCHEDULE))]
    assert [v.delay for v in delays[:-1]] == list(SCHEDULE[1:])
    assert {v.outcome for v in delays[:-1]} == {"retry"}
    assert delays[-1] == domain.Verdict("exhausted")


@pytest.mark.parametrize("status, outcome", [
    (200, "succeeded"), (204, "succeeded"), (299, "succeeded"), (410, "gone"),
    (301, "retry"), (400, "retry"), (404, "retry"), (500, "retry"), (None, "retry"),
])
def test_what_each_answer_means(status: int | None, outcome: str) -> None:
    assert domain.judge(status, {}, 0, SCHEDULE, 0.1, lambda: 0.5, NOW).outcome == outcome


def test_jitter_moves_a_delay_by_at_most_its_fraction() -> None:
    assert domain.jittered(300, 0.1, lambda: 0.0) == pytest.approx(270)
    assert domain.jittered(300, 0.1, lambda: 1.0) == pytest.approx(330)
    assert domain.jittered(0, 0.1, lambda: 1.0) == 0


@pytest.mark.parametrize("header, seconds", [
    ("120", 120.0),
    ("0", 0.0),
    ("Fri, 01 May 2026 12:01:30 GMT", 90.0),
    ("Fri, 01 May 2026 11:00:00 GMT", 0.0),  # in the past: at once
    ("999999999", domain.RETRY_AFTER_MAX),
    ("-5", None),
    ("soon", None),
    ("", None),
])
def test_retry_after_in_seconds_or_as_a_date(header: str, seconds: float | None) -> None:
    assert domain.retry_after(header, NOW) == seconds


def test_429_and_503_wait_as_asked_other_answers_by_the_schedule() -> None:
    asked = {"retry-after": "42"}
    assert domain.judge(429, asked, 0, SCHEDULE, 0.1, lambda: 0.0, NOW).delay == 42
    assert domain.judge(503, asked, 3, SCHEDULE, 0.1, lambda: 0.0, NOW).delay == 42
    assert domain.judge(500, asked, 0, SCHEDULE, 0.0, lambda: 0.0, NOW).delay == 5
    # Retry-After does not buy attempts beyond the schedule.
    assert domain.judge(429, asked, 9, SCHEDULE, 0.1, lambda: 0.0, NOW).outcome == "exhausted"


def test_an_empty_filter_means_every_entry_and_alert_but_no_operational_event() -> None:
    assert domain.wants_type(set(), "org.ladder.involvement.recorded")
    assert domain.wants_type(set(), domain.ALERT_TRIGGERED)
    assert not domain.wants_type(set(), domain.SUBSCRIPTION_DISABLED)
    assert domain.wants_type({domain.SUBSCRIPTION_DISABLED}, domain.SUBSCRIPTION_DISABLED)
    assert domain.wants_entry(set(), {"training"}, "org.ladder.activity.recorded", "training")
    assert not domain.wants_entry(set(), {"training"}, "org.ladder.activity.recorded",
                                  "inspection")


def test_a_read_grant_hears_of_batches_unless_its_filter_names_no_entry_type() -> None:
    assert domain.wants_entries(set())
    assert domain.wants_entries({"org.ladder.activity.cancelled", domain.ALERT_TRIGGERED})
    assert not domain.wants_entries({domain.ALERT_TRIGGERED, domain.SUBSCRIPTION_DISABLED})


def test_message_ids_sort_in_the_order_they_were_made() -> None:
    ids = [domain.new_message_id(1_800_000_000 + n / 1000) for n in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    assert all(i.startswith("msg_") and len(i) <= 40 for i in ids)


def test_webhook_settings_are_read_and_checked() -> None:
    config = load("ledger", {"LADDER_WEBHOOK_SCHEDULE": "0, 1, 2.5",
                             "LADDER_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8"})
    assert config["WEBHOOK_SCHEDULE"] == (0, 1, 2.5)
    assert config["WEBHOOK_ALLOWED_NETWORKS"] == (ipaddress.ip_network("127.0.0.0/8"),)
    defaults = load("ledger", {})
    assert defaults["WEBHOOK_SCHEDULE"] == SCHEDULE
    assert (defaults["WEBHOOK_TIMEOUT"], defaults["WEBHOOK_ALLOWED_NETWORKS"]) == (15.0, ())
    for key, value in (("LADDER_WEBHOOK_SCHEDULE", "soon"), ("LADDER_WEBHOOK_SCHEDULE", "-1"),
                       ("LADDER_WEBHOOK_ALLOWED_NETWORKS", "everything"),
                       ("LADDER_WEBHOOK_JITTER", "1.5"), ("LADDER_WEBHOOK_TIMEOUT", "0")):
        with pytest.raises(ConfigError, match=key):
            load("ledger", {key: value})


def test_sums_of_the_schedule_match_standard_webhooks() -> None:
    # Immediately, then about 5 s, 5 min, 35 min, 2.6 h, 7.6 h, 17.6 h, 31.6 h,
    # 51.6 h and 75.6 h after the first attempt.
    total = timedelta(seconds=sum(SCHEDULE))
    assert total == timedelta(hours=75, minutes=35, seconds=5)
