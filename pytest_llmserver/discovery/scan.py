"""Finding servers: cache, then localhost, then the local subnets; the order and the choice."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_llmserver.client import ServerRecord
from pytest_llmserver.discovery.cache import CACHE_FILE, load_cache, save_cache
from pytest_llmserver.discovery.fingerprint import ApiChoice, endpoint_url, identify, json_client
from pytest_llmserver.discovery.health import quick_validate_cache
from pytest_llmserver.discovery.netscan import (
    COMMON_PORTS,
    DEFAULT_MAX_HOSTS,
    ConnectProgress,
    InterfaceAddress,
    Network,
    ScanInputError,
    ScanScope,
    check_endpoints,
    check_ports,
    host_count,
    interface_addresses,
    local_scope,
    open_endpoints,
    parse_subnet,
)
from pytest_llmserver.discovery.progress import (
    AnyProgressCallback,
    ProgressReporter,
    ScanProgress,
    reporter,
)
from pytest_llmserver.discovery.reach import reachable

LOCALHOST = "127.0.0.1"
_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True)
class DiscoveryOptions:
    """How ``discover`` looks; every bound on count, time and concurrency is here (plus the
    fixed caps ``MAX_SCAN_PORTS`` and ``MAX_SCAN_ENDPOINTS``, checked before any connection)."""

    subnets: tuple[str, ...] = ()
    ports: tuple[int, ...] = COMMON_PORTS
    max_hosts: int = DEFAULT_MAX_HOSTS
    use_cache: bool = True
    cache_path: Path = CACHE_FILE
    loopback_only: bool = False
    api: ApiChoice = "auto"
    api_key: str | None = field(default=None, repr=False)
    connect_timeout_s: float = 0.5
    http_timeout_s: float = 3.0
    connect_concurrency: int = 256
    http_concurrency: int = 16
    deadline_s: float = 60.0
    every_phase: bool = False


@dataclass
class Discovery:
    """What a discovery run found, where, and what it looked at."""

    servers: list[ServerRecord]
    phase: str
    scanned: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0

    @property
    def chosen(self) -> ServerRecord | None:
        """The server a run uses: the first healthy one with models, in ``servers`` order."""
        return next((s for s in self.servers if s.status == "ok" and s.models), None)

    def summary(self) -> str:
        """One line on what was looked at, for messages."""
        where = "; ".join(self.scanned) or "nothing"
        return f"looked at {where} in {self.elapsed_s:.2f} s"


def server_order(server: ServerRecord) -> tuple[bool, bool, bool, int, int, int]:
    """Sort key: healthy with models first, loopback first, then by address and port."""
    try:
        address = ipaddress.ip_address(server.ip)
        loopback, version, number = address.is_loopback, int(address.version), int(address)
    except ValueError:
        loopback, version, number = False, 9, 0
    return (server.status != "ok", not server.models, not loopback, version, number, server.port)


async def scan_network(
    progress_callback: AnyProgressCallback | None = None,
    *,
    subnet: str | Sequence[str] | None = None,
    ports: Sequence[int] | None = None,
    max_hosts: int = DEFAULT_MAX_HOSTS,
    api_key: str | None = None,
    loopback_only: bool = False,
) -> list[ServerRecord]:
    """Scan ``subnet`` (CIDR, or several; default: the host's own subnets) on ``ports``
    (default ``COMMON_PORTS``); the LLM servers found, best first. The cache is not used.

    ``progress_callback`` takes a ``ScanProgress`` or, as the seed's did, ``(done, total)``;
    either may be async (see the ``progress`` module)."""
    subnets = (subnet,) if isinstance(subnet, str) else tuple(subnet or ())
    options = DiscoveryOptions(
        subnets=subnets,
        ports=tuple(ports or COMMON_PORTS),
        max_hosts=max_hosts,
        use_cache=False,
        api_key=api_key,
        loopback_only=loopback_only,
        every_phase=True,
    )
    return (await discover(options, progress_callback)).servers


async def discover(
    options: DiscoveryOptions,
    progress_callback: AnyProgressCallback | None = None,
    *,
    interfaces: Sequence[InterfaceAddress] | None = None,
) -> Discovery:
    """Find LLM servers: a live cache entry, else localhost's ports, else the subnets.

    With ``options.subnets`` only those subnets are scanned (and only cache entries inside
    them count); otherwise localhost and the host's own subnets. ``every_phase`` runs every
    phase instead of stopping at the first that finds a server. ``interfaces`` replaces the
    host's interface list (for tests). ``progress_callback`` is of either form that
    ``scan_network`` takes.

    ``options.deadline_s`` covers every phase: the cache check, the connect phase and the
    fingerprints (a port still unidentified when it runs out is rejected, with that reason).
    A cache entry is contacted only at its URL's host, resolved and found inside the scope
    (``reach``). Every answer is read within bounds: a hostile port is "not an LLM API", with
    a reason in ``Discovery.rejected``, never an exception.
    """
    started_ns = time.perf_counter_ns()
    end_ns = started_ns + int(options.deadline_s * 1e9)

    def remaining_s() -> float:
        return (end_ns - time.perf_counter_ns()) / 1e9

    report = reporter(progress_callback)
    scope, local_hosts, own = _plan(options, interfaces)
    phases: list[tuple[str, list[str], str]] = []
    if local_hosts:
        phases.append(("localhost", local_hosts, f"{LOCALHOST} ports {_ports(options.ports)}"))
    if scope.networks:
        described = ", ".join(str(n) for n in scope.networks)
        phases.append(("subnet", scope.hosts(), f"{described} ports {_ports(options.ports)}"))
    for _, hosts, _ in phases:
        check_endpoints(len(hosts), len(options.ports))  # before any connection is made
    result = Discovery(servers=[], phase="none", notes=list(scope.notes))
    stored = load_cache(options.cache_path) if options.use_cache else []
    cached = await _check_cache(stored, scope, local_hosts, options, result, report, remaining_s)
    for phase, hosts, description in phases:
        if result.chosen is not None and not options.every_phase:
            break
        if remaining_s() <= 0:
            result.notes.append(
                f"{phase} scan skipped: the {options.deadline_s:.0f} s limit ran out"
            )
            continue
        result.scanned.append(description)
        found = await _scan_hosts(phase, hosts, options, result, report, remaining_s)
        if phase == "subnet":
            found = _without_own_duplicates(found, result.servers, own)
        _add(result, found, phase)
    result.servers.sort(key=server_order)
    if options.use_cache:
        kept = [s for s in stored if s not in cached]
        _store(options.cache_path, kept, result.servers, result.notes)
    result.elapsed_s = (time.perf_counter_ns() - started_ns) / 1e9
    return result


async def _check_cache(
    stored: list[ServerRecord],
    scope: ScanScope,
    local_hosts: list[str],
    options: DiscoveryOptions,
    result: Discovery,
    report: ProgressReporter,
    remaining_s: Callable[[], float],
) -> list[ServerRecord]:
    """Health-check the cache entries in scope, at the addresses checked; the entries used."""
    used: list[ServerRecord] = []
    contact: list[ServerRecord] = []
    for record in stored:
        target = await reachable(record, scope, local_hosts, max(0.0, remaining_s()))
        if isinstance(target, ServerRecord):
            used.append(record)
            contact.append(target)
        elif "outside the scan scope" not in target:
            result.notes.append(target)
    if not contact:
        return used
    result.scanned.append(f"{len(contact)} cached server(s)")
    try:
        live = await asyncio.wait_for(
            quick_validate_cache(
                contact, report, api_key=options.api_key, timeout_s=options.http_timeout_s
            ),
            max(0.0, remaining_s()),
        )
    except asyncio.TimeoutError:
        live = []
        result.notes.append(f"cache check stopped: the {options.deadline_s:g} s limit ran out")
    dropped = {s.url for s in contact} - {s.url for s in live}
    result.notes += [f"cached {url} did not answer; dropped" for url in sorted(dropped)]
    _add(result, live, "cache")
    return used


def _plan(
    options: DiscoveryOptions, interfaces: Sequence[InterfaceAddress] | None
) -> tuple[ScanScope, list[str], set[str]]:
    """The subnets to scan, the localhost hosts to probe, and the host's own addresses."""
    check_ports(options.ports)
    if options.subnets:
        networks = tuple(parse_subnet(s, options.max_hosts) for s in options.subnets)
        total = sum(host_count(n) for n in networks)
        if total > options.max_hosts:
            raise ScanInputError(
                f"--llm-scan-subnet: the subnets hold {total} hosts together, more than the "
                f"cap of {options.max_hosts}; narrow them or raise --llm-scan-max-hosts"
            )
        if options.loopback_only:
            outside = [str(n) for n in networks if not _is_loopback(n)]
            if outside:
                raise ScanInputError(
                    f"--llm-scan-subnet: {', '.join(outside)} is not loopback, and "
                    "loopback-only scanning is on (LLM_SCAN_LOOPBACK_ONLY)"
                )
        return ScanScope(networks), [], set()
    addresses = interface_addresses() if interfaces is None else list(interfaces)
    own = {a.address for a in addresses}
    scope = local_scope(addresses, options.max_hosts)
    if options.loopback_only and scope.networks:
        note = "loopback-only scanning is on (LLM_SCAN_LOOPBACK_ONLY): local subnets not scanned"
        scope = ScanScope((), (*scope.notes, note))
    return scope, [LOCALHOST], own


def _is_loopback(network: Network) -> bool:
    return any(
        network.version == loop.version and network.subnet_of(loop)  # type: ignore[arg-type]
        for loop in _LOOPBACK
    )


def _ports(ports: Sequence[int]) -> str:
    return ",".join(str(p) for p in ports)


async def _scan_hosts(
    phase: str,
    hosts: list[str],
    options: DiscoveryOptions,
    result: Discovery,
    report: ProgressReporter,
    remaining_s: Callable[[], float],
) -> list[ServerRecord]:
    """Connect phase, then fingerprint phase, each with its own concurrency bound, both within
    the time that is left."""

    async def connect_progress(p: ConnectProgress) -> None:
        await report(ScanProgress(phase, "connect", p.done, p.total, p.open))

    endpoints = await open_endpoints(
        hosts,
        options.ports,
        concurrency=options.connect_concurrency,
        timeout_s=options.connect_timeout_s,
        deadline_s=remaining_s() - options.connect_timeout_s,
        progress=connect_progress,
    )
    semaphore = asyncio.Semaphore(options.http_concurrency)
    found: list[ServerRecord] = []
    done = 0

    async def one(ip: str, port: int) -> None:
        nonlocal done
        async with semaphore:
            outcome = await identify(ip, port, http, api=options.api)
        if isinstance(outcome, ServerRecord):
            found.append(outcome)
        else:
            result.rejected[endpoint_url(ip, port)] = outcome
        done += 1
        await report(
            ScanProgress(phase, "fingerprint", done, len(endpoints), len(endpoints), len(found))
        )

    async with json_client(options.api_key, options.http_timeout_s) as http:
        tasks = {asyncio.create_task(one(ip, port)): (ip, port) for ip, port in endpoints}
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=max(0.0, remaining_s()))
            for task in late:
                task.cancel()
                result.rejected[endpoint_url(*tasks[task])] = (
                    f"not identified within the {options.deadline_s:g} s discovery limit"
                )
            await asyncio.gather(*tasks, return_exceptions=True)
    return found


def _without_own_duplicates(
    found: list[ServerRecord], known: list[ServerRecord], own: set[str]
) -> list[ServerRecord]:
    """Drop a server seen on one of the host's own addresses when localhost showed it too."""
    local_ports = {s.port for s in known if s.ip == LOCALHOST}
    return [s for s in found if not (s.ip in own and s.port in local_ports)]


def _add(result: Discovery, servers: list[ServerRecord], phase: str) -> None:
    known = {s.url for s in result.servers}
    fresh = [s for s in servers if s.url not in known]
    result.servers.extend(fresh)
    if result.phase == "none" and any(s.status == "ok" and s.models for s in fresh):
        result.phase = phase


def _store(
    path: Path, kept: list[ServerRecord], found: list[ServerRecord], notes: list[str]
) -> None:
    """Write what was found, plus the cache entries this run did not look at."""
    found_urls = {s.url for s in found}
    entries = [
        *(s for s in kept if s.url not in found_urls),
        *(s for s in found if s.status == "ok"),
    ]
    try:
        save_cache(entries, path)
    except OSError as exc:
        notes.append(f"discovery cache not written ({exc}); the next run scans again")
