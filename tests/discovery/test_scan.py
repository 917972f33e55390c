"""Discovery on loopback only: subnets, the connect and fingerprint phases, cache, choice.

Every scan here stays inside 127.0.0.0/8 (sims bind 127.0.0.3, 127.0.0.9, ...); the
host's own subnets are only ever computed from made-up interface lists (documentation
addresses, RFC 5737), never scanned.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_llmserver._util import ProgressLine
from pytest_llmserver.client import ServerRecord
from pytest_llmserver.discovery import (
    CacheWarning,
    Discovery,
    DiscoveryOptions,
    InterfaceAddress,
    ScanInputError,
    ScanProgress,
    check_server_health,
    discover,
    load_cache,
    local_scope,
    parse_ports,
    parse_subnet,
    save_cache,
    scan_network,
)
from pytest_llmserver.discovery.netscan import hosts_of
from pytest_llmserver.report.discovery import scan_progress_text
from pytest_llmserver.servers.bench_sim import bench_sim_config
from pytest_llmserver.sim import SimConfig, SimServer
from pytest_llmserver.sim.persona import Persona

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


def _iface(address: str, netmask: str, name: str = "eth0", up: bool = True) -> InterfaceAddress:
    return InterfaceAddress(name, address, netmask, up)


def test_local_scope_follows_the_real_prefix_not_a_fixed_24() -> None:
    scope = local_scope([_iface("192.0.2.20", "255.255.254.0"), _iface("127.0.0.1", "255.0.0.0")])
    assert [str(n) for n in scope.networks] == ["192.0.2.0/23"]
    assert len(scope.hosts()) == 510
    assert "192.0.2.0" not in scope.hosts()
    assert "192.0.3.255" not in scope.hosts()


def test_local_scope_narrows_a_huge_subnet_to_the_cap_around_the_host() -> None:
    scope = local_scope([_iface("198.51.100.77", "255.255.0.0")], max_hosts=1024)
    assert [str(n) for n in scope.networks] == ["198.51.100.0/22"]
    assert "scanning 198.51.100.0/22 around this host" in scope.notes[0]


def test_local_scope_skips_link_local_down_and_loopback_interfaces() -> None:
    scope = local_scope(
        [
            _iface("169.254.3.4", "255.255.0.0", "zeroconf"),
            _iface("203.0.113.2", "255.255.255.0", "wlan0", up=False),
            _iface("127.0.0.1", "255.0.0.0", "lo"),
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
    result = await discover(options, interfaces=[_iface("192.0.2.7", "255.255.255.0")])
    assert result.scanned == ["127.0.0.1 ports 9"]
    assert any("local subnets not scanned" in note for note in result.notes)


# --- servers to find ---------------------------------------------------------------------


def _sim(host: str, persona: Persona = "sim", **changes: object) -> SimServer:
    return SimServer(SimConfig(host=host, persona=persona, **changes))  # type: ignore[arg-type]


Reply = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _html(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    body = b"<html><body>router admin</body></html>"
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
        % (len(body), body)
    )
    await writer.drain()


async def _odd_json(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for _ in range(20):
        await reader.readuntil(b"\r\n\r\n")
        body = json.dumps({"data": "not a list", "version": 3}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (len(body), body)
        )
        await writer.drain()


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    return None


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


@asynccontextmanager
async def _junk(host: str, reply: Reply) -> AsyncIterator[int]:
    """A TCP server on ``host`` that is no LLM API; yields its port."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reply(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


def _options(tmp_path: Path, ports: tuple[int, ...], **changes: object) -> DiscoveryOptions:
    options = DiscoveryOptions(
        subnets=("127.0.0.0/28",),
        ports=ports,
        cache_path=tmp_path / "servers.json",
        loopback_only=True,
        http_timeout_s=0.5,
    )
    return replace(options, **changes)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_scan_finds_and_classifies_sims_and_ignores_junk(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        ollama = await stack.enter_async_context(_sim("127.0.0.3", "ollama"))
        vllm = await stack.enter_async_context(_sim("127.0.0.9", "vllm", models=("m-large",)))
        junk_ports = [
            await stack.enter_async_context(_junk(host, reply))
            for host, reply in (
                ("127.0.0.3", _html),
                ("127.0.0.4", _odd_json),
                ("127.0.0.5", _hang_up),
                ("127.0.0.6", _silent),
            )
        ]
        ports = (ollama.port, vllm.port, *junk_ports)
        seen: list[ScanProgress] = []
        started = time.perf_counter()
        result = await discover(_options(tmp_path, ports), seen.append)
        elapsed = time.perf_counter() - started
    assert [(s.url, s.type, s.kind) for s in result.servers] == [
        (ollama.url, "ollama", "ollama"),
        (vllm.url, "openai", "vllm"),
    ]
    assert result.phase == "subnet"
    assert result.chosen is result.servers[0]
    assert result.servers[0].models == ["sim-small", "sim-reasoner"]
    info = result.servers[0].info("sim-small")
    assert info is not None
    assert info.digest
    assert info.size_bytes
    assert result.servers[1].info("m-large") == replace(
        result.servers[1].model_info[0], name="m-large", context_length=8192
    )
    rejected = result.rejected
    assert "text/html, not JSON" in rejected[f"http://127.0.0.3:{junk_ports[0]}"]
    assert "unexpected shape" in rejected[f"http://127.0.0.4:{junk_ports[1]}"]
    assert f"http://127.0.0.5:{junk_ports[2]}" in rejected
    assert f"http://127.0.0.6:{junk_ports[3]}" in rejected
    assert elapsed < 5  # the silent port costs its timeouts, not the test's patience
    stages = {(p.phase, p.stage) for p in seen}
    assert stages == {("subnet", "connect"), ("subnet", "fingerprint")}
    connect = [p for p in seen if p.stage == "connect"]
    assert connect[-1].done == connect[-1].total == 14 * len(ports)


@pytest.mark.parametrize(
    ("persona", "kind"),
    [
        ("llamacpp", "llamacpp"),
        ("lmstudio", "lmstudio"),
        ("sglang", "sglang"),
        ("openai", "openai"),
        ("sim", "ollama"),
    ],
)
@pytest.mark.asyncio
async def test_each_product_is_told_apart(persona: Persona, kind: str) -> None:
    async with _sim("127.0.0.2", persona) as sim:
        found = await scan_network(subnet="127.0.0.2/32", ports=[sim.port], loopback_only=True)
    assert [(s.kind, s.models) for s in found] == [(kind, ["sim-small", "sim-reasoner"])]
    if persona == "llamacpp":
        info = found[0].model_info[0]
        assert (info.context_length, info.size_bytes, info.quantization) == (8192, 96e6, "Q4_0")
    if persona == "lmstudio":
        assert found[0].model_info[0].quantization == "Q4_0"


@pytest.mark.asyncio
async def test_a_server_that_wants_a_key_is_listed_but_not_chosen(tmp_path: Path) -> None:
    async def unauthorized(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(10):
            await reader.readuntil(b"\r\n\r\n")
            body = b'{"error": {"message": "invalid api key"}}'
            writer.write(
                b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            await writer.drain()

    async with _junk("127.0.0.7", unauthorized) as port:
        result = await discover(_options(tmp_path, (port,)))
    assert [(s.url, s.status) for s in result.servers] == [
        (f"http://127.0.0.7:{port}", "auth_required")
    ]
    assert result.chosen is None
    assert result.phase == "none"


# --- cache ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_cache_is_written_then_used_and_refreshed(tmp_path: Path) -> None:
    async with _sim("127.0.0.3", "ollama") as first:
        port = first.port
        scanned = await discover(_options(tmp_path, (port,)))
    assert scanned.phase == "subnet"
    cached = load_cache(tmp_path / "servers.json")
    assert [s.url for s in cached] == [first.url]
    assert await asyncio.to_thread(os.listdir, tmp_path) == ["servers.json"]  # no temp file

    # The same address now serves other models: the health check refreshes the list.
    async with _sim("127.0.0.3", "ollama", port=port, models=("new-model",)):
        again = await discover(_options(tmp_path, (port,)))
    assert again.phase == "cache"
    assert again.scanned == ["1 cached server(s)"]  # no scan was needed
    assert again.chosen is not None
    assert again.chosen.models == ["new-model"]
    assert load_cache(tmp_path / "servers.json")[0].models == ["new-model"]


@pytest.mark.asyncio
async def test_a_dead_cached_server_is_dropped_and_the_scan_runs(tmp_path: Path) -> None:
    async with _sim("127.0.0.3", "ollama") as gone:
        await discover(_options(tmp_path, (gone.port,)))
    async with _sim("127.0.0.9", "vllm") as alive:
        result = await discover(_options(tmp_path, (gone.port, alive.port)))
    assert f"cached {gone.url} did not answer; dropped" in result.notes
    assert [s.url for s in result.servers] == [alive.url]
    assert result.phase == "subnet"
    assert [s.url for s in load_cache(tmp_path / "servers.json")] == [alive.url]


@pytest.mark.asyncio
async def test_cache_entries_outside_the_scope_are_not_used(tmp_path: Path) -> None:
    async with _sim("127.0.0.3", "ollama") as sim:
        await discover(_options(tmp_path, (sim.port,)))
        elsewhere = await discover(_options(tmp_path, (sim.port,), subnets=("127.0.1.0/30",)))
    assert elsewhere.servers == []
    assert elsewhere.scanned == [f"127.0.1.0/30 ports {sim.port}"]
    assert [s.url for s in load_cache(tmp_path / "servers.json")] == [sim.url]  # kept


@pytest.mark.parametrize(
    ("content", "warning"),
    [
        ("{not json", "is not JSON"),
        ('{"servers": []}', "is not a pytest-llmserver server cache"),
        ('{"format": "pytest-llmserver/servers", "version": 99, "servers": []}', "version 99"),
        ('{"format": "pytest-llmserver/servers", "version": 1, "servers": 3}', "no server list"),
    ],
)
def test_a_corrupt_or_foreign_cache_is_ignored_with_a_warning(
    tmp_path: Path, content: str, warning: str
) -> None:
    path = tmp_path / "servers.json"
    path.write_text(content)
    with pytest.warns(CacheWarning, match=warning):
        assert load_cache(path) == []


def test_expired_and_broken_entries_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "servers.json"
    save_cache([ServerRecord(url="http://127.0.0.3:1", models=["a"], status="ok")], path)
    document = json.loads(path.read_text())
    fresh = document["servers"][0]
    stale = dict(fresh, url="http://127.0.0.4:1", checked_at=time.time() - 2 * 86400)
    document["servers"] += [stale, {"checked_at": time.time()}, "junk"]
    path.write_text(json.dumps(document))
    assert [s.url for s in load_cache(path)] == ["http://127.0.0.3:1"]
    assert load_cache(path, max_age_s=0.0) == []


@pytest.mark.asyncio
async def test_health_check_refreshes_or_reports_gone() -> None:
    async with _sim("127.0.0.3", "ollama") as sim:
        old = ServerRecord(url=sim.url, type="ollama", models=["stale"])
        fresh = await check_server_health(old, timeout_s=1.0)
        assert fresh is not None
        assert fresh.models == ["sim-small", "sim-reasoner"]
        as_openai = await check_server_health(replace(old, type="openai"), timeout_s=1.0)
        assert as_openai is not None  # a cached API type is kept: Ollama's /v1 is asked
        assert (as_openai.type, as_openai.kind) == ("openai", "ollama")
    assert await check_server_health(old, timeout_s=1.0) is None
    async with _sim("127.0.0.3", "vllm", port=sim.port):
        assert await check_server_health(old, timeout_s=1.0) is None  # no longer Ollama


def test_progress_line_rewrites_one_line() -> None:
    out = io.StringIO()
    line = ProgressLine(out, min_interval_s=0.0)
    line.show(scan_progress_text(ScanProgress("subnet", "connect", 10, 112, open=2)))
    line.show(scan_progress_text(ScanProgress("subnet", "fingerprint", 2, 2, open=2, found=1)))
    line.close(clear=True)
    assert out.getvalue().split("\r")[1:] == [
        "llm discovery: subnet connect 10/112, 2 open",
        "llm discovery: subnet fingerprint 2/2, 1 LLM server(s)",
        " " * 54,
        "",
    ]


# --- the choice ----------------------------------------------------------------------------


def test_choice_is_deterministic_healthy_with_models_then_address() -> None:
    records = [
        ServerRecord(url="http://127.0.0.9:80", models=["m"], status="ok"),
        ServerRecord(url="http://127.0.0.2:80", models=[], status="ok"),
        ServerRecord(url="http://127.0.0.3:81", models=["m"], status="ok"),
        ServerRecord(url="http://127.0.0.3:80", models=["m"], status="auth_required"),
        ServerRecord(url="http://127.0.0.3:80", models=["m"], status="ok"),
    ]
    from pytest_llmserver.discovery.scan import server_order

    ordered = sorted(records, key=server_order)
    assert [r.url for r in ordered][:3] == [
        "http://127.0.0.3:80",
        "http://127.0.0.3:81",
        "http://127.0.0.9:80",
    ]
    assert Discovery(servers=ordered, phase="subnet").chosen is ordered[0]


# --- through pytest ------------------------------------------------------------------------


@pytest.fixture
def bench_sims() -> Iterator[tuple[str, int, str, int]]:
    """An Ollama-like bench sim on 127.0.0.3 and a vLLM-like one on 127.0.0.9, in threads."""
    from pytest_llmserver.sim import SimThread

    base = bench_sim_config()
    with (
        SimThread(replace(base, host="127.0.0.3", persona="ollama")) as ollama,
        SimThread(replace(base, host="127.0.0.9", persona="vllm")) as vllm,
    ):
        yield ollama.url, ollama.port, vllm.url, vllm.port


def test_auto_runs_the_quick_tier_on_the_discovered_ollama_sim(
    llm_pytester: pytest.Pytester, bench_sims: tuple[str, int, str, int], tmp_path: Path
) -> None:
    ollama_url, ollama_port, vllm_url, vllm_port = bench_sims
    args = (
        "--llm-server=auto",
        "--llm-scan-subnet=127.0.0.0/28",
        f"--llm-scan-ports={ollama_port},{vllm_port}",
        f"--llm-cache-dir={tmp_path}",
        "--llm-model=oracle",
        "-m",
        "toolbench and quick",
        "-p",
        "no:cacheprovider",
    )
    result = llm_pytester.runpytest(*args)
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(
        [
            f"llm-server: auto -> {ollama_url} (ollama *, 10 models, *), found by the subnet scan*",
            "  2 servers found; chose the first healthy one with models*",
            f"    {vllm_url} (vllm, 10 models, *)",
        ]
    )
    again = llm_pytester.runpytest(*args)
    again.assert_outcomes(passed=7)
    again.stdout.fnmatch_lines([f"llm-server: auto -> {ollama_url} *, found from the cache*"])


def test_llm_list_prints_servers_and_exits(
    llm_pytester: pytest.Pytester, bench_sims: tuple[str, int, str, int], tmp_path: Path
) -> None:
    ollama_url, ollama_port, vllm_url, vllm_port = bench_sims
    result = llm_pytester.runpytest(
        "--llm-list",
        "--llm-scan-subnet=127.0.0.0/28",
        f"--llm-scan-ports={ollama_port},{vllm_port}",
        "--llm-no-cache",
        f"--llm-cache-dir={tmp_path}",
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "2 LLM server(s); looked at 127.0.0.0/28 ports * in * s",
            "server * type * kind * latency  models",
            f"{ollama_url} * ollama * ollama * ms  sim-small [[]0.1 GB, *[]], *",
            f"{vllm_url} * openai * vllm * ms  sim-small [[]ctx 8192[]], *",
        ]
    )
    assert "collected" not in result.stdout.str()
    assert not list(tmp_path.iterdir())  # --llm-no-cache wrote nothing


def test_auto_with_nothing_found_fails_the_tests_with_what_was_scanned(
    llm_pytester: pytest.Pytester,
) -> None:
    llm_pytester.makepyfile(test_x="def test_x(llm_model):\n    pass\n")
    result = llm_pytester.runpytest(
        "--llm-server=auto", "--llm-scan-subnet=127.0.3.0/30", "--llm-scan-ports=9", "test_x.py"
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "llm-server: auto found no LLM server (looked at 127.0.3.0/30 ports 9 in * s)",
            "*--llm-server=auto found no LLM server: looked at 127.0.3.0/30 ports 9*",
        ]
    )


MODEL_TEST = """
def test_model(llm_model, llm_client):
    assert llm_client.model == llm_model
"""


def test_model_all_parametrizes_over_every_model_with_ids(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.makepyfile(test_models=MODEL_TEST)
    result = llm_pytester.runpytest("--llm-server=sim", "--llm-model=all", "-v", "test_models.py")
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines_random(
        [f"test_models.py::test_model[[]{m}[]] PASSED*" for m in bench_sim_config().models]
    )


def test_model_all_on_a_pinned_url(llm_pytester: pytest.Pytester) -> None:
    llm_pytester.makepyfile(test_models=MODEL_TEST)
    from pytest_llmserver.sim import SimThread

    with SimThread(SimConfig(host="127.0.0.3", models=("a", "b:7b"))) as sim:
        result = llm_pytester.runpytest(
            f"--llm-server={sim.url}", "--llm-model=all", "-v", "test_models.py"
        )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines_random(
        ["*test_model[[]a[]] PASSED*", "*test_model[[]b:7b[]] PASSED*"]
    )
