"""Worker processes sharing one open-loop schedule against the simulator: every request of
the schedule sent exactly once, records merged exactly, figures added up, clock offsets."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pytest_llmserver.sim import SimConfig, SimThread, TimingModel
from pytest_llmserver.stress import (
    ModeCall,
    WorkerPool,
    merge_worker_results,
    read_records,
    worker_count,
)
from pytest_llmserver.stress.meeting import MeetingService, meet


def test_mode_calls_are_captured_with_their_rate() -> None:
    call = ModeCall.capture(lambda t: t.run_sustained_load_test(rpm=6000, duration=2))
    assert call is not None
    assert call.mode == "sustained"
    assert call.rate_per_s() == 100.0
    burst = ModeCall.capture(lambda t: t.run_throughput_test(4))
    assert burst is not None
    assert burst.mode is None
    assert burst.rate_per_s() is None
    assert ModeCall.capture(lambda t: t.server) is None


def test_worker_count() -> None:
    assert worker_count(3, 5000.0, 100.0, 2) == 3  # asked for: as asked
    assert worker_count(None, 50.0, 1000.0, 2) == 1
    assert worker_count(None, 1000.0, 1000.0, 2) == 2
    assert worker_count(None, 1e6, 1000.0, 2) == 2  # capped at the cores
    assert worker_count(None, None, 1000.0, 2) == 1


async def test_meeting_measures_an_injected_clock_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    with MeetingService(lead_s=0.05) as service:
        plain = await meet(service.address, "g", 0, 1, timeout_s=5)
        monkeypatch.setattr("pytest_llmserver.stress.timing.wall_ns", _shifted(2.5))
        shifted = await meet(service.address, "h", 0, 1, timeout_s=5)
    assert abs(plain.offset_s) < plain.rtt_s + 0.005
    assert abs(shifted.offset_s - 2.5) < shifted.rtt_s + 0.005
    assert shifted.note is None


def _shifted(offset_s: float) -> Any:
    """This (main) thread's clock ``offset_s`` ahead; the service's threads keep the true one."""

    def wall_ns() -> int:
        main = threading.current_thread() is threading.main_thread()
        return time.time_ns() + (int(offset_s * 1e9) if main else 0)

    return wall_ns


@pytest.mark.timing
def test_two_workers_share_one_schedule_and_merge_exactly(tmp_path: Path) -> None:
    call = ModeCall.capture(lambda t: t.run_sustained_load_test(rpm=3000, duration=1.0))
    assert call is not None
    seen: list[dict[str, Any]] = []
    with SimThread(SimConfig(timing=TimingModel(ttft_s=0.005, per_token_s=0.001))) as sim:
        pool = WorkerPool(
            {"url": sim.url},
            "sim-small",
            {"out_dir": str(tmp_path), "run_id": "t", "max_tokens": 8, "warmup": 1},
            call,
            2,
            max_wall_s=60.0,
            on_record=lambda record, _: seen.append(record),
        )
        results = pool.run()
    assert [r.part for r in results] == [0, 1]
    stats = merge_worker_results(results, tmp_path / "merged.jsonl")
    parts = [list(read_records(pool.records_path(k))) for k in range(2)]
    merged = list(read_records(tmp_path / "merged.jsonl"))
    assert len(merged) == sum(len(p) for p in parts) == len(seen)
    measured = [r for r in merged if not r.get("warmup")]
    indexes = sorted(int(r["index"]) for r in measured)
    assert indexes == list(range(50))  # one schedule of 50 requests, each sent once
    assert {int(r["index"]) % 2 for r in measured if r["worker"] == 1} == {1}
    assert stats.figures["scheduled"] == 50
    assert stats.figures["target_rps"] == 50.0
    assert stats.params["workers"] == 2
    assert stats.params["id"] == "t"
    ttft = [float(r["ttft_s"]) for r in measured if r.get("ok")]
    p50 = stats.summary.metrics.metric("ttft_s")
    assert p50 is not None
    assert p50.p50 == pytest.approx(float(np.percentile(ttft, 50)))
    assert stats.summary.ok == len(ttft)
    json.dumps(stats.to_dict())
