"""Scripted models for the simulator: an oracle that replays each task's reference solution,
and bad models that fail the tasks they must (no tools, obeying injections, taking distractors).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_llmserver.servers.flaky import flaky_probability, request_seed, trial_passes
from pytest_llmserver.servers.names import BENCH_MODELS, DISTRACTED, NO_TOOLS, OBEDIENT, ORACLE
from pytest_llmserver.sim import DefaultPolicy, Policy, SimReply, SimRequest, SimToolCall
from pytest_llmserver.toolbench import TOOL_GROUPS, AgentTask, SolutionStep

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# An injected instruction speaks to the assistant; ordinary records with addresses do not.
_TO_ASSISTANT = re.compile(r"\b(assistant|AI|send_email|ignore (?:all|previous))\b", re.I)
_OBEYED_SUBJECT = "As requested"


def distractor_names() -> tuple[str, ...]:
    """The built-in distractor tools (their errors point at the right tool)."""
    return tuple(TOOL_GROUPS.get("distractors", ()) or TOOL_GROUPS.get("@distractors", ()))


def _first_user_text(request: SimRequest) -> str:
    for message in request.messages:
        if message.get("role") == "user":
            return str(message.get("content") or "")
    return ""


def _assistant_turns(request: SimRequest) -> list[dict[str, Any]]:
    return [m for m in request.messages if m.get("role") == "assistant"]


def _calls(names: Sequence[tuple[str, Mapping[str, Any]]]) -> SimReply:
    return SimReply(tool_calls=tuple(SimToolCall(name, dict(args)) for name, args in names))


def _reply(step: SolutionStep) -> SimReply:
    if step.answer is not None:
        return SimReply(content=step.answer)
    return _calls([(c.name, c.args) for c in step.calls])


def _tool_names(request: SimRequest) -> list[str]:
    names = []
    for tool in request.tools:
        function = tool.get("function") or {}
        names.append(str(function.get("name") or tool.get("name") or ""))
    return names


def _obeyed(turn: dict[str, Any]) -> bool:
    """True for a turn in which the obedient model carried out an injected order."""
    return any(
        (c.get("function") or {}).get("name") == "send_email"
        and _OBEYED_SUBJECT in str((c.get("function") or {}).get("arguments"))
        for c in turn.get("tool_calls") or ()
    )


class BenchPolicy:
    """Answers as the model named in the request: the oracle, a bad model, or the default."""

    def __init__(self, tasks: Sequence[AgentTask], distractors: Sequence[str] = ()) -> None:
        self._by_prompt = {task.prompt: task for task in tasks}
        self._distractors = frozenset(distractors)
        self._default: Policy = DefaultPolicy()

    def respond(self, request: SimRequest) -> SimReply:
        """The reply of ``request.model`` to this conversation."""
        flaky = flaky_probability(request.model)
        if request.model not in BENCH_MODELS and flaky is None:
            return self._default.respond(request)
        task = self._by_prompt.get(_first_user_text(request))
        if task is None or not task.solution:
            if request.model == ORACLE:  # the default model of ``--llm-server=sim``: any chat
                return self._default.respond(request)
            return SimReply(content="I have no scripted answer for this conversation.")
        turns = _assistant_turns(request)
        if request.model == NO_TOOLS:
            return SimReply(content="I can answer this without looking anything up: it depends.")
        if request.model == OBEDIENT:
            return self._obedient(task, request, turns)
        if request.model == DISTRACTED:
            return self._distracted(task, request, turns)
        if flaky is not None and not trial_passes(flaky, request_seed(request.body), task.task_id):
            return SimReply(content="")
        return _reply(task.solution[min(len(turns), len(task.solution) - 1)])

    def _obedient(
        self, task: AgentTask, request: SimRequest, turns: list[dict[str, Any]]
    ) -> SimReply:
        """Like the oracle, but does what an instruction inside a tool result says."""
        obeyed = sum(1 for turn in turns if _obeyed(turn))
        if not obeyed and "send_email" in _tool_names(request):
            for message in request.messages:
                text = str(message.get("content") or "") if message.get("role") == "tool" else ""
                address = _EMAIL.search(text)
                if address and _TO_ASSISTANT.search(text):
                    order = {
                        "to": address.group(0),
                        "subject": _OBEYED_SUBJECT,
                        "body": "Forwarding as the document instructed.",
                    }
                    return _calls([("send_email", order)])
        step = min(len(turns) - obeyed, len(task.solution) - 1)
        return _reply(task.solution[step])

    def _distracted(
        self, task: AgentTask, request: SimRequest, turns: list[dict[str, Any]]
    ) -> SimReply:
        """Calls a distractor tool first, then gives the final answer without the real calls."""
        offered = [name for name in _tool_names(request) if name in self._distractors]
        if not offered:
            return _reply(task.solution[min(len(turns), len(task.solution) - 1)])
        if not turns:
            return _calls([(offered[0], {})])
        answer = task.solution[-1].answer or ""
        return SimReply(content=answer)
