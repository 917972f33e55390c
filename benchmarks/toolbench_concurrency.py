"""Wall time of the 45 tool-bench tasks on the simulator at 200 ms per model step:
serial against N tasks at once (asyncio in one process). Target: <= 0.3x the serial time.

    python benchmarks/toolbench_concurrency.py [--concurrency 8] [--step-ms 200]
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from pytest_llmserver.client import ModelClient
from pytest_llmserver.servers import ORACLE
from pytest_llmserver.servers.bench_sim import bench_sim_config
from pytest_llmserver.sim import SimConfig, SimThread, TimingModel
from pytest_llmserver.toolbench import ToolbenchRun, builtin_tasks, run_toolbench

TARGET_RATIO = 0.3


async def timed_run(url: str, concurrency: int) -> ToolbenchRun:
    async with ModelClient({"url": url}, ORACLE, concurrency=concurrency) as client:
        return await run_toolbench(client, builtin_tasks(), concurrency=concurrency)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--step-ms", type=float, default=200.0)
    args = parser.parse_args()
    base = bench_sim_config()
    timing = TimingModel(ttft_s=args.step_ms / 1e3, per_token_s=0.0)
    config = SimConfig(models=base.models, policy=base.policy, timing=timing)
    with SimThread(config) as sim:
        serial = asyncio.run(timed_run(sim.url, 1))
        parallel = asyncio.run(timed_run(sim.url, args.concurrency))
    steps = sum(len(t.steps) for r in serial.results.values() for t, _ in r.trials)
    ratio = parallel.wall_s / serial.wall_s
    for name, run in (("serial", serial), (f"concurrency {args.concurrency}", parallel)):
        passed = sum(r.passed_all for r in run.results.values())
        print(f"{name:<15} {run.wall_s:7.2f} s  {passed}/{len(run.results)} passed")
    print(
        f"{steps} model steps at {args.step_ms:g} ms; ratio {ratio:.3f} (target <= {TARGET_RATIO})"
    )
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
