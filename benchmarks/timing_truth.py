"""How true the client's token stamps are: TTFT and inter-token errors against the simulator.

The simulator (``python -m pytest_llmserver.sim``) runs in its own process pinned to one core
and writes every token on an absolute deadline: first token ``--ttft-ms`` after it read the
request, then one every ``--token-ms``. The client runs in another process pinned to the
other core and starts ``c`` streams at once (``waves`` times): ``ModelClient.complete``, and a
raw-asyncio reader (``asyncio.open_connection``, ``readuntil`` per chunk, a clock read and
``json.loads`` per event) as the practical limit. Errors, p50 / p99 in ms:

- TTFT vs schedule: client TTFT minus the injected TTFT;
- TTFT vs sim: client TTFT minus the simulator's own first-token time (its llama.cpp-style
  ``timings.prompt_ms``: request read to first token written), which takes the simulator's
  own lateness out;
- ITL vs schedule: every client gap between tokens minus the injected gap.

``--client-path`` runs the client from another checkout (repeat it to compare before/after).

    python benchmarks/timing_truth.py [--levels 1,16,64,256] [--client-path /tmp/before-wire
        --client-path .]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TTFT_MS = 50.0
TARGET_SHARE = 2.0


@dataclass(frozen=True)
class Level:
    """One concurrency level: ``c`` streams of ``tokens`` tokens, ``gap_ms`` apart."""

    c: int
    tokens: int
    gap_ms: float
    waves: int


LEVELS = {
    1: Level(1, 100, 5.0, 10),
    16: Level(16, 100, 5.0, 3),
    64: Level(64, 100, 5.0, 2),
    256: Level(256, 50, 20.0, 2),
}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``nan`` for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


# The client side (its own process, its own checkout) ------------------------------------------


class Samples:
    """Errors in ms."""

    def __init__(self) -> None:
        self.ttft: list[float] = []
        self.ttft_sim: list[float] = []
        self.itl: list[float] = []

    def add(
        self, ttft_s: float, prompt_ms: float | None, gaps_s: list[float], level: Level
    ) -> None:
        self.ttft.append(ttft_s * 1e3 - TTFT_MS)
        if prompt_ms is not None:
            self.ttft_sim.append(ttft_s * 1e3 - prompt_ms)
        self.itl.extend(g * 1e3 - level.gap_ms for g in gaps_s)

    def summary(self) -> dict[str, float]:
        out = {}
        for name in ("ttft", "ttft_sim", "itl"):
            values: list[float] = getattr(self, name)
            out[f"{name}_p50"] = percentile(values, 50)
            out[f"{name}_p99"] = percentile(values, 99)
        return out


async def ours(url: str, level: Level) -> Samples:
    from pytest_llmserver.client import ModelClient, Timeouts

    samples = Samples()
    limits = Timeouts(connect_s=30.0, read_s=120.0, total_s=120.0)
    async with ModelClient({"url": url}, "sim-small", concurrency=level.c, timeouts=limits) as c:
        for wave in range(level.waves):
            messages = [[{"role": "user", "content": f"q{wave}-{i}"}] for i in range(level.c)]
            replies = await asyncio.gather(*(c.complete(m) for m in messages))
            for reply in replies:
                m = reply.metrics
                assert m.ttft_s is not None, m
                assert m.token_events == level.tokens, m
                prompt = m.prompt_eval_duration_ns
                samples.add(m.ttft_s, prompt / 1e6 if prompt is not None else None, m.itl_s, level)
    return samples


async def raw_stream(port: int, text: str) -> tuple[float, float | None, list[float]]:
    """One stream read by hand: (TTFT s, the sim's prompt_ms, gaps s)."""
    body = json.dumps(
        {
            "model": "sim-small",
            "messages": [{"role": "user", "content": text}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    ).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
        b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    sent_ns = time.perf_counter_ns()
    await reader.readuntil(b"\r\n\r\n")
    stamps: list[int] = []
    prompt_ms = None
    while True:
        size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
        data = await reader.readexactly(size + 2)
        if not size:
            break
        t_ns = time.perf_counter_ns()
        for line in data.split(b"\n"):
            if not line.startswith(b"data: {"):
                continue
            event = json.loads(line[6:])
            choices = event.get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                stamps.append(t_ns)
            if "timings" in event:
                prompt_ms = float(event["timings"]["prompt_ms"])
    writer.close()
    gaps = [(b - a) * 1e-9 for a, b in itertools.pairwise(stamps)]
    return (stamps[0] - sent_ns) * 1e-9, prompt_ms, gaps


async def raw(port: int, level: Level) -> Samples:
    samples = Samples()
    for wave in range(level.waves):
        streams = (raw_stream(port, f"q{wave}-{i}") for i in range(level.c))
        for ttft_s, prompt_ms, gaps in await asyncio.gather(*streams):
            assert len(gaps) == level.tokens - 1
            samples.add(ttft_s, prompt_ms, gaps, level)
    return samples


def measure(port: int, level: Level) -> None:
    import pytest_llmserver

    client = str(Path(pytest_llmserver.__file__).parent.parent)
    row = {"client": client, "ours": asyncio.run(ours(f"http://127.0.0.1:{port}", level)).summary()}
    row["raw"] = asyncio.run(raw(port, level)).summary()
    print(json.dumps(row), flush=True)


# The driver -----------------------------------------------------------------------------------


def pinned(cpu: int) -> Any:
    def pin() -> None:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpu})

    return pin


def cells(s: dict[str, float]) -> str:
    return "  ".join(
        f"{s[f'{name}_p50']:>+7.2f} / {s[f'{name}_p99']:>+7.2f}"
        for name in ("ttft", "ttft_sim", "itl")
    )


def run_level(level: Level, paths: list[str], server_cpu: int, client_cpu: int) -> bool:
    sim_args = [
        f"--ttft-ms={TTFT_MS}",
        f"--token-ms={level.gap_ms}",
        f"--answer-tokens={level.tokens}",
        "--reasoning-tokens=0",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sim = subprocess.Popen(
        [sys.executable, "-m", "pytest_llmserver.sim", "--port=0", *sim_args],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=pinned(server_cpu),
    )
    ok = True
    try:
        assert sim.stdout is not None
        port = int(sim.stdout.readline().rsplit(":", 1)[-1].strip().strip("/"))
        for path in paths:
            child = subprocess.run(
                [sys.executable, __file__, f"--measure={port}", f"--levels={level.c}"],
                env={**os.environ, "PYTHONPATH": str(Path(path).resolve())},
                capture_output=True,
                text=True,
                preexec_fn=pinned(client_cpu),
                check=True,
            )
            row = json.loads(child.stdout.splitlines()[-1])
            what = f"c={level.c}, {level.tokens} tok @ {level.gap_ms:g} ms"
            print(f"{what:<24} {'ours ' + row['client'][-22:]:<28} {cells(row['ours'])}")
            print(f"{'':<24} {'raw asyncio':<28} {cells(row['raw'])}")
            ours_s, raw_s = row["ours"], row["raw"]
            within = all(
                ours_s[k] <= TARGET_SHARE * max(raw_s[k], 1.0) for k in ("ttft_p50", "ttft_p99")
            )
            ok = within if path == paths[-1] else ok
    finally:
        sim.terminate()
        sim.wait(10)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,16,64,256")
    parser.add_argument("--client-path", action="append", default=[], help="a checkout to run")
    parser.add_argument("--measure", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    levels = [LEVELS[int(c)] for c in args.levels.split(",")]
    if args.measure:
        measure(args.measure, levels[0])
        return 0
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    loads = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"python {sys.version.split()[0]}; sim on cpu {cpus[-1]}, client on cpu {cpus[0]}; "
        f"injected TTFT {TTFT_MS:g} ms; load average {loads}"
    )
    print(
        f"{'level':<24} {'client':<28} {'TTFT err vs schedule':>17}  {'TTFT err vs sim':>17}  "
        f"{'ITL err vs schedule':>17}   (ms, p50 / p99)"
    )
    ok = True
    for level in levels:
        ok &= run_level(level, args.client_path or [str(ROOT)], cpus[-1], cpus[0])
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"target: TTFT error of ours within {TARGET_SHARE:g}x the raw reader's at p50 and p99")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
