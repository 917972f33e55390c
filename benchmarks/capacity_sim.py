"""Capacity under SLO against a server of known capacity: prints the capacity the search finds
beside the queueing model's prediction. Prints figures; the 10% target is not asserted.

The server is the queueing server of the tests (``tests/stress/slot_server.py``): N slots,
deterministic service S from slot to last token, the rest waiting in arrival order, so under
constant arrivals it carries N / S requests per second (TTFT at no load is S / tokens and
grows without bound above N / S). It runs in its own process pinned to core 0; the search
runs here, pinned to core 1 (2 cores).

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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the tests' queueing server

from pytest_llmserver._util import stop_process  # noqa: E402
from pytest_llmserver.stress import StressTester  # noqa: E402
from pytest_llmserver.stress.modes.capacity import run_capacity_test  # noqa: E402

TOKENS = 4


def pin(core: int) -> str:
    """Pin this process to ``core`` when the machine has it; what was done, in words."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) <= core:
        return "not pinned"
    os.sched_setaffinity(0, {core})
    return f"core {core}"


async def serve(slots: int, service_s: float) -> None:
    """Run the queueing server until stdin closes; print its URL first."""
    from tests.stress.slot_server import SlotServer

    async with SlotServer(slots, service_s, TOKENS) as server:
        print(server.url, flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--service-ms", type=float, default=100.0)
    parser.add_argument("--ttft-slo-ms", type=float, default=150.0)
    parser.add_argument("--probe-s", type=float, default=3.0, help="seconds per probed rate")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    service_s = args.service_ms / 1000.0
    if args.serve:
        pin(0)
        asyncio.run(serve(args.slots, service_s))
        return
    command = [sys.executable, __file__, "--serve", f"--slots={args.slots}"]
    command.append(f"--service-ms={args.service_ms}")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    server = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
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
            f"server: {args.slots} slots, service {args.service_ms:g} ms, {TOKENS} tokens (core 0)"
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
        if server.stdin is not None:
            server.stdin.close()
        stop_process(server)


if __name__ == "__main__":
    main()
