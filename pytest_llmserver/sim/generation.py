"""Turning a reply into timed tokens, and running them out with faults applied."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pytest_llmserver._util import sleep_until_ns
from pytest_llmserver.sim.config import Fault
from pytest_llmserver.sim.http import ResponseWriter
from pytest_llmserver.sim.metrics import Trace
from pytest_llmserver.sim.policy import SimReply
from pytest_llmserver.sim.tokens import split_arguments, split_tokens

PieceKind = Literal["reasoning", "content", "tool_header", "tool_args"]


@dataclass(frozen=True)
class Piece:
    """One generated token: its kind, its text and (for tool pieces) the call it belongs to."""

    kind: PieceKind
    text: str
    call_index: int = -1


@dataclass(frozen=True)
class PlannedCall:
    """A tool call of the reply with its id and its argument string."""

    index: int
    call_id: str
    name: str
    arguments: dict[str, Any] | str
    arguments_text: str


@dataclass(frozen=True)
class Plan:
    """The generated tokens of one reply, cut to the token limit."""

    pieces: tuple[Piece, ...]
    calls: tuple[PlannedCall, ...]
    truncated: bool
    reasoning_complete: bool

    @property
    def reasoning_tokens(self) -> int:
        """Generated reasoning tokens."""
        return sum(1 for p in self.pieces if p.kind == "reasoning")

    @property
    def has_tool_calls(self) -> bool:
        """Whether any part of a tool call was generated."""
        return any(p.kind == "tool_header" for p in self.pieces)

    @property
    def last_tool_index(self) -> int:
        """Index of the last tool-call token, or -1."""
        indices = [i for i, p in enumerate(self.pieces) if p.kind.startswith("tool_")]
        return indices[-1] if indices else -1

    def text_of(self, kind: PieceKind) -> str:
        """The generated text of one kind (``reasoning`` or ``content``)."""
        return "".join(p.text for p in self.pieces if p.kind == kind)

    def generated_calls(self) -> list[tuple[PlannedCall, str, bool]]:
        """Calls begun within the limit: (call, argument text generated, whether complete)."""
        out: list[tuple[PlannedCall, str, bool]] = []
        for call in self.calls:
            if not any(p.kind == "tool_header" and p.call_index == call.index for p in self.pieces):
                continue
            text = "".join(
                p.text for p in self.pieces if p.kind == "tool_args" and p.call_index == call.index
            )
            out.append((call, text, text == call.arguments_text))
        return out


def arguments_json(arguments: dict[str, Any] | str) -> str:
    """The argument string sent for a call: a ``str`` verbatim, a dict as JSON."""
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def build_plan(reply: SimReply, max_tokens: int | None, call_id_prefix: str) -> Plan:
    """Lay out the reply's tokens (reasoning, content, tool calls), cut at ``max_tokens``."""
    pieces: list[Piece] = [Piece("reasoning", t) for t in split_tokens(reply.reasoning)]
    reasoning_total = len(pieces)
    pieces.extend(Piece("content", t) for t in split_tokens(reply.content))
    calls: list[PlannedCall] = []
    for index, tool_call in enumerate(reply.tool_calls):
        text = arguments_json(tool_call.arguments)
        call_id = f"{call_id_prefix}{index:02d}"
        calls.append(PlannedCall(index, call_id, tool_call.name, tool_call.arguments, text))
        pieces.append(Piece("tool_header", tool_call.name, index))
        pieces.extend(Piece("tool_args", t, index) for t in split_arguments(text))
    truncated = max_tokens is not None and len(pieces) > max_tokens
    if max_tokens is not None:
        pieces = pieces[:max_tokens]
    reasoning_complete = reasoning_total > 0 and len(pieces) >= reasoning_total
    return Plan(tuple(pieces), tuple(calls), truncated, reasoning_complete)


def token_deadlines(
    start_s: float,
    count: int,
    first_s: float,
    per_token_s: float,
    jitter_s: float,
    rng: random.Random,
) -> list[float]:
    """Absolute loop-time deadlines: ``start + first + i*per_token`` plus uniform jitter."""
    deadlines: list[float] = []
    for i in range(count):
        deadline = start_s + first_s + i * per_token_s
        if jitter_s > 0.0:
            deadline += rng.uniform(-jitter_s, jitter_s)
        deadlines.append(max(deadline, start_s))
    return deadlines


@dataclass(frozen=True)
class GenerationStats:
    """What the simulator did for one reply, measured with ``perf_counter_ns``."""

    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    truncated: bool
    has_tool_calls: bool
    started_ns: int
    t0_ns: int
    first_token_ns: int | None
    last_token_ns: int | None
    end_ns: int
    cached_tokens: int = 0
    """Prompt tokens served from the prefix cache (counted in ``prompt_tokens`` too)."""
    queued_ns: int = 0
    """Time the request waited for a slot after its end was read."""

    @property
    def prefill_ns(self) -> int:
        """Start of service (end of request plus queue wait) to first generated token (to the
        end when nothing was generated)."""
        stop = self.first_token_ns if self.first_token_ns is not None else self.end_ns
        return stop - self.t0_ns - self.queued_ns

    @property
    def decode_ns(self) -> int:
        """First generated token to last generated token."""
        if self.first_token_ns is None or self.last_token_ns is None:
            return 0
        return self.last_token_ns - self.first_token_ns

    @property
    def load_ns(self) -> int:
        """First byte of the request to the end of the request."""
        return self.t0_ns - self.started_ns

    @property
    def total_ns(self) -> int:
        """First byte of the request to the end of the reply."""
        return self.end_ns - self.started_ns


class Emitter(Protocol):
    """Protocol-specific writer of one reply, driven by :func:`run_generation`."""

    async def begin(self) -> None:
        """Called at t0, before waiting for the first token."""
        ...

    async def token(self, index: int, piece: Piece) -> None:
        """Called at the deadline of token ``index``."""
        ...

    async def malformed(self) -> None:
        """Send one event whose JSON is broken."""
        ...

    async def error_event(self) -> None:
        """Report a server error inside the reply and end it."""
        ...

    async def finish(self, stats: GenerationStats) -> None:
        """Send the closing events of the reply."""
        ...


class WholeReply:
    """Mixin for non-streamed emitters: nothing is sent until ``finish``."""

    broken = False

    async def begin(self) -> None:
        """Nothing is sent before the reply is complete."""

    async def token(self, index: int, piece: Piece) -> None:
        """Tokens are taken from the plan at the end."""

    async def malformed(self) -> None:
        """Make the final body invalid JSON."""
        self.broken = True


@dataclass(frozen=True)
class FaultSettings:
    """The fault of one request and where it strikes."""

    fault: Fault
    after_tokens: int
    stall_s: float


async def _sleep_until(loop: asyncio.AbstractEventLoop, deadline_s: float) -> None:
    """Sleep until the loop-clock deadline ``deadline_s``."""
    await sleep_until_ns(time.perf_counter_ns() + int((deadline_s - loop.time()) * 1e9))


async def run_generation(
    plan: Plan,
    deadlines: list[float],
    emitter: Emitter,
    response: ResponseWriter,
    faults: FaultSettings,
    prompt_tokens: int,
    started_ns: int,
    t0_ns: int,
    *,
    cached_tokens: int = 0,
    queued_ns: int = 0,
    trace: Trace | None = None,
) -> None:
    """Write the plan's tokens at their deadlines, striking the fault after ``after_tokens``;
    ``cached_tokens`` of the ``prompt_tokens`` came from the prefix cache, the request waited
    ``queued_ns`` for a slot; ``trace`` counts each token as it is written."""
    loop = asyncio.get_running_loop()
    count = len(plan.pieces)
    strike_at = min(faults.after_tokens, count)
    shift_s = 0.0
    first_ns: int | None = None
    last_ns: int | None = None
    await emitter.begin()
    for i in range(count + 1):
        if i == strike_at:
            fault = faults.fault
            if fault is Fault.CLOSE_MID_STREAM:
                response.abort()
                return
            if fault is Fault.ERROR_EVENT:
                await emitter.error_event()
                return
            if fault is Fault.MALFORMED_EVENT:
                await emitter.malformed()
            elif fault is Fault.STALL:
                await asyncio.sleep(faults.stall_s)
                shift_s = faults.stall_s
        if i == count:
            break
        await _sleep_until(loop, deadlines[i] + shift_s)
        now_ns = time.perf_counter_ns()
        if first_ns is None:
            first_ns = now_ns
        last_ns = now_ns
        await emitter.token(i, plan.pieces[i])
        if trace is not None:
            trace.token(now_ns)
    stats = GenerationStats(
        prompt_tokens=prompt_tokens,
        completion_tokens=count,
        reasoning_tokens=plan.reasoning_tokens,
        truncated=plan.truncated,
        has_tool_calls=plan.has_tool_calls,
        started_ns=started_ns,
        t0_ns=t0_ns,
        first_token_ns=first_ns,
        last_token_ns=last_ns,
        end_ns=time.perf_counter_ns(),
        cached_tokens=cached_tokens,
        queued_ns=queued_ns,
    )
    await emitter.finish(stats)
    if trace is not None:
        trace.finish(stats.end_ns, "length" if stats.truncated else "stop")
