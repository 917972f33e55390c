"""Open-loop accuracy against the simulator (in its own process): delivered vs target rate and
the scheduler's lag at 50, 100 and 200 req/s. Targets: within 1%, schedule-lag p99 < 5 ms.

    python benchmarks/rate_accuracy.py [--seconds 10] [--rates 50,100,200]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import numpy as np

from pytest_llmserver.client import ChatResponse, ModelClient
from pytest_llmserver.sim import SimProcess
from pytest_llmserver.stress import (
    JsonlSink,
    LoopLagMonitor,
    RunClock,
    arrival_offsets_s,
    iter_records,
    run_open_loop,
    summarize_file,
)


async def measure(url: str, rate: float, seconds: float, path: Path) -> tuple[float, float, float]:
    """Return (delivered req/s, schedule-lag p99 s, loop-lag p99 s)."""
    async with ModelClient({"url": url}, "sim-small", concurrency=256) as client:

        async def send(index: int) -> ChatResponse:
            return await client.complete([{"role": "user", "content": f"q{index}"}], max_tokens=8)

        clock = RunClock()
        async with LoopLagMonitor() as lag:
            with JsonlSink(path) as sink:
                stats = await run_open_loop(
                    send, arrival_offsets_s(rate), clock=clock, sink=sink, duration_s=seconds
                )
    summary = summarize_file(path)
    assert summary.failed == 0, summary.errors
    sent = np.sort([float(r["sent_s"]) for chunk in iter_records(path) for r in chunk])
    delivered = (len(sent) - 1) / (sent[-1] - sent[0])
    return delivered, float(np.percentile(stats.schedule_lag_s, 99)), lag.percentile_s(99) or 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rates", default="50,100,200")
    args = parser.parse_args()
    ok = True
    with SimProcess("--ttft-ms=20", "--token-ms=5", "--answer-tokens=8") as url:
        print(f"sim: TTFT 20 ms, 5 ms/token, 8 tokens; {args.seconds:g} s per rate")
        print(
            f"{'target/s':>9} {'delivered/s':>12} {'error':>7} {'sched lag p99':>14} "
            f"{'loop lag p99':>13}"
        )
        with tempfile.TemporaryDirectory() as tmp:
            for rate in (float(r) for r in args.rates.split(",")):
                delivered, sched_p99, loop_p99 = asyncio.run(
                    measure(url, rate, args.seconds, Path(tmp) / "r.jsonl")
                )
                error = delivered / rate - 1
                ok &= abs(error) <= 0.01 and sched_p99 < 0.005
                print(
                    f"{rate:>9.0f} {delivered:>12.2f} {error:>+7.2%} {sched_p99 * 1e3:>11.2f} ms "
                    f"{loop_p99 * 1e3:>10.2f} ms"
                )
    print("targets: delivered within 1%, schedule-lag p99 < 5 ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
