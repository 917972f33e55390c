"""Where to look and what answers: subnets, host lists and the TCP connect phase."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# 11434 Ollama, 1234 LM Studio, 8000 vLLM, 8080 llama.cpp, 5000 generic, 30000 SGLang,
# 4000 LiteLLM, 3000 TGI.
COMMON_PORTS: tuple[int, ...] = (11434, 1234, 8000, 8080, 5000, 30000, 4000, 3000)
DEFAULT_MAX_HOSTS = 1024
MAX_SCAN_PORTS = 1024
"""Ports one scan may probe on each host."""
MAX_SCAN_ENDPOINTS = 65_536
"""Host:port pairs one scan phase may probe."""


class ScanInputError(ValueError):
    """A subnet or port list that cannot be scanned; the message is one line."""


@dataclass(frozen=True)
class InterfaceAddress:
    """One IPv4 address of a network interface, as the host reports it."""

    interface: str
    address: str
    netmask: str
    is_up: bool = True


@dataclass(frozen=True)
class ScanScope:
    """The subnets a scan may touch, and why each was chosen."""

    networks: tuple[Network, ...]
    notes: tuple[str, ...] = ()

    def hosts(self) -> list[str]:
        """Every host address to probe, in order, each once."""
        seen: dict[str, None] = {}
        for network in self.networks:
            for host in hosts_of(network):
                seen.setdefault(host)
        return list(seen)

    def contains(self, host: str) -> bool:
        """Whether ``host`` lies inside the scope."""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


def parse_subnet(text: str, max_hosts: int = DEFAULT_MAX_HOSTS) -> Network:
    """``10.0.0.0/24`` or a single address; a one-line ``ScanInputError`` when it is bad or
    holds more than ``max_hosts`` hosts."""
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ScanInputError(
            f"--llm-scan-subnet: {text!r} is not a CIDR subnet (e.g. 192.168.1.0/24)"
        ) from None
    count = host_count(network)
    if count > max_hosts:
        raise ScanInputError(
            f"--llm-scan-subnet: {network} holds {count} hosts, more than the cap of "
            f"{max_hosts}; narrow it or raise --llm-scan-max-hosts"
        )
    return network


def parse_ports(text: str) -> tuple[int, ...]:
    """``8000,8080,9000-9003`` as ports in the given order, each once (1..65535)."""
    ports: dict[int, None] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        low, sep, high = part.partition("-")
        try:
            first, last = int(low), int(high if sep else low)
        except ValueError:
            raise ScanInputError(
                f"--llm-scan-ports: {part!r} is not a port or range (e.g. 8000,8080,9000-9010)"
            ) from None
        if not 1 <= first <= last <= 65535:
            raise ScanInputError(
                f"--llm-scan-ports: {part!r} is out of range (ports are 1..65535, low-high)"
            )
        for port in range(first, last + 1):
            ports.setdefault(port)
            if len(ports) > MAX_SCAN_PORTS:
                raise ScanInputError(
                    f"--llm-scan-ports: more than the cap of {MAX_SCAN_PORTS} ports; scan fewer"
                )
    if not ports:
        raise ScanInputError("--llm-scan-ports: no port given (e.g. 11434,8000)")
    return tuple(ports)


def check_ports(ports: Sequence[int]) -> None:
    """A one-line ``ScanInputError`` when there are more than ``MAX_SCAN_PORTS`` ports."""
    if len(ports) > MAX_SCAN_PORTS:
        raise ScanInputError(
            f"--llm-scan-ports: {len(ports)} ports, more than the cap of {MAX_SCAN_PORTS}; "
            "scan fewer"
        )


def check_endpoints(hosts: int, ports: int) -> None:
    """A one-line ``ScanInputError`` when ``hosts`` x ``ports`` exceeds ``MAX_SCAN_ENDPOINTS``."""
    if hosts * ports > MAX_SCAN_ENDPOINTS:
        raise ScanInputError(
            f"--llm-scan-subnet/--llm-scan-ports: {hosts} hosts x {ports} ports is "
            f"{hosts * ports} endpoints, more than the cap of {MAX_SCAN_ENDPOINTS}; narrow "
            "the subnets or the ports"
        )


def host_count(network: Network) -> int:
    """Usable hosts: all addresses but network and broadcast, except on /31 and /32."""
    size = network.num_addresses
    return size if size <= 2 else size - 2


def hosts_of(network: Network) -> Iterable[str]:
    """Host addresses of ``network`` (no network or broadcast address)."""
    if network.num_addresses <= 2:
        return (str(a) for a in network)
    return (str(a) for a in network.hosts())


def interface_addresses() -> list[InterfaceAddress]:
    """The host's IPv4 interface addresses with their netmasks (via psutil)."""
    import psutil

    stats = psutil.net_if_stats()
    found: list[InterfaceAddress] = []
    for name, addresses in psutil.net_if_addrs().items():
        up = stats[name].isup if name in stats else False
        for entry in addresses:
            if entry.family == socket.AF_INET and entry.netmask:
                found.append(InterfaceAddress(name, entry.address, entry.netmask, up))
    return found


def local_scope(
    addresses: Sequence[InterfaceAddress], max_hosts: int = DEFAULT_MAX_HOSTS
) -> ScanScope:
    """The subnets of the host's own interfaces, each capped at ``max_hosts`` around the
    host's address; loopback, link-local and down interfaces are left out with a note."""
    networks: list[Network] = []
    notes: list[str] = []
    for entry in addresses:
        where = f"{entry.address} on {entry.interface}"
        address = ipaddress.IPv4Address(entry.address)
        if not entry.is_up:
            notes.append(f"{where}: interface down, skipped")
            continue
        if address.is_loopback:
            continue  # localhost is probed in its own phase
        if address.is_link_local:
            notes.append(f"{where}: link-local, skipped (pass --llm-scan-subnet to scan it)")
            continue
        network = ipaddress.IPv4Network(f"{entry.address}/{entry.netmask}", strict=False)
        if host_count(network) > max_hosts:
            narrowed = _block_around(address, max_hosts)
            notes.append(
                f"{where}: {network} holds {host_count(network)} hosts; scanning {narrowed} "
                "around this host (raise --llm-scan-max-hosts to scan more)"
            )
            network = narrowed
        if network not in networks:
            networks.append(network)
    if not networks:
        notes.append("no interface with a scannable subnet (only loopback or link-local)")
    return ScanScope(tuple(networks), tuple(notes))


def _block_around(address: ipaddress.IPv4Address, max_hosts: int) -> ipaddress.IPv4Network:
    """The largest aligned block holding ``address`` with at most ``max_hosts`` hosts."""
    prefix = 32 - max(0, math.floor(math.log2(max_hosts + 2)))
    return ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)


@dataclass(frozen=True)
class ConnectProgress:
    """Progress of the connect phase."""

    done: int
    total: int
    open: int


async def open_endpoints(
    hosts: Sequence[str],
    ports: Sequence[int],
    *,
    concurrency: int = 256,
    timeout_s: float = 0.5,
    deadline_s: float = 60.0,
    progress: Callable[[ConnectProgress], Awaitable[None]] | None = None,
) -> list[tuple[str, int]]:
    """TCP-connect to every host:port with at most ``concurrency`` attempts at once; the pairs
    that accepted, in input order. Stops starting attempts after ``deadline_s``."""
    pairs = [(host, port) for host in hosts for port in ports]
    accepted = [False] * len(pairs)
    started_ns = time.perf_counter_ns()
    done = 0
    open_count = 0
    next_index = 0

    async def worker() -> None:
        nonlocal done, open_count, next_index
        while next_index < len(pairs):
            if (time.perf_counter_ns() - started_ns) / 1e9 > deadline_s:
                return
            index = next_index
            next_index += 1
            accepted[index] = await _connects(*pairs[index], timeout_s)
            done += 1
            open_count += accepted[index]
            if progress is not None:
                await progress(ConnectProgress(done, len(pairs), open_count))

    workers = min(concurrency, len(pairs))
    await asyncio.gather(*(worker() for _ in range(workers)))
    return [pair for pair, ok in zip(pairs, accepted, strict=True) if ok]


async def _connects(host: str, port: int, timeout_s: float) -> bool:
    try:
        _reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout=timeout_s
        )
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True
