"""The agent loop: model turns through ``ModelClient``, tool calls executed, results fed back."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from pytest_llmserver.client import LLMError, ModelClient
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
    """One model turn."""

    index: int
    latency_s: float | None
    ttft_s: float | None
    ttf_tool_call_s: float | None
    output_tokens: int
    finish_reason: str | None
    content: str
    reasoning: str
    tool_calls: int


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


async def run_agent_loop(
    client: ModelClient,
    task: AgentTask,
    *,
    max_tokens: int | None = None,
    enable_thinking: bool | None = None,
) -> Trajectory:
    """Run ``task`` to a final answer, an error, or the end of its iteration budget."""
    started_ns = time.perf_counter_ns()
    catalog = task.catalog()
    known = {spec.name: spec for spec in catalog}
    schemas = [spec.schema() for spec in catalog]
    state = ToolState()
    trajectory = Trajectory(task_id=task.task_id, model=client.model)
    messages = trajectory.messages
    if task.system_prompt:
        messages.append({"role": "system", "content": task.system_prompt})
    messages.append({"role": "user", "content": task.prompt})
    diagnostics = trajectory.diagnostics
    for index in range(task.max_iterations):
        try:
            response = await client.chat_with_tools(
                messages, schemas, max_tokens=max_tokens, enable_thinking=enable_thinking
            )
        except LLMError as exc:
            trajectory.error = str(exc)
            trajectory.error_class = exc.error_class
            break
        m = response.metrics
        trajectory.steps.append(
            StepRecord(
                index=index,
                latency_s=m.e2e_s,
                ttft_s=m.ttft_s,
                ttf_tool_call_s=m.ttf_tool_call_s,
                output_tokens=m.output_tokens,
                finish_reason=response.finish_reason,
                content=response.content,
                reasoning=response.reasoning,
                tool_calls=len(response.tool_calls),
            )
        )
        if not response.tool_calls:
            if looks_like_text_tool_call(response.content, known):
                diagnostics.text_tool_calls += 1
            if not response.content.strip():
                diagnostics.empty_responses += 1
            messages.append(response.assistant_message())
            trajectory.final_answer = response.content.strip()
            trajectory.answered = True
            break
        messages.append(response.assistant_message())
        for call in response.tool_calls:  # parallel calls of one turn, executed in order
            name = resolve_tool_name(call.name, known)
            state.calls[name] += 1
            call_started_ns = time.perf_counter_ns()
            spec = known.get(name)
            if call.arguments is None:
                diagnostics.malformed_args += 1
                result = json.dumps(
                    {"error": f"arguments are not a JSON object: {call.arguments_error}"}
                )
                is_error = True
            elif spec is None:
                diagnostics.unknown_tools += 1
                result = json.dumps(
                    {"error": f"unknown tool '{call.name}'; available: {', '.join(known)}"}
                )
                is_error = True
            else:
                result, is_error = execute(spec, call.arguments, state)
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
                    duration_s=(time.perf_counter_ns() - call_started_ns) * 1e-9,
                )
            )
            messages.append(client.tool_result_message(call, result))
    trajectory.wall_s = (time.perf_counter_ns() - started_ns) * 1e-9
    return trajectory
