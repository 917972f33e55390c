"""Self-calibration against the in-process null server: sane figures, a real stream, and the
capacity model (figures are not held to a speed target)."""

from __future__ import annotations

import math
import os
from pathlib import Path

from pytest_llmserver.client import ModelClient, Timeouts
from pytest_llmserver.stress import ClientCapacity, calibrate, measure_capacity
from pytest_llmserver.stress.capacity import NullServer


async def test_the_null_server_streams_what_the_client_accepts() -> None:
    async with (
        NullServer(tokens=5) as server,
        ModelClient({"url": server.url}, "null", timeouts=Timeouts.from_total(5.0)) as client,
    ):
        first = await client.complete([{"role": "user", "content": "hi"}])
        second = await client.complete([{"role": "user", "content": "hi"}])
    assert first.content == second.content == " tok" * 5
    assert first.finish_reason == "stop"
    assert server.served == 2


async def test_calibration_returns_sane_figures(tmp_path: Path) -> None:
    capacity = await measure_capacity(0.3, concurrency=4, directory=tmp_path)
    assert 10 < capacity.requests_per_s < 1e6
    assert capacity.events_per_s > capacity.requests_per_s
    assert math.isfinite(capacity.events_per_s)
    assert 0.3 <= capacity.measured_s < 5.0
    assert os.listdir(tmp_path) == []  # its records went with its temporary directory
    assert ClientCapacity.from_dict(capacity.to_dict()) == capacity
    assert "req/s of 8-token streams" in capacity.describe()


def test_longer_streams_cost_their_events() -> None:
    capacity = ClientCapacity(requests_per_s=1000.0, events_per_s=100_000.0, tokens=8, measured_s=1)
    assert capacity.requests_per_s_at(8) == 1000.0
    assert capacity.requests_per_s_at(4) == 1000.0
    assert math.isclose(capacity.requests_per_s_at(108), 1.0 / (0.001 + 0.001))


def test_calibrate_runs_without_pytest_or_an_event_loop() -> None:
    capacity = calibrate(0.2)
    assert capacity.requests_per_s > 10
