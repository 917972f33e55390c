"""One worker process of a split run: ``python -m pytest_llmserver.stress.child``.

Reads its job (one JSON line, see ``WorkerPool``) from stdin, meets the other processes, runs
its part of the mode and writes its result file. It stops early, recording what it has in
flight as cancelled, on SIGTERM or SIGINT, when stdin ends (the controlling process closed
it or died) or past the job's ``max_wall_s``; the result then says ``interrupted``. Exit code 0
whenever the result was written.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from pytest_llmserver._util import atomic_write
from pytest_llmserver.stress.meeting import Meeting, meet
from pytest_llmserver.stress.modes.tester import StressTester


def _watch_stdin(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` once stdin ends (in a thread: a blocking read)."""

    def read() -> None:
        while sys.stdin.buffer.read(65536):
            pass
        loop.call_soon_threadsafe(task.cancel)

    threading.Thread(target=read, name="llm-stdin", daemon=True).start()


async def run_job(job: dict[str, Any]) -> dict[str, Any]:
    """Run the job's part of its mode; the result to write (also when stopped early)."""
    k, n = job["part"]
    meeting: list[Meeting] = []

    async def before_start() -> float:
        where = job["meeting"]
        met = await meet(where["address"], where["group"], k, n, timeout_s=where["timeout_s"])
        meeting.append(met)
        return met.start_s

    tester = StressTester(
        job["server"],
        job["model"],
        **{**job["tester"], "out_dir": Path(job["tester"]["out_dir"])},
        before_start=before_start,
        write_report=False,
        part=(k, n),
    )
    call = job["call"]
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    _watch_stdin(loop, task)
    loop.call_later(float(job["max_wall_s"]), task.cancel)
    try:
        await getattr(tester, call["method"])(*call["args"], **call["kwargs"])
    except asyncio.CancelledError:
        if tester.stats is None:  # stopped before the run began: nothing to report
            raise
    stats = tester.stats
    assert stats is not None
    met = meeting[0] if meeting else None
    if met is not None and met.note:
        stats.notes.append(met.note)
    return {
        "part": k,
        "stats": stats.to_dict(),
        "schedule_lag_s": [] if tester.schedule is None else tester.schedule.schedule_lag_s,
        "loop_lag_counts": {} if tester.loop_lag is None else tester.loop_lag.counts(),
        "meeting": {} if met is None else {"offset_s": met.offset_s, "rtt_s": met.rtt_s},
    }


def main() -> int:
    """Read the job, run it, write the result."""
    job = json.loads(sys.stdin.buffer.readline())
    result = asyncio.run(run_job(job))
    atomic_write(Path(job["result"]), json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # not sys.exit: the thread blocked reading stdin would abort the shutdown
