"""The agent loop: model turns through ``ModelClient``, tool calls executed, results fed back."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_llmserver.client import (
    CANCELLED,
    CANCELLED_TEXT,
    INTERNAL,
    ChatMetrics,
    ChatResponse,
    LLMError,
    ModelClient,
    ToolCall,
    describe_failure,
)
from pytest_llmserver.toolbench.task import AgentTask
from pytest_llmserver.toolbench.tools.base import ToolSpec, ToolState
from pytest_llmserver.toolbench.tools.execute import execute

NAMESPACE_PREFIXES = ("functions.", "default_api.", "tools.", "tool.")


@dataclass
class ToolCallRecord:
    """One tool call: what the model sent, what the tool answered."""

    step: int
    name: str
    raw_name: str
    arguments: dict[str, Any] | None
    arguments_raw: str
    arguments_error: str | None
    result: str
    is_error: bool
    known_tool: bool
    duration_s: float

    @property
    def args(self) -> dict[str, Any] | None:
        """The parsed arguments (the seed's name for ``arguments``); None when malformed."""
        return self.arguments


@dataclass
class StepRecord:
    """One model turn; ``error_class`` and ``error`` when it failed (its figures then are what
    the turn measured before it failed); ``suspect`` names server figures outside physical
    ranges (dropped)."""

    index: int
    latency_s: float | None
    ttft_s: float | None
    ttf_tool_call_s: float | None
    output_tokens: int
    finish_reason: str | None
    content: str
    reasoning: str
    tool_calls: int
    error_class: str | None = None
    error: str | None = None
    suspect: list[str] = field(default_factory=list)

    @classmethod
    def measured(cls, index: int, metrics: ChatMetrics) -> StepRecord:
        """A turn with ``metrics`` and no reply (yet)."""
        return cls(
            index=index,
            latency_s=metrics.e2e_s,
            ttft_s=metrics.ttft_s,
            ttf_tool_call_s=metrics.ttf_tool_call_s,
            output_tokens=metrics.output_tokens,
            finish_reason=metrics.finish_reason,
            content="",
            reasoning="",
            tool_calls=0,
            suspect=list(metrics.suspect),
        )


@dataclass
class Diagnostics:
    """Signs of a model (or chat template) in trouble, counted over a run."""

    malformed_args: int = 0
    unknown_tools: int = 0
    empty_responses: int = 0
    text_tool_calls: int = 0

    def add(self, other: Diagnostics) -> None:
        """Sum another run's counts into this one."""
        self.malformed_args += other.malformed_args
        self.unknown_tools += other.unknown_tools
        self.empty_responses += other.empty_responses
        self.text_tool_calls += other.text_tool_calls


@dataclass
class Trajectory:
    """Everything one task run did: messages, turns, calls, answer, error."""

    task_id: str
    model: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    calls: list[ToolCallRecord] = field(default_factory=list)
    final_answer: str = ""
    answered: bool = False
    error: str | None = None
    error_class: str | None = None
    wall_s: float = 0.0
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    @property
    def iterations(self) -> int:
        """Model turns taken."""
        return len(self.steps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self) | {"iterations": self.iterations}


def resolve_tool_name(name: str, known: dict[str, ToolSpec]) -> str:
    """Strip a namespace prefix (``functions.x``, ``default_api.x``) when the rest is a tool."""
    if name in known:
        return name
    for prefix in NAMESPACE_PREFIXES:
        if name.startswith(prefix) and name[len(prefix) :] in known:
            return name[len(prefix) :]
    return name


_TEXT_CALL = re.compile(r"<tool_call>|\"name\"\s*:\s*\"([A-Za-z0-9_.\-]+)\"")


def looks_like_text_tool_call(content: str, known: dict[str, ToolSpec]) -> bool:
    """True when the answer text holds a tool call written as JSON (a broken chat template)."""
    for match in _TEXT_CALL.finditer(content):
        if match.group(0) == "<tool_call>":
            return True
        if resolve_tool_name(match.group(1), known) in known and "arguments" in content:
            return True
    return False


def failure(exc: BaseException) -> tuple[str, str, ChatMetrics]:
    """``(error_class, error, partial metrics)`` of the exception that ended a model turn:
    our ``LLMError`` as it is, a cancellation or interrupt as ``cancelled``, anything else as
    ``internal`` with ``"<Type>: <message>"`` on one line."""
    if isinstance(exc, LLMError):
        partial = exc.metrics if isinstance(exc.metrics, ChatMetrics) else ChatMetrics()
        return exc.error_class, str(exc), partial
    if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
        return CANCELLED, CANCELLED_TEXT, ChatMetrics()
    return INTERNAL, describe_failure(exc), ChatMetrics()


async def run_agent_loop(
    client: ModelClient,
    task: AgentTask,
    *,
    max_tokens: int | None = None,
    enable_thinking: bool | None = None,
    trajectory: Trajectory | None = None,
) -> Trajectory:
    """Run ``task`` to a final answer, an error, or the end of its iteration budget.

    Whatever a model turn raises ends the trajectory: the turn is kept as a failed step (with
    what it measured before it failed) and ``error_class`` is set (``internal`` for an
    unexpected exception). A tool's own failure is a tool error the model sees. A cancellation
    is recorded the same way (``cancelled``) and raised again; pass ``trajectory`` to keep
    what the loop did until then.
    """
    started_ns = time.perf_counter_ns()
    if trajectory is None:
        trajectory = Trajectory(task_id=task.task_id, model=client.model)
    index = -1
    try:
        turns = _Turns(client, task, trajectory)
        for index in range(task.max_iterations):
            response = await client.chat_with_tools(
                trajectory.messages,
                turns.schemas,
                max_tokens=max_tokens,
                enable_thinking=enable_thinking,
            )
            if turns.take(index, response):
                break
    except (Exception, asyncio.CancelledError, KeyboardInterrupt) as exc:
        kind, error, partial = failure(exc)
        steps = trajectory.steps
        if index >= 0 and len(steps) <= index:  # failed while asking: the turn's own step
            steps.append(StepRecord.measured(index, partial))
        if index >= 0:
            steps[-1].error_class, steps[-1].error = kind, error
        trajectory.error_class, trajectory.error = kind, error
        if kind == CANCELLED:
            raise
    finally:
        trajectory.wall_s = (time.perf_counter_ns() - started_ns) * 1e-9
    return trajectory


class _Turns:
    """What one task's loop keeps between turns: its tools, their state, the trajectory."""

    def __init__(self, client: ModelClient, task: AgentTask, trajectory: Trajectory) -> None:
        self.client = client
        catalog = task.catalog()
        self.known = {spec.name: spec for spec in catalog}
        self.schemas = [spec.schema() for spec in catalog]
        self.state = ToolState()
        self.trajectory = trajectory
        if task.system_prompt:
            trajectory.messages.append({"role": "system", "content": task.system_prompt})
        trajectory.messages.append({"role": "user", "content": task.prompt})

    def take(self, index: int, response: ChatResponse) -> bool:
        """Record turn ``index`` and run its tool calls; True when it was the final answer."""
        trajectory, known = self.trajectory, self.known
        step = StepRecord.measured(index, response.metrics)
        step.finish_reason = response.finish_reason
        step.content, step.reasoning = response.content, response.reasoning
        step.tool_calls = len(response.tool_calls)
        trajectory.steps.append(step)
        trajectory.messages.append(response.assistant_message())
        if not response.tool_calls:
            diagnostics = trajectory.diagnostics
            if looks_like_text_tool_call(response.content, known):
                diagnostics.text_tool_calls += 1
            if not response.content.strip():
                diagnostics.empty_responses += 1
            trajectory.final_answer = response.content.strip()
            trajectory.answered = True
            return True
        for call in response.tool_calls:  # parallel calls of one turn, executed in order
            self._call(index, call)
        return False

    def _call(self, index: int, call: ToolCall) -> None:
        trajectory, known = self.trajectory, self.known
        name = resolve_tool_name(call.name, known)
        self.state.calls[name] += 1
        started_ns = time.perf_counter_ns()
        spec = known.get(name)
        if call.arguments is None:
            trajectory.diagnostics.malformed_args += 1
            error = f"arguments are not a JSON object: {call.arguments_error}"
            result, is_error = json.dumps({"error": error}), True
        elif spec is None:
            trajectory.diagnostics.unknown_tools += 1
            error = f"unknown tool '{call.name}'; available: {', '.join(known)}"
            result, is_error = json.dumps({"error": error}), True
        else:
            result, is_error = execute(spec, call.arguments, self.state)
        trajectory.calls.append(
            ToolCallRecord(
                step=index,
                name=name,
                raw_name=call.name,
                arguments=call.arguments,
                arguments_raw=call.arguments_raw,
                arguments_error=call.arguments_error,
                result=result,
                is_error=is_error,
                known_tool=spec is not None,
                duration_s=(time.perf_counter_ns() - started_ns) * 1e-9,
            )
        )
        trajectory.messages.append(self.client.tool_result_message(call, result))
