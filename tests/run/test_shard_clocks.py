"""xdist shards meet at the controller's service: one start, and each shard's clock offset
measured and applied when their records are merged (one worker's clock shifted on purpose)."""

from __future__ import annotations

import json
from typing import Any

import pytest

# Worker gw1's wall clock runs 5 s ahead of everyone else's.
SHIFT = """
import os
import time

import pytest_llmserver.stress.timing as timing

if os.environ.get("PYTEST_XDIST_WORKER") == "gw1":
    timing.wall_ns = lambda: time.time_ns() + 5_000_000_000
"""


def test_shards_start_together_and_merge_on_the_controllers_clock(
    llm_pytester: pytest.Pytester,
) -> None:
    llm_pytester.makeconftest(SHIFT)
    result = llm_pytester.runpytest_subprocess(
        "--llm-server=sim",
        "-m",
        "throughput",
        "--llm-sweep=4",
        "--llm-total=16",
        "--llm-shards=2",
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=2)
    run = llm_pytester.path / "logs" / "latest"
    doc: dict[str, Any] = json.loads((run / "results.json").read_text())
    [merged] = doc["stress"]
    offsets = sorted(merged["params"]["clock_offsets_s"])
    assert offsets[0] == pytest.approx(0.0, abs=0.05)
    assert offsets[1] == pytest.approx(5.0, abs=0.05)
    spread_ms = float(merged["notes"][0].split("spread over ")[1].split(" ms")[0])
    assert spread_ms < 500  # on one clock they started together, not 5 s apart
    sent = [
        json.loads(line)["sent_s"] for line in (run / merged["records"]).read_text().splitlines()
    ]
    assert max(sent) < 4.0
