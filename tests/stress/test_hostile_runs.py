"""Every stress mode, through the real client, against the hostile server of ``tests.hostile``
with the faults of ``tests.hostile.mixed`` served to every third chat request.

The record invariant: one record per chat request the server read, and the records' error
classes are, as a multiset, exactly the documented outcomes of the faults served."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.stress import StressTester, TestStats, iter_records
from tests.hostile.mixed import every_third, expected_classes
from tests.hostile.replies import Api
from tests.hostile.server import HostileServer

TIMEOUT_S = 1.0
"""The per-request limit; ``stall_mid_stream`` ends by it."""


@pytest.fixture
async def hostile() -> AsyncIterator[HostileServer]:
    async with HostileServer(schedule=every_third()) as server:
        yield server


Run = Callable[[StressTester], Coroutine[Any, Any, TestStats]]

MODES = [
    pytest.param(lambda t: t.run_throughput_test(concurrency=4, total=30), id="throughput"),
    pytest.param(lambda t: t.run_sustained_load_test(rpm=3000, duration=0.6), id="sustained"),
    pytest.param(lambda t: t.run_consistency_test(12), id="consistency"),
    pytest.param(
        lambda t: t.run_realistic_user_test(20.0, "long", duration=0.6, think_median_s=0.01),
        id="realistic_user",
    ),
    pytest.param(lambda t: t.run_tool_bench_test("quick", concurrency=4), id="tool_bench"),
]


@pytest.mark.parametrize("api", ["openai", "ollama"])
@pytest.mark.parametrize("run", MODES)
async def test_mixed_faults_give_one_record_each_and_the_run_finishes(
    hostile: HostileServer, run: Run, api: Api, tmp_path: Path
) -> None:
    server = {"url": hostile.url, "type": api}
    tester = StressTester(server, "m", max_tokens=8, out_dir=tmp_path, timeout_s=TIMEOUT_S)
    stats = await run(tester)
    records = [r for chunk in iter_records(stats.records_path) for r in chunk]
    served = expected_classes(hostile, api)
    assert sum(served.values()) >= 6  # at least two faults were served
    assert len(records) == sum(served.values())  # records written == requests sent
    assert Counter(r["error_class"] or "ok" for r in records) == served
    failed = [r for r in records if not r["ok"]]
    assert all(r["error"] and "\n" not in r["error"] for r in failed)
    assert stats.failed == sum(not r["warmup"] for r in failed)  # failed == records with an error
    assert stats.success == sum(r["ok"] and not r["warmup"] for r in records)
    absurd = sum(s.fault == "absurd_counts" for s in hostile.log)
    assert sum(bool(r["suspect"]) for r in records) == absurd
    assert (tmp_path / f"{stats.records_path.stem}.md").exists()
