"""Open-loop accuracy at the limit against the simulator (in its own process): per rate and
number of client worker processes, the delivered rate, its error against the target, the
schedule-lag p99, the shed count and the client processes' CPU share, beside a raw-asyncio
reference sender (one process, asyncio streams, no client library). Prints figures; targets
(one process >= 1,000 req/s of 8-token streams within 1%, schedule-lag p99 < 5 ms) are not
asserted.

The simulator is pinned to core 0. One client process runs on the other core; with 2 worker
processes the workers may use every core (the simulator's too), which the output says.

    python benchmarks/rate_accuracy.py [--seconds 5] [--rates 200,500,1000,2000] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from pytest_llmserver.sim import SimProcess
from pytest_llmserver.stress import (
    ModeCall,
    WorkerPool,
    arrival_offsets_s,
    calibrate,
    merge_worker_results,
)

SIM_ARGS = ("--ttft-ms=5", "--token-ms=1", "--answer-tokens=8")
TOKENS = 8
MAX_IN_FLIGHT = 256


def children_cpu_s() -> float:
    """CPU seconds of this process's waited-for children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def engine_run(url: str, rate: float, seconds: float, workers: int, out: Path) -> dict[str, Any]:
    """The sustained mode at ``rate`` split over ``workers`` processes; its merged figures."""
    call = ModeCall.capture(
        lambda t: t.run_sustained_load_test(rate * 60.0, seconds, max_in_flight=MAX_IN_FLIGHT)
    )
    assert call is not None
    tester = {"out_dir": str(out), "run_id": f"r{rate:g}-w{workers}", "max_tokens": TOKENS}
    pool = WorkerPool(
        {"url": url},
        "sim-small",
        {**tester, "warmup": 4},
        call,
        workers,
        max_wall_s=seconds + 120.0,
    )
    cpu_before, wall_before = children_cpu_s(), time.perf_counter()
    results = pool.run()
    wall_s = time.perf_counter() - wall_before
    stats = merge_worker_results(results, out / f"merged-r{rate:g}-w{workers}.jsonl")
    figures = dict(stats.figures)
    figures["failed"] = stats.summary.failed
    figures["cpu_share"] = (children_cpu_s() - cpu_before) / wall_s
    return figures


async def raw_run(url: str, rate: float, seconds: float) -> tuple[float, float, float]:
    """A minimal open-loop sender: keep-alive connections on asyncio streams (at most
    ``MAX_IN_FLIGHT`` open, as for ours), a request at each due time; (requests written
    within the schedule per second of it, schedule-lag p99 s, CPU share of this process)."""
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    body = json.dumps(
        {
            "model": "sim-small",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": TOKENS,
            "stream": True,
        }
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    sent, lags = [0], []
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def one() -> None:
        async with slots:
            await exchange()

    async def exchange() -> None:
        conn = idle.pop() if idle else await asyncio.open_connection(host, int(port))
        reader, writer = conn
        if time.perf_counter() - t0 < seconds:
            sent[0] += 1  # on the wire within the schedule (it never sheds: late ones go later)
        writer.write(head + body)
        headers = (await reader.readuntil(b"\r\n\r\n")).lower()
        if b"transfer-encoding: chunked" in headers:
            await reader.readuntil(b"\r\n0\r\n\r\n")
            idle.append(conn)
        elif b"content-length:" in headers:
            length = int(headers.split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            idle.append(conn)
        else:
            await reader.read()
            writer.close()

    tasks = set()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    t0 = time.perf_counter() + 0.1
    for offset in arrival_offsets_s(rate):
        if offset >= seconds:
            break
        delay = t0 + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(time.perf_counter() - t0 - offset)
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.wait_for(asyncio.gather(*tasks), 30.0)
    cpu_share = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    for _, writer in idle:
        writer.close()
    return sent[0] / seconds, float(np.percentile(lags, 99)), cpu_share


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rates", default="200,500,1000,2000")
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    worker_counts = [int(w) for w in args.workers.split(",")]
    cores = sorted(os.sched_getaffinity(0))
    pinned = len(cores) >= 2
    if pinned:
        os.sched_setaffinity(0, {cores[0]})  # the simulator inherits core 0
    with SimProcess(*SIM_ARGS) as url:
        if pinned:
            os.sched_setaffinity(0, set(cores[1:]))
        print(
            f"sim: {' '.join(SIM_ARGS)}; {args.seconds:g} s per run; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        print(f"client capacity (calibrated): {calibrate().describe()}")
        print(
            f"{'target/s':>9} {'workers':>7} {'delivered/s':>12} {'error':>7} "
            f"{'lag p99':>9} {'shed':>6} {'client CPU':>10} {'raw/s':>9} {'raw lag p99':>11} "
            f"{'raw CPU':>7}"
        )
        with tempfile.TemporaryDirectory() as tmp:
            for rate in rates:
                raw_rate, raw_lag, raw_cpu = asyncio.run(raw_run(url, rate, args.seconds))
                for workers in worker_counts:
                    if pinned:  # one worker: the client core; more: every core
                        os.sched_setaffinity(0, set(cores[1:]) if workers == 1 else set(cores))
                    f = engine_run(url, rate, args.seconds, workers, Path(tmp))
                    delivered = float(f["delivered_rps"])
                    print(
                        f"{rate:>9.0f} {workers:>7} {delivered:>12.1f} "
                        f"{delivered / rate - 1:>+7.1%} {f['schedule_lag_p99_s'] * 1e3:>6.2f} ms "
                        f"{f['shed_behind'] + f['shed_full']:>6} {f['cpu_share']:>10.0%} "
                        f"{raw_rate:>9.1f} {raw_lag * 1e3:>8.2f} ms {raw_cpu:>7.0%}"
                        + (f"  ({f['failed']} failed)" if f["failed"] else "")
                    )
                    if pinned:
                        os.sched_setaffinity(0, set(cores[1:]))
    print(
        f"pinning: simulator on core {cores[0]}; 1 worker on the other core(s); "
        "2 workers unpinned (they share the simulator's core)"
        if pinned
        else "pinning: none"
    )
    print("client CPU: CPU time of the worker processes (start-up included) / their wall time")
    print("targets (not asserted): 1 process >= 1,000 req/s within 1%, schedule-lag p99 < 5 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
