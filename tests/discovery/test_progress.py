"""The seed's forms still work: ``(done, total)`` progress callbacks, sync or async; seed dicts
into health checks and the cache (loopback sims only)."""

from __future__ import annotations

import asyncio
import functools
import sys
from pathlib import Path

import pytest

from pytest_llmserver.client import ServerRecord
from pytest_llmserver.discovery import (
    ScanProgress,
    check_server_health,
    load_cache,
    quick_validate_cache,
    save_cache,
    scan_network,
)
from pytest_llmserver.discovery.progress import ProgressReporter, takes_done_total
from tests.discovery.servers import sim_server


def test_the_form_is_told_by_the_signature() -> None:
    def seed(done: int, total: int) -> None: ...

    async def seed_async(done: int, total: int) -> None: ...

    def own(progress: ScanProgress) -> None: ...

    def either(*args: object) -> None: ...

    def own_with_default(progress: ScanProgress, extra: int = 0) -> None: ...

    assert takes_done_total(seed)
    assert takes_done_total(seed_async)
    assert takes_done_total(lambda done, total: None)
    assert takes_done_total(functools.partial(lambda tag, done, total: None, "tag"))
    assert not takes_done_total(own)
    assert not takes_done_total([].append)
    assert not takes_done_total(either)
    assert not takes_done_total(own_with_default)


async def test_reporter_awaits_either_form() -> None:
    got: list[object] = []

    async def seed(done: int, total: int) -> None:
        await asyncio.sleep(0)
        got.append((done, total))

    async def own(progress: ScanProgress) -> None:
        await asyncio.sleep(0)
        got.append(progress.stage)

    progress = ScanProgress("subnet", "connect", 3, 8)
    await ProgressReporter(seed)(progress)
    await ProgressReporter(own)(progress)
    await ProgressReporter(None)(progress)
    assert got == [(3, 8), "connect"]


async def _scan_with(callback: object) -> list[ServerRecord]:
    async with sim_server("127.0.0.3", "ollama") as sim:
        return await scan_network(
            callback,  # type: ignore[arg-type]
            subnet="127.0.0.2/31",
            ports=[sim.port],
            loopback_only=True,
        )


async def test_scan_network_with_a_seed_sync_callback() -> None:
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))

    found = await _scan_with(progress)
    assert [s["type"] for s in found] == ["ollama"]
    assert all(isinstance(c, int) for call in calls for c in call)
    connect = [c for c in calls if c[1] == 2]  # 127.0.0.2 and .3 on one port
    assert connect[-1] == (2, 2)
    assert calls[-1] == (1, 1)  # the one open endpoint, fingerprinted


async def test_scan_network_with_a_seed_async_callback_awaits_each_call() -> None:
    started: list[tuple[int, int]] = []
    finished: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        started.append((done, total))
        await asyncio.sleep(0.001)
        finished.append((done, total))

    found = await _scan_with(progress)
    assert [s.kind for s in found] == ["ollama"]
    assert finished == started
    assert finished[-1] == (1, 1)
    assert asyncio.all_tasks() == {asyncio.current_task()}  # nothing left running


async def test_seed_dicts_into_the_cache_check_and_the_health_check() -> None:
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    async with sim_server("127.0.0.3", "ollama") as sim:
        alive = {"url": sim.url, "type": "ollama", "models": ["old"], "response_time": 5.0}
        gone = {"url": "http://127.0.0.3:9", "type": "openai", "models": []}
        live = await quick_validate_cache([alive, gone], progress, timeout_s=1.0)
        fresh = await check_server_health(alive, timeout_s=1.0)
    assert [(s.url, s["models"]) for s in live] == [(sim.url, ["sim-small", "sim-reasoner"])]
    assert isinstance(live[0], ServerRecord)
    assert sorted(seen) == [(1, 2), (2, 2)]
    assert fresh is not None
    assert fresh.models == ["sim-small", "sim-reasoner"]


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="XDG_CACHE_HOME is Linux's")
def test_save_and_load_cache_without_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    written = save_cache(
        [{"url": "http://127.0.0.3:1", "type": "ollama", "models": ["a"], "response_time": 2.0}]
    )
    assert written == tmp_path / "pytest-llmserver" / "servers.json"
    [server] = load_cache()
    assert (server["url"], server["models"], server.get("response_time")) == (
        "http://127.0.0.3:1",
        ["a"],
        2.0,
    )
