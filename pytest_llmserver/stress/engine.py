"""Load engine: closed loop, open loop on absolute deadlines with bounded in-flight requests,
an event-loop lag monitor, and per-request records streamed to JSONL as they complete.

Times are ``time.perf_counter_ns()``; records carry seconds from the run start. In open loop a
request that cannot start on time (back-pressure at ``max_in_flight``) keeps its scheduled time,
so the delay shows up as ``queue_s`` instead of vanishing (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

from pytest_llmserver._util import sleep_until_ns
from pytest_llmserver.client import (
    CANCELLED,
    CANCELLED_TEXT,
    INTERNAL,
    ChatMetrics,
    ChatResponse,
    LLMError,
    describe_failure,
)
from pytest_llmserver.stress.flight import InFlight
from pytest_llmserver.stress.records import JsonlSink, TestResult

ArrivalProcess = Literal["constant", "poisson", "gamma"]
SendFn = Callable[[int], Awaitable[ChatResponse]]

_NS = 1_000_000_000


def arrival_offsets_s(
    rate_per_s: float,
    process: ArrivalProcess = "constant",
    *,
    seed: int = 0,
    burstiness: float = 1.0,
) -> Iterator[float]:
    """Endless send times (seconds from start) at ``rate_per_s`` on average.

    ``poisson``: exponential gaps (CV 1). ``gamma``: gaps with coefficient of variation
    ``burstiness`` (> 1 bursty, < 1 smoother). ``constant``: exactly ``1 / rate`` apart.
    """
    if not rate_per_s > 0 or math.isinf(rate_per_s):
        raise ValueError(f"rate must be a positive number of requests per second, got {rate_per_s}")
    if process == "gamma" and not burstiness > 0:
        raise ValueError(f"burstiness must be > 0, got {burstiness}")
    mean_gap_s = 1.0 / rate_per_s
    if process == "constant":
        index = 0
        while True:
            yield index * mean_gap_s
            index += 1
    if process not in ("poisson", "gamma"):
        raise ValueError(f"unknown arrival process {process!r} (constant, poisson, gamma)")
    import numpy as np  # numpy only where it is used: the options import this module

    rng = np.random.default_rng(seed)
    shape = 1.0 if process == "poisson" else 1.0 / burstiness**2
    offset = 0.0
    while True:
        for gap in rng.gamma(shape, mean_gap_s / shape, size=1024):
            offset += float(gap)
            yield offset


class LoopLagMonitor:
    """Measures how late a 10 ms timer fires on this event loop, in a fixed-size histogram.

    A high p99 means the client itself is the bottleneck and its timings are inflated.
    """

    BIN_S = 0.0001
    BINS = 20_000  # 0.1 ms bins up to 2 s; later lags land in the last bin (max kept apart)

    def __init__(self, interval_s: float = 0.01) -> None:
        import numpy as np

        self.interval_s = interval_s
        self._counts = np.zeros(self.BINS, dtype=np.int64)
        self.max_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LoopLagMonitor:
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _watch(self) -> None:
        interval_ns = int(self.interval_s * _NS)
        due_ns = time.perf_counter_ns() + interval_ns
        while True:
            await asyncio.sleep(max(0.0, (due_ns - time.perf_counter_ns()) / _NS))
            lag_s = max(0.0, (time.perf_counter_ns() - due_ns) / _NS)
            self._counts[min(int(lag_s / self.BIN_S), self.BINS - 1)] += 1
            self.max_s = max(self.max_s, lag_s)
            due_ns = max(due_ns + interval_ns, time.perf_counter_ns())

    @property
    def samples(self) -> int:
        """Timer firings observed."""
        return int(self._counts.sum())

    def percentile_s(self, percent: float) -> float | None:
        """Upper edge of the bin holding the given percentile (None before any sample)."""
        total = self.samples
        if not total:
            return None
        rank = math.ceil(total * percent / 100.0)
        import numpy as np

        index = int(np.searchsorted(np.cumsum(self._counts), rank))
        return min((index + 1) * self.BIN_S, self.max_s)


class RunClock:
    """The run's time origin; converts perf_counter_ns stamps to seconds from it."""

    def __init__(self) -> None:
        self.t0_ns = time.perf_counter_ns()

    def reset(self) -> None:
        """Move the origin to now (after warm-up)."""
        self.t0_ns = time.perf_counter_ns()

    def seconds(self, t_ns: int) -> float:
        """Seconds from the origin."""
        return (t_ns - self.t0_ns) / _NS


async def timed_request(
    send: SendFn,
    index: int,
    *,
    clock: RunClock,
    sink: JsonlSink,
    scheduled_ns: int | None = None,
    warmup: bool = False,
    session_id: int | None = None,
    turn: int | None = None,
) -> TestResult:
    """Send request ``index`` and write its record, whatever happens.

    Our ``LLMError`` keeps its ``error_class`` and partial metrics; any other exception is
    ``INTERNAL`` with ``"<Type>: <message>"``; a cancellation (or an interrupt) is written as
    ``CANCELLED`` and raised again.
    """
    sink.started += 1
    sent_ns = time.perf_counter_ns()

    def finish(ok: bool, metrics: ChatMetrics, kind: str | None, error: str | None) -> TestResult:
        result = TestResult(
            index=index,
            warmup=warmup,
            scheduled_s=None if scheduled_ns is None else clock.seconds(scheduled_ns),
            sent_s=clock.seconds(sent_ns),
            end_s=clock.seconds(time.perf_counter_ns()),
            ok=ok,
            error_class=kind,
            error=error,
            session_id=session_id,
            turn=turn,
            metrics=metrics,
        )
        sink.write(result.to_record())
        return result

    try:
        response = await send(index)
        metrics = response.metrics
        if not isinstance(metrics, ChatMetrics):
            raise TypeError(f"a reply's metrics must be ChatMetrics, not {type(metrics).__name__}")
    except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
        finish(False, ChatMetrics(), CANCELLED, CANCELLED_TEXT)
        raise
    except LLMError as exc:
        partial = exc.metrics if isinstance(exc.metrics, ChatMetrics) else ChatMetrics()
        return finish(False, partial, exc.error_class, str(exc))
    except Exception as exc:
        return finish(False, ChatMetrics(), INTERNAL, describe_failure(exc))
    return finish(True, metrics, None, None)


async def run_warmup(send: SendFn, count: int, *, clock: RunClock, sink: JsonlSink) -> None:
    """``count`` requests one after another, recorded with ``warmup: true`` and not counted."""
    for index in range(count):
        await timed_request(send, -1 - index, clock=clock, sink=sink, warmup=True)


async def run_closed_loop(
    send: SendFn, *, total: int, concurrency: int, clock: RunClock, sink: JsonlSink
) -> None:
    """``total`` requests with exactly ``concurrency`` in flight until the last ones."""
    if total < 1 or concurrency < 1:
        raise ValueError(f"total and concurrency must be >= 1, got {total} and {concurrency}")
    indexes = iter(range(total))

    async def worker() -> None:
        for index in indexes:
            await timed_request(send, index, clock=clock, sink=sink)

    flight = InFlight()
    try:
        for _ in range(min(concurrency, total)):
            flight.start(worker())
        await flight.drain(None)
    finally:
        await flight.cancel()
    flight.raise_error()


@dataclass
class OpenLoopStats:
    """What the scheduler itself saw."""

    scheduled: int = 0
    schedule_lag_s: list[float] = field(default_factory=list)
    blocked: int = 0
    cancelled: int = 0


async def run_open_loop(
    send: SendFn,
    offsets_s: Iterable[float],
    *,
    clock: RunClock,
    sink: JsonlSink,
    duration_s: float | None = None,
    max_requests: int | None = None,
    max_in_flight: int = 256,
    drain_timeout_s: float = 60.0,
) -> OpenLoopStats:
    """Start request ``i`` at ``clock.t0 + offsets_s[i]`` (absolute deadlines, no drift).

    Bounded by ``duration_s`` and/or ``max_requests`` (at least one is required) and by
    ``max_in_flight``: when that many are running the scheduler waits, the request keeps its
    scheduled time and the wait shows up as queue time. In-flight requests get
    ``drain_timeout_s`` to finish after the schedule ends; the rest are cancelled and counted.
    """
    if duration_s is None and max_requests is None:
        raise ValueError("an open-loop run needs a duration or a request limit")
    if duration_s is not None and not duration_s > 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration_s}")
    stats = OpenLoopStats()
    slots = asyncio.Semaphore(max_in_flight)
    flight = InFlight(on_done=slots.release)
    # Only what the scheduler sees is kept in memory: at most one float per request, capped.
    lag_cap = 1_000_000
    try:
        for index, offset_s in enumerate(offsets_s):
            if max_requests is not None and index >= max_requests:
                break
            if duration_s is not None and offset_s >= duration_s:
                break
            due_ns = clock.t0_ns + int(offset_s * _NS)
            await sleep_until_ns(due_ns)
            if flight.error is not None:  # a request ended the run
                break
            if slots.locked():
                stats.blocked += 1
            await slots.acquire()
            if len(stats.schedule_lag_s) < lag_cap:
                stats.schedule_lag_s.append((time.perf_counter_ns() - due_ns) / _NS)
            flight.start(timed_request(send, index, clock=clock, sink=sink, scheduled_ns=due_ns))
            stats.scheduled += 1
        stats.cancelled = await flight.drain(drain_timeout_s)
    finally:
        await flight.cancel()
    flight.raise_error()
    return stats


SessionFn = Callable[[int, int], Coroutine[Any, Any, None]]


async def run_sessions(
    session: SessionFn,
    offsets_s: Iterable[float],
    *,
    clock: RunClock,
    duration_s: float,
    max_sessions: int | None = None,
    drain_timeout_s: float = 60.0,
) -> int:
    """Start ``session(session_id, due_ns)`` at each offset (absolute deadlines) for
    ``duration_s``; give running sessions ``drain_timeout_s`` to end, then cancel them.
    Returns the number of sessions started."""
    if not duration_s > 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration_s}")
    flight = InFlight()
    started = 0
    try:
        for session_id, offset_s in enumerate(offsets_s):
            if offset_s >= duration_s or (max_sessions is not None and session_id >= max_sessions):
                break
            due_ns = clock.t0_ns + int(offset_s * _NS)
            await sleep_until_ns(due_ns)
            if flight.error is not None:  # a session ended the run
                break
            flight.start(session(session_id, due_ns))
            started += 1
        await flight.drain(drain_timeout_s)
    finally:
        await flight.cancel()
    flight.raise_error()
    return started
