"""Capacity under SLO against the simulator with N slots: prints the capacity the search finds
beside the queueing model's prediction. Prints figures; the 10% target is not asserted.

The simulator (``python -m pytest_llmserver.sim --slots=N``) holds a slot for each request's
service time S = TTFT + tokens x token gap (``TimingModel.service_s``); later requests wait in
arrival order, so under constant arrivals it carries N / S requests per second, and TTFT grows
without bound above that. It runs in its own process pinned to core 0; the search runs here,
pinned to core 1 (2 cores).

    python benchmarks/capacity_sim.py [--slots 4] [--service-ms 100] [--ttft-slo-ms 150]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_llmserver._util import stop_process
from pytest_llmserver.stress import StressTester
from pytest_llmserver.stress.modes.capacity import run_capacity_test

TOKENS = 4


def pin(core: int) -> str:
    """Pin this process to ``core`` when the machine has it; what was done, in words."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) <= core:
        return "not pinned"
    os.sched_setaffinity(0, {core})
    return f"core {core}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--service-ms", type=float, default=100.0)
    parser.add_argument("--ttft-slo-ms", type=float, default=150.0)
    parser.add_argument("--probe-s", type=float, default=3.0, help="seconds per probed rate")
    args = parser.parse_args()
    service_s = args.service_ms / 1000.0
    token_ms = args.service_ms / (TOKENS + 1)  # TTFT and each later token: equal gaps
    command = [sys.executable, "-m", "pytest_llmserver.sim", "--port=0", f"--slots={args.slots}"]
    command += [f"--ttft-ms={token_ms}", f"--token-ms={token_ms}", f"--answer-tokens={TOKENS}"]
    command += ["--models=slots"]
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        command = ["taskset", "-c", "0", *command]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().rsplit(" ", 1)[-1].strip()  # "... listening on URL"
        where = pin(1)
        slo = {"ttft_p95": args.ttft_slo_ms / 1000.0}
        predicted = args.slots / service_s
        with tempfile.TemporaryDirectory() as tmp:
            tester = StressTester({"url": url}, "slots", TOKENS, slos=slo, out_dir=Path(tmp))
            started = time.perf_counter()
            stats = asyncio.run(run_capacity_test(tester, args.probe_s, min_requests=20))
            wall_s = time.perf_counter() - started
        capacity = stats.figures["capacity"]
        found = capacity["rate_per_s"]
        print(
            f"simulator: {args.slots} slots, service {args.service_ms:g} ms = TTFT + {TOKENS} "
            f"tokens, {token_ms:g} ms apart (core 0)"
        )
        print(f"client: {where}; load average {os.getloadavg()[0]:.2f}")
        print(f"SLO: ttft_p95 <= {args.ttft_slo_ms:g} ms, goodput >= 99%")
        print(f"predicted capacity (N / S): {predicted:.2f} req/s")
        if found is None:
            print(f"found: none ({capacity['no_load']})")
            return
        error = (found - predicted) / predicted
        print(f"found: {capacity['line']}")
        print(f"error against the prediction: {error:+.1%} (target within 10%)")
        print(f"probes: {len(capacity['probes'])}, search wall time {wall_s:.1f} s")
        for probe in capacity["probes"]:
            verdict = "pass" if probe["passed"] else f"fail: {probe['reason']}"
            print(f"  {probe['rate_per_s']:8.2f} req/s  {verdict}")
    finally:
        stop_process(server)


if __name__ == "__main__":
    main()
