"""Memory and time of the client against hostile bodies: a 300 MB error body, a gzip bomb and a
32 MB single event, offered by the hostile server (``tests/hostile``), plus a 15 MiB event the
caps allow (linear-time assembly).

Each case runs ``ModelClient.complete`` in a fresh child process; the parent samples the
child's RSS and stops it after ``--limit`` seconds. ``--client-path DIR`` runs the children on
another checkout's client (e.g. one from before the caps) to compare.

    python benchmarks/hostile_bodies.py [--limit 60] [--client-path DIR]

The caps in force (``pytest_llmserver.client.limits``): error body 64 KiB read, one line or
event 16 MiB, decoded stream 256 MiB, decompressed piece 1 MiB. Benchmarks print figures; they
are not tests.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = (
    ("error body, 300 MB offered", "huge_error_body", "openai"),
    ("gzip bomb, 10 GB when inflated", "gzip_bomb", "openai"),
    ("one 32 MB event", "huge_line", "openai"),
    ("one 15 MiB event (under the cap)", "long_event_under_cap", "openai"),
)


def child(url: str, api: str) -> None:
    """Run one request and print what happened as JSON (the parent measures memory)."""
    import resource

    from pytest_llmserver.client import ModelClient, Timeouts

    async def go() -> str:
        async with ModelClient(
            {"url": url, "type": api}, "hostile-small", timeouts=Timeouts.from_total(600)
        ) as client:
            response = await client.complete([{"role": "user", "content": "hi"}])
        return f"ok, {len(response.content)} characters"

    started = time.perf_counter()
    try:
        outcome = asyncio.run(go())
    except Exception as exc:
        outcome = f"{type(exc).__name__}: {str(exc).replace(url, 'URL')[:80]}"
    elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"outcome": outcome, "elapsed_s": elapsed, "peak_mb": peak_mb}))


def measure(url: str, api: str, limit_s: float, client_path: str | None) -> dict[str, object]:
    """One case in a child process, stopped after ``limit_s``; RSS sampled every 20 ms."""
    import psutil

    env = dict(os.environ, PYTHONPATH=client_path or str(ROOT))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", url, api],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    peak = 0
    watched = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            break
        if time.perf_counter() - started > limit_s:
            proc.kill()
            proc.wait()
            return {
                "outcome": f"still running after {limit_s:g} s: stopped",
                "elapsed_s": limit_s,
                "peak_mb": peak / 2**20,
            }
        time.sleep(0.02)
    out, _ = proc.communicate()
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    result["peak_mb"] = max(float(result["peak_mb"]), peak / 2**20)  # type: ignore[arg-type]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=60.0)
    parser.add_argument("--client-path", default=None)
    parser.add_argument("--child", nargs=2, metavar=("URL", "API"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    sys.path.insert(0, str(ROOT))
    from tests.hostile.server import HostileServer, HostileThread

    client = args.client_path or "this checkout"
    print(f"python {sys.version.split()[0]}; client from {client}; stopped after {args.limit:g} s")
    print(f"{'case':<34} {'time s':>8} {'peak RSS MB':>12}  outcome")
    with HostileThread(HostileServer()) as server:
        for label, fault, api in CASES:
            result = measure(server.url_for(fault), api, args.limit, args.client_path)
            print(
                f"{label:<34} {float(result['elapsed_s']):>8.2f} "  # type: ignore[arg-type]
                f"{float(result['peak_mb']):>12.0f}  {result['outcome']}"  # type: ignore[arg-type]
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
