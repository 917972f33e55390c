"""Where discovery looks: subnets, ports, the host's own scope, loopback-only (nothing scanned
beyond 127.0.0.0/8; host subnets come from made-up documentation addresses, RFC 5737)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pytest_llmserver.discovery import (
    DiscoveryOptions,
    ScanInputError,
    discover,
    local_scope,
    parse_ports,
    parse_subnet,
)
from pytest_llmserver.discovery.netscan import hosts_of
from tests.discovery.servers import (
    iface,
)

# --- subnets and ports --------------------------------------------------------------------


def test_subnet_hosts_leave_out_network_and_broadcast() -> None:
    assert list(hosts_of(parse_subnet("127.0.0.0/30"))) == ["127.0.0.1", "127.0.0.2"]
    assert list(hosts_of(parse_subnet("127.0.0.4/31"))) == ["127.0.0.4", "127.0.0.5"]
    assert list(hosts_of(parse_subnet("127.0.0.7"))) == ["127.0.0.7"]
    assert len(list(hosts_of(parse_subnet("127.0.0.0/28")))) == 14


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("127.0.0/8", "'127.0.0/8' is not a CIDR subnet"),
        ("127.0.0.0/33", "is not a CIDR subnet"),
        ("example.com/24", "is not a CIDR subnet"),
        ("127.0.0.0/21", "127.0.0.0/21 holds 2046 hosts, more than the cap of 1024"),
    ],
)
def test_bad_subnets_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ScanInputError, match=message) as caught:
        parse_subnet(text)
    assert "\n" not in str(caught.value)


def test_the_cap_can_be_raised() -> None:
    assert parse_subnet("127.0.0.0/21", max_hosts=4096).num_addresses == 2048


def test_ports_parse_ranges_in_order_without_repeats() -> None:
    assert parse_ports("8080, 8000-8002,8080") == (8080, 8000, 8001, 8002)
    for bad in ("", "0", "65536", "80-", "a", "10-5"):
        with pytest.raises(ScanInputError, match="--llm-scan-ports"):
            parse_ports(bad)


def test_local_scope_follows_the_real_prefix_not_a_fixed_24() -> None:
    scope = local_scope([iface("192.0.2.20", "255.255.254.0"), iface("127.0.0.1", "255.0.0.0")])
    assert [str(n) for n in scope.networks] == ["192.0.2.0/23"]
    assert len(scope.hosts()) == 510
    assert "192.0.2.0" not in scope.hosts()
    assert "192.0.3.255" not in scope.hosts()


def test_local_scope_narrows_a_huge_subnet_to_the_cap_around_the_host() -> None:
    scope = local_scope([iface("198.51.100.77", "255.255.0.0")], max_hosts=1024)
    assert [str(n) for n in scope.networks] == ["198.51.100.0/22"]
    assert "scanning 198.51.100.0/22 around this host" in scope.notes[0]


def test_local_scope_skips_link_local_down_and_loopback_interfaces() -> None:
    scope = local_scope(
        [
            iface("169.254.3.4", "255.255.0.0", "zeroconf"),
            iface("203.0.113.2", "255.255.255.0", "wlan0", up=False),
            iface("127.0.0.1", "255.0.0.0", "lo"),
        ]
    )
    assert scope.networks == ()
    assert any("link-local" in n for n in scope.notes)
    assert any("interface down" in n for n in scope.notes)
    assert any("no interface with a scannable subnet" in n for n in scope.notes)


def test_loopback_only_refuses_any_other_subnet() -> None:
    options = DiscoveryOptions(subnets=("192.0.2.0/29",), loopback_only=True, use_cache=False)
    with pytest.raises(ScanInputError, match=r"192\.0\.2\.0/29 is not loopback"):
        asyncio.run(discover(options))


@pytest.mark.asyncio
async def test_loopback_only_drops_the_derived_subnets(tmp_path: Path) -> None:
    options = DiscoveryOptions(ports=(9,), loopback_only=True, use_cache=False)
    result = await discover(options, interfaces=[iface("192.0.2.7", "255.255.255.0")])
    assert result.scanned == ["127.0.0.1 ports 9"]
    assert any("local subnets not scanned" in note for note in result.notes)
