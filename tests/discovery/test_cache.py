"""The discovery cache and health checks (loopback sims only)."""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_llmserver.client import ServerRecord
from pytest_llmserver.discovery import (
    CacheWarning,
    check_server_health,
    discover,
    load_cache,
    save_cache,
)
from tests.discovery.servers import (
    scan_options,
    sim_server,
)

# --- cache ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_cache_is_written_then_used_and_refreshed(tmp_path: Path) -> None:
    async with sim_server("127.0.0.3", "ollama") as first:
        port = first.port
        scanned = await discover(scan_options(tmp_path, (port,)))
    assert scanned.phase == "subnet"
    cached = load_cache(tmp_path / "servers.json")
    assert [s.url for s in cached] == [first.url]
    assert await asyncio.to_thread(os.listdir, tmp_path) == ["servers.json"]  # no temp file

    # The same address now serves other models: the health check refreshes the list.
    async with sim_server("127.0.0.3", "ollama", port=port, models=("new-model",)):
        again = await discover(scan_options(tmp_path, (port,)))
    assert again.phase == "cache"
    assert again.scanned == ["1 cached server(s)"]  # no scan was needed
    assert again.chosen is not None
    assert again.chosen.models == ["new-model"]
    assert load_cache(tmp_path / "servers.json")[0].models == ["new-model"]


@pytest.mark.asyncio
async def test_a_dead_cached_server_is_dropped_and_the_scan_runs(tmp_path: Path) -> None:
    async with sim_server("127.0.0.3", "ollama") as gone:
        await discover(scan_options(tmp_path, (gone.port,)))
    async with sim_server("127.0.0.9", "vllm") as alive:
        result = await discover(scan_options(tmp_path, (gone.port, alive.port)))
    assert f"cached {gone.url} did not answer; dropped" in result.notes
    assert [s.url for s in result.servers] == [alive.url]
    assert result.phase == "subnet"
    assert [s.url for s in load_cache(tmp_path / "servers.json")] == [alive.url]


@pytest.mark.asyncio
async def test_cache_entries_outside_the_scope_are_not_used(tmp_path: Path) -> None:
    async with sim_server("127.0.0.3", "ollama") as sim:
        await discover(scan_options(tmp_path, (sim.port,)))
        elsewhere = await discover(scan_options(tmp_path, (sim.port,), subnets=("127.0.1.0/30",)))
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
    async with sim_server("127.0.0.3", "ollama") as sim:
        old = ServerRecord(url=sim.url, type="ollama", models=["stale"])
        fresh = await check_server_health(old, timeout_s=1.0)
        assert fresh is not None
        assert fresh.models == ["sim-small", "sim-reasoner"]
        as_openai = await check_server_health(replace(old, type="openai"), timeout_s=1.0)
        assert as_openai is not None  # a cached API type is kept: Ollama's /v1 is asked
        assert (as_openai.type, as_openai.kind) == ("openai", "ollama")
    assert await check_server_health(old, timeout_s=1.0) is None
    async with sim_server("127.0.0.3", "vllm", port=sim.port):
        assert await check_server_health(old, timeout_s=1.0) is None  # no longer Ollama
