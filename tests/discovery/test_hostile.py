"""Discovery against the hostile server (loopback only): hostile ports are "not an LLM API"
with a reason and never an exception, a healthy server next to them is still found, the time
limit holds, out-of-scope cache entries are never contacted, and the scan's size is capped
before any connection is made."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from pytest_llmserver.client import LLMTimeoutError, ModelInfo, ServerRecord
from pytest_llmserver.discovery import (
    DiscoveryOptions,
    ScanInputError,
    context_length,
    discover,
    load_cache,
    parse_ports,
    probe_url,
    save_cache,
)
from pytest_llmserver.discovery import reach as reach_module
from pytest_llmserver.discovery.netscan import ScanScope, parse_subnet
from pytest_llmserver.discovery.reach import reachable
from tests.discovery.servers import scan_options
from tests.hostile.replies import MODELS
from tests.hostile.server import HostileServer

HOSTILE = {
    "deep_nesting": "nested deeper than 64 levels",
    "very_deep_nesting": "nested deeper than 64 levels",
    "choices_not_array": "unexpected shape",
    "huge_line": "larger than 4194304 bytes",
    "gzip_bomb": "larger than 4194304 bytes",
    "html_page": "text/html, not JSON",
    "huge_error_body": "HTTP 500",
    "close_after_request": "broke mid-response",
    "slowloris_headers": "did not answer within 0.5 s",
    "stall_before_headers": "did not answer within 0.5 s",
}


async def test_hostile_ports_are_not_llm_apis_and_the_healthy_one_is_found(
    tmp_path: Path,
) -> None:
    async with AsyncExitStack() as stack:
        healthy = await stack.enter_async_context(HostileServer(host="127.0.0.2"))
        hostile = {
            fault: await stack.enter_async_context(
                HostileServer(host=f"127.0.0.{3 + i}", fault=fault)
            )
            for i, fault in enumerate(HOSTILE)
        }
        ports = (healthy.port, *(s.port for s in hostile.values()))
        started = time.perf_counter()
        result = await discover(scan_options(tmp_path, ports, http_timeout_s=0.5))
        elapsed = time.perf_counter() - started
    assert [(s.url, s.models) for s in result.servers] == [(healthy.url, list(MODELS))]
    assert result.chosen is not None
    for fault, server in hostile.items():
        assert HOSTILE[fault] in result.rejected[server.url], (fault, result.rejected[server.url])
        assert "\n" not in result.rejected[server.url]
    assert elapsed < 8


@pytest.mark.timing
async def test_the_time_limit_covers_the_fingerprint_phase(tmp_path: Path) -> None:
    async with AsyncExitStack() as stack:
        healthy = await stack.enter_async_context(HostileServer(host="127.0.0.2"))
        slow = [
            await stack.enter_async_context(HostileServer(host=f"127.0.0.{3 + i}", fault=f))
            for i, f in enumerate(("slowloris_headers", "stall_before_headers", "slow_error_body"))
        ]
        ports = (healthy.port, *(s.port for s in slow))
        options = scan_options(tmp_path, ports, http_timeout_s=30.0, deadline_s=1.5)
        started = time.perf_counter()
        result = await discover(options)
        elapsed = time.perf_counter() - started
    assert elapsed <= 1.5 + 0.5
    assert [s.url for s in result.servers] == [healthy.url]
    for server in slow:
        assert "not identified within the 1.5 s discovery limit" in result.rejected[server.url]


async def test_a_cache_entry_is_contacted_only_where_its_url_points_inside_the_scope(
    tmp_path: Path,
) -> None:
    async with AsyncExitStack() as stack:
        outside = await stack.enter_async_context(HostileServer(host="127.0.0.20"))
        inside = await stack.enter_async_context(HostileServer(host="127.0.0.3"))
        deep = await stack.enter_async_context(
            HostileServer(host="127.0.0.4", fault="very_deep_nesting")
        )
        # The cached ip says 127.0.0.3 (in scope), the url points at 127.0.0.20 (outside).
        lying = ServerRecord(url=outside.url, ip="127.0.0.3", models=["m"], status="ok")
        honest = ServerRecord(url=inside.url, models=["m"], status="ok")
        hostile = ServerRecord(url=deep.url, models=["m"], status="ok")
        save_cache([lying, honest, hostile], tmp_path / "servers.json")
        options = scan_options(tmp_path, (inside.port,), http_timeout_s=0.5)
        result = await discover(options)
    assert outside.log == []  # never contacted
    assert inside.log  # asked where its url points
    assert result.phase == "cache"
    assert [s.url for s in result.servers] == [inside.url]
    assert f"cached {deep.url} did not answer; dropped" in result.notes
    kept = {s.url for s in load_cache(tmp_path / "servers.json")}
    assert outside.url in kept  # not ours to judge: left for the scope it belongs to


async def test_a_cached_host_name_is_checked_on_every_address_it_resolves_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scope = ScanScope((parse_subnet("127.0.0.0/28"),))
    record = ServerRecord(url="http://llm.example:8080/v1", ip="127.0.0.3")

    async def resolves(addresses: list[str]) -> ServerRecord | str:
        async def fake(host: str, port: int, timeout_s: float) -> list[str]:
            return addresses

        monkeypatch.setattr(reach_module, "addresses_of", fake)
        return await reachable(record, scope, [])

    split = await resolves(["127.0.0.5", "127.0.1.3"])
    assert (
        split
        == "cached http://llm.example:8080/v1: 127.0.1.3 is outside the scan scope; not contacted"
    )
    assert await resolves([]) == (
        "cached http://llm.example:8080/v1: llm.example does not resolve; not contacted"
    )
    contacted = await resolves(["127.0.0.5"])
    assert isinstance(contacted, ServerRecord)
    assert (contacted.url, contacted.ip) == ("http://127.0.0.5:8080/v1", "127.0.0.5")


async def test_the_scan_size_is_capped_before_any_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_connection(*args: object, **kwargs: object) -> list[tuple[str, int]]:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr("pytest_llmserver.discovery.scan.open_endpoints", no_connection)
    base = DiscoveryOptions(cache_path=tmp_path / "c.json", use_cache=False, loopback_only=True)
    cases = [
        (
            DiscoveryOptions(**{**base.__dict__, "ports": tuple(range(1, 2000))}),
            "1999 ports, more than the cap of 1024",
        ),
        (
            DiscoveryOptions(
                **{**base.__dict__, "subnets": ("127.0.0.0/23", "127.0.2.0/23", "127.0.4.0/24")}
            ),
            "the subnets hold 1274 hosts together, more than the cap of 1024",
        ),
        (
            DiscoveryOptions(
                **{**base.__dict__, "subnets": ("127.0.0.0/22",), "ports": tuple(range(1, 100))}
            ),
            "1022 hosts x 99 ports is 101178 endpoints, more than the cap of 65536",
        ),
    ]
    for options, message in cases:
        with pytest.raises(ScanInputError, match=message) as info:
            await discover(options)
        assert "\n" not in str(info.value)
    with pytest.raises(ScanInputError, match="more than the cap of 1024 ports"):
        parse_ports("1-65535")


async def test_probe_and_context_length_survive_hostile_answers() -> None:
    async with AsyncExitStack() as stack:
        slow = await stack.enter_async_context(HostileServer(fault="slowloris_headers"))
        deep = await stack.enter_async_context(
            HostileServer(persona="ollama", fault="very_deep_nesting")
        )
        started = time.perf_counter()
        with pytest.raises(LLMTimeoutError, match=r"did not answer within 0\.2 s"):
            await probe_url(slow.url, timeout_s=0.2)
        assert time.perf_counter() - started < 2.0
        record = ServerRecord(
            url=deep.url, type="ollama", model_info=[ModelInfo(MODELS[0], context_length=77)]
        )
        assert await context_length(record, MODELS[0], timeout_s=1.0) == 77
        llamacpp = ServerRecord(url=deep.url, model_info=[ModelInfo(MODELS[0], context_length=5)])
        assert await context_length(llamacpp, MODELS[0], timeout_s=1.0) == 5
