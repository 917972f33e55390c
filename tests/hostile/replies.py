"""What a well-behaved server would send, as lists of events that faults then mutate.

An event is a JSON-ready ``dict`` (encoded here) or ready-made ``bytes`` (a payload sent as it
is, for events that are not JSON or not lawful JSON). ``frame`` wraps each event as SSE
(``data: ...`` plus a blank line) or NDJSON (one line).
"""

from __future__ import annotations

import json
from typing import Any, Literal

Api = Literal["openai", "ollama"]
Event = dict[str, Any] | bytes

MODELS = ("hostile-small", "hostile-tools")
ANSWER = "Hello world"
PROMPT_TOKENS, COMPLETION_TOKENS = 5, 3

_HEAD = {"id": "chatcmpl-hostile", "object": "chat.completion.chunk", "model": MODELS[0]}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {**_HEAD, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _openai_usage() -> dict[str, Any]:
    """The closing chunk: usage with llama.cpp timings, no choices."""
    return {
        **_HEAD,
        "choices": [],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
        },
        "timings": {
            "prompt_n": PROMPT_TOKENS,
            "prompt_ms": 4.0,
            "prompt_per_second": 1250.0,
            "predicted_n": COMPLETION_TOKENS,
            "predicted_ms": 2.0,
            "predicted_per_second": 1000.0,
        },
    }


def openai_text() -> list[Event]:
    """Role chunk, two content chunks, the finish chunk, then usage with llama.cpp timings."""
    return [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Hello"}),
        _chunk({"content": " world"}),
        _chunk({}, "stop"),
        _openai_usage(),
        b"[DONE]",
    ]


def openai_tools() -> list[Event]:
    """Two streamed tool calls (calculator at index 0, get_weather at index 1), then usage."""

    def call(index: int, **fields: Any) -> dict[str, Any]:
        return _chunk({"tool_calls": [{"index": index, **fields}]})

    return [
        _chunk({"role": "assistant", "content": None}),
        call(0, id="call_a", type="function", function={"name": "calculator", "arguments": ""}),
        call(0, function={"arguments": '{"expression": "2+2"}'}),
        call(1, id="call_b", type="function", function={"name": "get_weather", "arguments": ""}),
        call(1, function={"arguments": '{"city": "Oslo"}'}),
        _chunk({}, "tool_calls"),
        _openai_usage(),
        b"[DONE]",
    ]


def _line(content: str, **message: Any) -> dict[str, Any]:
    return {
        "model": MODELS[0],
        "created_at": "2026-11-30T00:00:00Z",
        "message": {"role": "assistant", "content": content, **message},
        "done": False,
    }


def ollama_final(**changes: Any) -> dict[str, Any]:
    """Ollama's closing line with counts and nanosecond durations."""
    final = {
        **_line(""),
        "done": True,
        "done_reason": "stop",
        "total_duration": 9_000_000,
        "load_duration": 1_000_000,
        "prompt_eval_count": PROMPT_TOKENS,
        "prompt_eval_duration": 4_000_000,
        "eval_count": COMPLETION_TOKENS,
        "eval_duration": 2_000_000,
    }
    final.update(changes)
    return final


def ollama_text() -> list[Event]:
    """Two content lines, then the final line."""
    return [_line("Hello"), _line(" world"), ollama_final()]


def ollama_tools() -> list[Event]:
    """One line with two whole tool calls, then the final line."""
    calls = [
        {"function": {"name": "calculator", "arguments": {"expression": "2+2"}}},
        {"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}},
    ]
    return [_line("", tool_calls=calls), ollama_final()]


def healthy(api: Api, tools: bool = False) -> list[Event]:
    """The healthy event list of ``api``."""
    if api == "openai":
        return openai_tools() if tools else openai_text()
    return ollama_tools() if tools else ollama_text()


def encode(event: Event) -> bytes:
    """An event's payload bytes."""
    return event if isinstance(event, bytes) else json.dumps(event).encode()


def frame(api: Api, event: Event, end: bytes = b"\n") -> bytes:
    """One event framed for its protocol, with ``end`` as the line terminator."""
    payload = encode(event)
    if api == "openai":
        return b"data: " + payload + end + end
    return payload + end


def content_type(api: Api) -> str:
    return "text/event-stream" if api == "openai" else "application/x-ndjson"


def whole(api: Api, tools: bool = False) -> dict[str, Any]:
    """A non-streamed reply."""
    if api == "ollama":
        reply = ollama_final()
        reply["message"] = {"role": "assistant", "content": "" if tools else ANSWER}
        if tools:
            first = ollama_tools()[0]
            assert isinstance(first, dict)
            reply["message"]["tool_calls"] = first["message"]["tool_calls"]
        return reply
    message: dict[str, Any] = {"role": "assistant", "content": ANSWER}
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "model": MODELS[0],
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": PROMPT_TOKENS, "completion_tokens": COMPLETION_TOKENS},
    }


# Discovery's routes ---------------------------------------------------------------------------


def listing(route: str, persona: str) -> Any | None:
    """The healthy JSON answer of a discovery route, or ``None`` (404)."""
    if route == "/v1/models":
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "owned_by": "hostile"} for m in MODELS],
        }
    if persona == "ollama" and route == "/api/version":
        return {"version": "0.0.0-hostile"}
    if persona == "ollama" and route == "/api/tags":
        return {"models": [{"name": m, "size": 1000, "details": {}} for m in MODELS]}
    if persona == "ollama" and route == "/api/show":
        return {"model_info": {"hostile.context_length": 4096}}
    return None
