"""Load engine: closed loop, and open loop on absolute deadlines with bounded in-flight
requests and graceful saturation; per-request records streamed to JSONL as they complete.

Times are ``time.perf_counter_ns()``; records carry seconds from the run start. An open-loop
request that starts late keeps its scheduled time, so the delay shows up as ``queue_s`` instead
of vanishing (no coordinated omission). One that cannot start within ``max_lag_s`` of its due
time, or before the schedule ends, is shed: not sent, and counted (see ``run_open_loop``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any

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
from pytest_llmserver.stress.records import TestResult
from pytest_llmserver.stress.sink import JsonlSink
from pytest_llmserver.stress.timing import NS, RunClock

SendFn = Callable[[int], Awaitable[ChatResponse]]


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


DEFAULT_MAX_LAG_S = 1.0
"""How late after its due time an open-loop request may still be sent (else it is shed)."""

Part = tuple[int, int]
"""``(k, n)``: the part of a schedule one process sends, items ``i`` with ``i % n == k``."""

WHOLE: Part = (0, 1)


@dataclass
class OpenLoopStats:
    """What the scheduler itself saw of its part of the schedule.

    ``due``: items of the schedule this part had to start; ``scheduled``: those it started
    (sent); ``shed_behind`` / ``shed_full``: those it shed because it reached them too late /
    because every slot stayed busy (see ``run_open_loop``). ``schedule_lag_s``: how late the
    scheduler reached each item that fell due while it was not waiting for a slot (the
    client's own lateness; a slot wait is queue time, not client lag). ``blocked``: items that
    found every slot busy (started after a wait, or shed). ``cancelled``: still running when
    the drain time ran out.
    """

    scheduled: int = 0
    schedule_lag_s: list[float] = field(default_factory=list)
    blocked: int = 0
    cancelled: int = 0
    due: int = 0
    shed_behind: int = 0
    shed_full: int = 0
    stopped: bool = False
    """A stop rule ended the schedule early (``stop`` returned True)."""

    @property
    def shed(self) -> int:
        """Items not sent."""
        return self.shed_behind + self.shed_full


_LAG_CAP = 1_000_000  # the scheduler keeps at most this many lag samples in memory


def _check_part(part: Part) -> None:
    k, n = part
    if n < 1 or not 0 <= k < n:
        raise ValueError(f"part must be (k, n) with 0 <= k < n, got {part}")


async def _schedule(
    start: Callable[[int, int], Coroutine[Any, Any, Any]],
    offsets_s: Iterable[float],
    *,
    clock: RunClock,
    duration_s: float | None,
    max_items: int | None,
    max_in_flight: int | None,
    max_lag_s: float | None,
    part: Part,
    drain_timeout_s: float,
    stop: Callable[[], bool] | None = None,
) -> OpenLoopStats:
    """Start ``start(index, due_ns)`` for each item of this part of the schedule (the rule is
    in ``run_open_loop``), then drain; every task ends before this returns. When ``stop()``
    turns true, no further item starts (``stopped`` is set) and the ones in flight drain."""
    _check_part(part)
    k, n = part
    stats = OpenLoopStats()
    flight = InFlight()
    end_ns = None if duration_s is None else clock.t0_ns + int(duration_s * NS)
    lag_ns = None if max_lag_s is None else int(max_lag_s * NS)
    waited_until_ns = 0  # when the last wait for a free slot ended
    try:
        for index, offset_s in enumerate(offsets_s):
            if max_items is not None and index >= max_items:
                break
            if duration_s is not None and offset_s >= duration_s:
                break
            if index % n != k:
                continue
            due_ns = clock.t0_ns + int(offset_s * NS)
            await sleep_until_ns(due_ns)
            if flight.error is not None:  # a request ended the run
                break
            if stop is not None and stop():
                stats.stopped = True
                break
            stats.due += 1
            reached_ns = time.perf_counter_ns()
            slot_bound = waited_until_ns > due_ns  # it fell due while the loop waited for a slot
            latest_ns = None if lag_ns is None else due_ns + lag_ns
            if end_ns is not None:
                latest_ns = end_ns if latest_ns is None else min(latest_ns, end_ns)
            if latest_ns is not None and reached_ns > latest_ns:
                if slot_bound:
                    stats.shed_full += 1
                else:
                    stats.shed_behind += 1
                continue
            if not slot_bound and len(stats.schedule_lag_s) < _LAG_CAP:
                stats.schedule_lag_s.append((reached_ns - due_ns) / NS)
            if max_in_flight is not None and len(flight.tasks) >= max_in_flight:
                stats.blocked += 1
                room = await flight.room(max_in_flight, latest_ns)
                waited_until_ns = time.perf_counter_ns()
                if flight.error is not None:
                    break
                if not room:
                    stats.shed_full += 1
                    continue
            flight.start(start(index, due_ns))
            stats.scheduled += 1
            await asyncio.sleep(0)  # it starts now, not after a burst of later ones
        stats.cancelled = await flight.drain(drain_timeout_s)
    finally:
        await flight.cancel()
    flight.raise_error()
    return stats


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
    max_lag_s: float | None = DEFAULT_MAX_LAG_S,
    part: Part = WHOLE,
    stop: Callable[[], bool] | None = None,
    ramp_s: float = 0.0,
) -> OpenLoopStats:
    """Start request ``i`` at ``clock.t0 + offsets_s[i]`` (absolute deadlines, no drift).

    Bounded by ``duration_s`` and/or ``max_requests`` (at least one is required) and by
    ``max_in_flight``. The rule, per request: it is sent at the first moment at or after its
    due time at which the scheduler runs and fewer than ``max_in_flight`` requests are in
    flight, and keeps its due time as ``scheduled_s`` (a wait shows up as queue time). It is
    shed instead (not sent, counted, no record) when that moment would come later than
    ``max_lag_s`` after its due time (``None``: no such bound) or after ``duration_s``:

    - ``shed_full``: every slot stayed busy until then, or it fell due while the scheduler
      was waiting for a slot (for an earlier request); requests do not finish fast enough
      (the server, or the client reading the answers).
    - ``shed_behind``: otherwise: the scheduler itself reached it too late; the client (its
      event loop) cannot keep the schedule.

    The schedule lag kept is how late the scheduler reached the requests that fell due while
    it was not waiting for a slot: the client's own lateness, not the server's.

    So the delivered rate stays at what the client and server can do, and nothing is sent
    after ``duration_s``; in-flight requests then get ``drain_timeout_s`` to finish, the rest
    are cancelled and counted. With ``part=(k, n)`` only requests ``i % n == k`` are sent (the
    others are another process's), each under its index ``i`` of the whole schedule.

    ``stop`` (e.g. a ``StopMonitor``) is asked before each request: once true, no more are
    sent. Requests due before ``ramp_s`` are recorded as warm-up (the ramp's), so they stay
    out of the steady-state statistics.
    """
    if duration_s is None and max_requests is None:
        raise ValueError("an open-loop run needs a duration or a request limit")
    if duration_s is not None and not duration_s > 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration_s}")
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be >= 1, got {max_in_flight}")

    ramp_end_ns = clock.t0_ns + int(ramp_s * NS)

    def start(index: int, due_ns: int) -> Coroutine[Any, Any, TestResult]:
        ramp = due_ns < ramp_end_ns
        return timed_request(send, index, clock=clock, sink=sink, scheduled_ns=due_ns, warmup=ramp)

    return await _schedule(
        start,
        offsets_s,
        clock=clock,
        duration_s=duration_s,
        max_items=max_requests,
        max_in_flight=max_in_flight,
        max_lag_s=max_lag_s,
        part=part,
        drain_timeout_s=drain_timeout_s,
        stop=stop,
    )


SessionFn = Callable[[int, int], Coroutine[Any, Any, None]]


async def run_sessions(
    session: SessionFn,
    offsets_s: Iterable[float],
    *,
    clock: RunClock,
    duration_s: float,
    max_sessions: int | None = None,
    drain_timeout_s: float = 60.0,
    max_lag_s: float | None = DEFAULT_MAX_LAG_S,
    part: Part = WHOLE,
    stop: Callable[[], bool] | None = None,
) -> OpenLoopStats:
    """Start ``session(session_id, due_ns)`` at each offset (absolute deadlines) for
    ``duration_s``, by ``run_open_loop``'s rule without an in-flight bound (a session that
    the scheduler reaches more than ``max_lag_s`` late is shed); give running sessions
    ``drain_timeout_s`` to end, then cancel them. ``scheduled`` counts the sessions started;
    ``stop`` as in ``run_open_loop`` (no new session once true)."""
    if not duration_s > 0:
        raise ValueError(f"duration must be > 0 seconds, got {duration_s}")
    return await _schedule(
        session,
        offsets_s,
        clock=clock,
        duration_s=duration_s,
        max_items=max_sessions,
        max_in_flight=None,
        max_lag_s=max_lag_s,
        part=part,
        drain_timeout_s=drain_timeout_s,
        stop=stop,
    )
