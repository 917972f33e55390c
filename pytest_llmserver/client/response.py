"""What a chat request returns, and the builder both protocol decoders feed."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pytest_llmserver.client._checks import ShapeError, bad, need_dict, need_list, opt_dict, opt_str
from pytest_llmserver.client.limits import MAX_TOOL_CALL_CHARS, MAX_TOOL_CALLS
from pytest_llmserver.client.metrics import ChatMetrics, ServerCounts, StreamClock
from pytest_llmserver.client.protocols import chat_api
from pytest_llmserver.client.thinking import ThinkTagParser


@dataclass
class ToolCall:
    """One tool call as the model emitted it. ``name`` keeps any namespace prefix."""

    index: int
    id: str
    name: str
    arguments: dict[str, Any] | None
    arguments_raw: str
    arguments_error: str | None = None

    @property
    def malformed(self) -> bool:
        """True when the arguments were not a JSON object."""
        return self.arguments_error is not None


def parse_arguments(raw: object) -> tuple[dict[str, Any] | None, str, str | None]:
    """Return (arguments, raw text, error) for arguments given as a JSON string or an object."""
    if isinstance(raw, dict):
        return raw, json.dumps(raw, ensure_ascii=False), None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return {}, "" if raw is None else raw, None
    if not isinstance(raw, str):
        text = json.dumps(raw, ensure_ascii=False)
        return None, text, f"arguments are a JSON {type(raw).__name__}, not an object"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, raw, f"malformed JSON arguments: {exc.msg} at char {exc.pos}"
    if not isinstance(value, dict):
        return None, raw, f"arguments are a JSON {type(value).__name__}, not an object"
    return value, raw, None


@dataclass
class ChatResponse:
    """A finished reply: answer and reasoning kept apart, tool calls, and the metrics."""

    content: str
    reasoning: str
    tool_calls: list[ToolCall]
    finish_reason: str | None
    metrics: ChatMetrics
    api: str

    def assistant_message(self) -> dict[str, Any]:
        """This reply as a history message in its server's own format."""
        return chat_api(self.api).assistant_message(self.content, self.tool_calls)


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    pieces: list[str] = field(default_factory=list)
    whole: object = None
    size: int = 0


class ResponseBuilder:
    """Collects one response: stamps events, splits reasoning, assembles tool calls.

    Streamed OpenAI tool-call deltas are joined by ``index``. A delta whose non-empty ``id``
    differs from the id already at its index starts a new call there (some servers send
    parallel calls all at index 0): two calls are never merged into one name.
    """

    __slots__ = (
        "_calls",
        "_open",
        "_reasoning",
        "_think",
        "answer_parts",
        "clock",
        "counts",
        "finish_reason",
    )

    def __init__(self, *, parse_think_tags: bool = True) -> None:
        self.clock = StreamClock()
        self.counts = ServerCounts()
        self.finish_reason: str | None = None
        self._think = ThinkTagParser() if parse_think_tags else None
        self.answer_parts: list[str] = []
        self._reasoning: list[str] = []
        self._calls: list[_PendingCall] = []
        self._open: dict[int, _PendingCall] = {}

    def text(self, t_ns: int, reasoning: str, content: str) -> str:
        """Record generated text; return the answer part of it (think tags removed)."""
        if not reasoning and not content:
            return ""
        if content and self._think is not None:
            inline_reasoning, content = self._think.feed(content)
            if inline_reasoning:
                reasoning += inline_reasoning
            in_reasoning = bool(inline_reasoning) or self._think.inside
        else:
            in_reasoning = bool(reasoning)
        self.clock.token(t_ns, answer=bool(content.strip()), reasoning=in_reasoning)
        if reasoning:
            self._reasoning.append(reasoning)
        if content:
            self.answer_parts.append(content)
        return content

    def _new_call(self, call_id: str = "", whole: object = None) -> _PendingCall:
        if len(self._calls) >= MAX_TOOL_CALLS:
            raise ShapeError(f"more than {MAX_TOOL_CALLS} tool calls in one reply")
        call = _PendingCall(id=call_id, whole=whole)
        self._calls.append(call)
        return call

    @staticmethod
    def _grow(call: _PendingCall, size: int) -> None:
        call.size += size
        if call.size > MAX_TOOL_CALL_CHARS:
            name = call.name[:40]
            raise ShapeError(f"tool call {name!r} is longer than {MAX_TOOL_CALL_CHARS} characters")

    def tool_delta(self, t_ns: int, index: int, call_id: str, name: str, piece: str) -> None:
        """One streamed OpenAI tool-call delta, assembled by ``index``."""
        call = self._open.get(index)
        if call is None or (call_id and call.id and call_id != call.id):
            call = self._open[index] = self._new_call(call_id)
        elif call_id:
            call.id = call_id
        if name or piece:
            self._grow(call, len(name) + len(piece))
            call.name += name
            if piece:
                call.pieces.append(piece)
        self.clock.tool_call(t_ns)

    def tool_whole(self, t_ns: int, name: str, arguments: object, call_id: str = "") -> None:
        """A complete tool call (Ollama, or a non-streamed reply)."""
        call = self._new_call(call_id, arguments)
        call.name = name
        size = len(arguments) if isinstance(arguments, str) else 0
        if isinstance(arguments, dict):
            size = len(json.dumps(arguments, ensure_ascii=False))
        self._grow(call, len(name) + size)
        self.clock.tool_call(t_ns)

    def whole_tool_calls(self, t_ns: int, calls: object, where: str) -> None:
        """Complete calls shaped ``{"id": ..., "function": {"name": ..., "arguments": ...}}``
        (``where`` names the field in errors)."""
        if calls is None:
            return
        for i, raw in enumerate(need_list(calls, where)):
            at = f"{where}[{i}]."
            call = need_dict(raw, at[:-1])
            function = opt_dict(call, "function", at) or {}
            arguments = function.get("arguments")
            if arguments is not None and type(arguments) not in (str, dict):
                raise bad(f"{at}function.arguments", arguments, "a string or an object")
            name = opt_str(function, "name", f"{at}function.") or ""
            self.tool_whole(t_ns, name, arguments, opt_str(call, "id", at) or "")

    def flush_text(self, t_ns: int) -> str:
        """Release text the think parser held back; return its answer part."""
        if self._think is None:
            return ""
        reasoning, content = self._think.flush()
        if reasoning:
            self._reasoning.append(reasoning)
        if content:
            self.answer_parts.append(content)
        return content

    def build(self, metrics: ChatMetrics, api: str) -> ChatResponse:
        """The finished response; ``metrics`` must already be completed by the caller."""
        calls = []
        for index, pending in enumerate(self._calls):
            raw: object = pending.whole if pending.whole is not None else "".join(pending.pieces)
            arguments, raw_text, error = parse_arguments(raw)
            calls.append(
                ToolCall(
                    index=index,
                    id=pending.id or f"call_{index}",
                    name=pending.name,
                    arguments=arguments,
                    arguments_raw=raw_text,
                    arguments_error=error,
                )
            )
        return ChatResponse(
            content="".join(self.answer_parts),
            reasoning="".join(self._reasoning),
            tool_calls=calls,
            finish_reason=self.finish_reason,
            metrics=metrics,
            api=api,
        )
