"""Worker processes on one host: one open-loop schedule split over N processes of our own.

Process ``k`` of ``N`` sends the items ``i % N == k`` of the one schedule (same arrival
process, same seed), each under its index ``i``; all start on one origin agreed through a
``MeetingService`` in this process, and each writes its own JSONL. The records are merged
exactly (every record of every process, tagged ``worker``, shifted onto one clock) and give one
summary, so percentiles come from all samples; the scheduler's figures are added up, its lag
p99 and the event-loop lag are computed over all processes' samples.

Each process is ``python -m pytest_llmserver.stress.child`` in a session of its own, told its
job on stdin, which stays open: it stops (recording what is in flight as cancelled) when this
process closes stdin (or dies), on SIGTERM, or past the job's time bound.
"""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_llmserver.stress.meeting import MeetingService
from pytest_llmserver.stress.modes.tester import StressTester
from pytest_llmserver.stress.workload import session_profile

SPLIT_MODES = {"run_sustained_load_test": "sustained", "run_realistic_user_test": "realistic_user"}
"""The modes whose schedule can be split over processes, and their record-file names."""

STOP_GRACE_S = 10.0
"""How long a stopped worker may take to record what it had in flight."""

RecordHook = Callable[[dict[str, Any], int | None], None]


@dataclass(frozen=True)
class ModeCall:
    """One call of a ``StressTester`` mode method, as data that can cross to a process."""

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def capture(cls, call: Callable[[StressTester], Any]) -> ModeCall | None:
        """What ``call`` does when it is one call of a mode method (e.g. ``lambda t:
        t.run_sustained_load_test(120, 10)``); None for anything else."""
        try:
            captured = call(_Recorder())  # type: ignore[arg-type]
        except Exception:  # anything but one plain mode call
            return None
        return captured if isinstance(captured, ModeCall) else None

    @property
    def mode(self) -> str | None:
        """The mode's name when its schedule can be split over processes, else None."""
        return SPLIT_MODES.get(self.method)

    def arguments(self) -> dict[str, Any]:
        """The call's arguments by name, defaults filled in."""
        bound = inspect.signature(getattr(StressTester, self.method)).bind(
            None, *self.args, **self.kwargs
        )
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k != "tester"}

    def rate_per_s(self) -> float | None:
        """The request rate it asks for (realistic users: sessions per second times the
        profile's mean turns); None for a mode without a rate."""
        given = self.arguments()
        if self.method == "run_sustained_load_test":
            return float(given["rpm"]) / 60.0
        if self.method == "run_realistic_user_test":
            return float(given["arrival_rate"]) * session_profile(given["profile"]).mean_turns
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"method": self.method, "args": list(self.args), "kwargs": self.kwargs}


class _Recorder:
    """Stands in for a tester: each ``run_*`` method returns the call as a ``ModeCall``."""

    def __getattr__(self, name: str) -> Callable[..., ModeCall]:
        if not (name.startswith("run_") and callable(getattr(StressTester, name, None))):
            raise AttributeError(name)
        return lambda *args, **kwargs: ModeCall(name, args, kwargs)


@dataclass
class WorkerResult:
    """What one worker process reported (see ``child.py``): its run's ``TestStats`` as a dict,
    its scheduler's lag samples, its event-loop lag histogram, and how it met the others."""

    part: int
    stats: dict[str, Any]
    schedule_lag_s: list[float]
    loop_lag_counts: dict[str, int]
    meeting: dict[str, Any]

    @classmethod
    def read(cls, path: Path) -> WorkerResult:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})

    @property
    def origin_s(self) -> float:
        """The run's origin on the meeting service's clock."""
        return float(self.stats["t0_unix_s"]) - float(self.meeting.get("offset_s") or 0.0)


def worker_count(
    requested: int | None, rate_per_s: float | None, capacity_per_s: float | None, cores: int
) -> int:
    """Processes for a run: ``requested`` when given; else (``auto``) enough for
    ``rate_per_s`` with each process at most at ``AUTO_LOAD`` of ``capacity_per_s``, capped
    at ``cores``; 1 without a rate or a capacity."""
    if requested is not None:
        return requested
    if rate_per_s is None or not capacity_per_s:
        return 1
    wanted = -(-rate_per_s // (capacity_per_s * AUTO_LOAD))
    return int(max(1, min(cores, wanted)))


AUTO_LOAD = 0.7
"""The share of its calibrated capacity ``auto`` gives each process (a saturated client
inflates its timings)."""


def usable_cores() -> int:
    """Cores this process may run on."""
    getter = getattr(os, "sched_getaffinity", None)
    return len(getter(0)) if getter is not None else os.cpu_count() or 1


class WorkerPool:
    """Runs ``call`` as ``workers`` processes sharing its schedule (see the module docstring).

    ``tester`` holds the ``StressTester`` keyword arguments every process gets (``out_dir``,
    ``run_id``, ``seed``, ...); process ``k``'s records go to ``<stem>-w<k+1>of<N>.jsonl``.
    ``run()`` returns the results; when interrupted it stops the processes, keeps what they
    reported in ``results`` and raises ``KeyboardInterrupt`` again.
    """

    def __init__(
        self,
        server: Mapping[str, Any],
        model: str,
        tester: Mapping[str, Any],
        call: ModeCall,
        workers: int,
        *,
        max_wall_s: float,
        on_record: RecordHook | None = None,
        meeting_timeout_s: float = 60.0,
    ) -> None:
        if call.mode is None:
            raise ValueError(f"{call.method} cannot be split over worker processes")
        self.server = dict(server)
        self.model = model
        self.tester = dict(tester)
        self.call = call
        self.workers = workers
        self.max_wall_s = max_wall_s
        self.on_record = on_record
        self.meeting_timeout_s = meeting_timeout_s
        self.out_dir = Path(self.tester["out_dir"])
        self.results: list[WorkerResult] = []
        self._procs: list[subprocess.Popen[bytes]] = []

    def run_id(self, part: int) -> str:
        """The run id of process ``part``'s records and result."""
        base = str(self.tester.get("run_id") or "")
        label = f"w{part + 1}of{self.workers}"
        return f"{base}-{label}" if base else label

    def records_path(self, part: int) -> Path:
        """Where process ``part`` writes its records."""
        return self.out_dir / f"stress-{self.call.mode}-{self.run_id(part)}.jsonl"

    def _result_path(self, part: int) -> Path:
        return self.out_dir / f".stress-{self.call.mode}-{self.run_id(part)}.result.json"

    def run(self) -> list[WorkerResult]:
        """Start the processes, wait for them (feeding ``on_record``), collect results."""
        with MeetingService() as service:
            for part in range(self.workers):
                self._start(part, service.address)
            try:
                self._wait()
            except BaseException:
                self._stop()
                raise
            finally:
                self._collect()
        return self.results

    def _start(self, part: int, address: str) -> None:
        job = {
            "server": self.server,
            "model": self.model,
            "tester": {**self.tester, "run_id": self.run_id(part), "out_dir": str(self.out_dir)},
            "call": self.call.to_dict(),
            "part": [part, self.workers],
            "meeting": {
                "address": address,
                "group": self.run_id(0),
                "timeout_s": self.meeting_timeout_s,
            },
            "result": str(self._result_path(part)),
            "max_wall_s": self.max_wall_s,
        }
        self._result_path(part).unlink(missing_ok=True)
        log = (self.out_dir / f".stress-{self.call.mode}-{self.run_id(part)}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest_llmserver.stress.child"],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches this process, which stops it
        )
        log.close()
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(job).encode() + b"\n")
        proc.stdin.flush()
        self._procs.append(proc)

    def _wait(self) -> None:
        tails = [_Tail(self.records_path(k)) for k in range(self.workers)]
        deadline = time.monotonic() + self.max_wall_s + STOP_GRACE_S
        while True:
            for tail in tails:
                tail.feed(self.on_record)
            codes = [proc.poll() for proc in self._procs]
            failed = [k for k, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                raise RuntimeError(self._failure(failed[0]))
            if all(code == 0 for code in codes):
                for tail in tails:
                    tail.feed(self.on_record)
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"worker processes still ran {self.max_wall_s + STOP_GRACE_S:.0f} s "
                    "after they started; stopped"
                )
            time.sleep(0.05)

    def _failure(self, part: int) -> str:
        log = self.out_dir / f".stress-{self.call.mode}-{self.run_id(part)}.log"
        lines = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        last = lines[-1] if lines else "no output"
        code = self._procs[part].returncode
        return f"worker process {part + 1}/{self.workers} failed (exit code {code}): {last}"

    def _stop(self) -> None:
        """Ask every running process to stop, wait for them to record what was in flight,
        then kill what is left."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for proc in self._procs:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _collect(self) -> None:
        for proc in self._procs:
            if proc.stdin is not None:
                proc.stdin.close()
        self.results = [
            WorkerResult.read(self._result_path(k))
            for k in range(self.workers)
            if self._result_path(k).is_file()
        ]


class _Tail:
    """Reads the complete lines a records file gained since the last look."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._rest = b""

    def feed(self, on_record: RecordHook | None) -> None:
        if on_record is None or not self.path.is_file():
            return
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            data = handle.read()
        self._offset += len(data)
        *lines, self._rest = (self._rest + data).split(b"\n")
        for line in lines:
            if line.strip():
                on_record(json.loads(line), None)
