"""Memory over a long sustained run: 600 rpm against the simulator (in its own process) for
10 minutes by default. Records stream to disk, so the client's RSS should stay flat.

    python benchmarks/sustained_memory.py [--minutes 10] [--rpm 600]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from pytest_llmserver.sim import SimProcess
from pytest_llmserver.stress import StressTester


def rss_mb() -> float:
    """Resident set size of this process now, in MiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(url: str, rpm: float, minutes: float, out: Path) -> None:
    tester = StressTester({"url": url}, "sim-small", max_tokens=16, out_dir=out, warmup=1)
    samples: list[tuple[float, float]] = []

    async def sample() -> None:
        started = time.monotonic()
        while True:
            samples.append((time.monotonic() - started, rss_mb()))
            await asyncio.sleep(30)

    sampler = asyncio.create_task(sample())
    stats = await tester.run_sustained_load_test(rpm, minutes * 60)
    sampler.cancel()
    for at_s, mb in samples:
        print(f"  t={at_s:6.0f} s  RSS {mb:7.1f} MiB")
    s = stats.summary
    size_mb = stats.records_path.stat().st_size / 1e6
    print(f"requests ok {s.ok}, failed {s.failed}; records on disk: {size_mb:.1f} MB")
    print(
        f"RSS during the run: start {samples[0][1]:.1f} MiB, last sample {samples[-1][1]:.1f} MiB; "
        f"after the end-of-run summary (reads the records back): {rss_mb():.1f} MiB"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rpm", type=float, default=600.0)
    args = parser.parse_args()
    print(f"{args.rpm:g} rpm for {args.minutes:g} min against the simulator")
    sim = SimProcess("--ttft-ms=20", "--token-ms=5", "--answer-tokens=16")
    with sim as url, tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(url, args.rpm, args.minutes, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
