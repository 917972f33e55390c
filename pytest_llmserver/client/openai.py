"""OpenAI-compatible chat completions: the ``OPENAI`` protocol object and its SSE decoder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pytest_llmserver.client._api import ChatRequest, stream_object
from pytest_llmserver.client.errors import LLMProtocolError

if TYPE_CHECKING:
    from pytest_llmserver.client.metrics import ServerCounts
    from pytest_llmserver.client.response import ResponseBuilder, ToolCall
    from pytest_llmserver.client.server import ServerRecord

CHAT_PATH = "/chat/completions"


def apply_usage(counts: ServerCounts, usage: dict[str, Any]) -> None:
    """Take token counts from an OpenAI ``usage`` object."""
    if isinstance(usage.get("prompt_tokens"), int):
        counts.prompt_tokens, counts.prompt_source = usage["prompt_tokens"], "usage"
    if isinstance(usage.get("completion_tokens"), int):
        counts.output_tokens, counts.output_source = usage["completion_tokens"], "usage"
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        counts.cached_tokens = details["cached_tokens"]
    details = usage.get("completion_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("reasoning_tokens"), int):
        counts.reasoning_tokens = details["reasoning_tokens"]


def apply_timings(counts: ServerCounts, timings: dict[str, Any]) -> None:
    """Take server-side prefill/decode figures from a llama.cpp ``timings`` object."""
    prompt_ms, predicted_ms = timings.get("prompt_ms"), timings.get("predicted_ms")
    if isinstance(prompt_ms, (int, float)):
        counts.prompt_eval_duration_ns = round(prompt_ms * 1e6)
    if isinstance(predicted_ms, (int, float)):
        counts.eval_duration_ns = round(predicted_ms * 1e6)
    if isinstance(timings.get("prompt_per_second"), (int, float)):
        counts.prefill_tps = float(timings["prompt_per_second"])
    if isinstance(timings.get("predicted_per_second"), (int, float)):
        counts.decode_tps = float(timings["predicted_per_second"])
    cache_n = timings.get("cache_n")
    if isinstance(cache_n, int) and counts.cached_tokens is None:
        counts.cached_tokens = cache_n
    # Counts from timings only where usage gave none (usage is applied later and wins).
    if counts.output_tokens is None and isinstance(timings.get("predicted_n"), int):
        counts.output_tokens, counts.output_source = timings["predicted_n"], "server"
    prompt_n = timings.get("prompt_n")
    if counts.prompt_tokens is None and isinstance(prompt_n, int):
        counts.prompt_tokens = prompt_n + (cache_n if isinstance(cache_n, int) else 0)
        counts.prompt_source = "server"


def apply_counts(counts: ServerCounts, obj: dict[str, Any]) -> None:
    """Take a chunk's or reply's ``timings``, then its ``usage`` (whose counts win)."""
    if obj.get("timings"):
        apply_timings(counts, obj["timings"])
    if obj.get("usage"):
        apply_usage(counts, obj["usage"])


def _choice_fields(choice: dict[str, Any], key: str) -> tuple[str, str, Any]:
    part = choice.get(key) or {}
    reasoning = part.get("reasoning_content") or part.get("reasoning") or ""
    return part.get("content") or "", reasoning, part.get("tool_calls")


class SSEDecoder:
    """Decodes one ``text/event-stream`` reply line by line into a ``ResponseBuilder``."""

    __slots__ = ("_builder", "_data", "_data_t_ns", "_url", "done")

    def __init__(self, builder: ResponseBuilder, url: str) -> None:
        self._builder = builder
        self._url = url
        self._data: list[bytes] = []
        self._data_t_ns = 0
        self.done = False

    def feed_line(self, line: bytes, t_ns: int) -> str:
        """Consume one line (without its newline); return answer text it completed."""
        if line.startswith(b"data:"):
            if not self._data:
                self._data_t_ns = t_ns
            self._data.append(line[5:].strip())
            return ""
        if line.strip(b"\r") or not self._data:
            return ""  # comments (": ping"), event:/id:/retry: fields, stray blank lines
        payload = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        self._data = []
        return self.dispatch(payload, self._data_t_ns)

    def end(self, t_ns: int) -> str:
        """Dispatch an event left open when the body ended without a blank line."""
        if not self._data:
            return ""
        payload, self._data = b"\n".join(self._data), []
        return self.dispatch(payload, t_ns)

    def dispatch(self, payload: bytes, t_ns: int) -> str:
        """Handle one event's data."""
        builder = self._builder
        if payload == b"[DONE]":
            builder.clock.event(t_ns)
            self.done = True
            return ""
        obj = stream_object(
            payload, t_ns, builder, self._url, unit="event", error_unit="error event"
        )
        out = ""
        choices = obj.get("choices")
        if choices:
            choice = choices[0]
            content, reasoning, tool_calls = _choice_fields(choice, "delta")
            if tool_calls:
                for call in tool_calls:
                    function = call.get("function") or {}
                    piece = function.get("arguments") or ""
                    builder.tool_delta(
                        t_ns,
                        call.get("index", 0),
                        call.get("id") or "",
                        function.get("name") or "",
                        piece if isinstance(piece, str) else json.dumps(piece),
                    )
            if content or reasoning:
                out = builder.text(t_ns, reasoning, content)
            if choice.get("finish_reason"):
                builder.finish_reason = choice["finish_reason"]
                builder.clock.finished(t_ns)
        apply_counts(builder.counts, obj)
        return out


def decode_completion(obj: object, builder: ResponseBuilder, t_ns: int, url: str) -> None:
    """Fill ``builder`` from a non-streamed ``chat.completion`` object."""
    if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list) or not obj["choices"]:
        raise LLMProtocolError(f"reply from {url} is not a chat completion: {obj!r:.200}", url=url)
    builder.clock.event(t_ns)
    choice = obj["choices"][0]
    content, reasoning, tool_calls = _choice_fields(choice, "message")
    builder.text(t_ns, reasoning, content)
    builder.whole_tool_calls(t_ns, tool_calls)
    builder.finish_reason = choice.get("finish_reason")
    apply_counts(builder.counts, obj)


class OpenAIChat:
    """OpenAI-compatible ``/v1/chat/completions``, streamed as server-sent events."""

    name = "openai"

    def chat_url(self, server: ServerRecord) -> str:
        """``/v1/chat/completions`` under the server's OpenAI base."""
        return server.openai_base + CHAT_PATH

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """A ``/v1/chat/completions`` body."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "stream": request.stream,
        }
        if request.stream and request.include_usage:
            body["stream_options"] = {"include_usage": True}
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.tools:
            body["tools"] = request.tools
            if request.tool_choice is not None:
                body["tool_choice"] = request.tool_choice
        if request.enable_thinking is not None:
            # Read by the chat templates of reasoning models on llama.cpp, vLLM and SGLang.
            body["chat_template_kwargs"] = {"enable_thinking": request.enable_thinking}
        if request.extra:
            body.update(request.extra)
        return body

    def decoder(self, builder: ResponseBuilder, url: str, content_type: str) -> SSEDecoder:
        """An SSE decoder; the reply must be ``text/event-stream`` (or say no type)."""
        if content_type not in ("text/event-stream", ""):
            raise LLMProtocolError(
                f"{url} answered with {content_type}, not text/event-stream", url=url
            )
        return SSEDecoder(builder, url)

    def decode_whole(self, raw: bytes, builder: ResponseBuilder, t_ns: int, url: str) -> None:
        """Fill ``builder`` from a ``chat.completion`` reply."""
        try:
            obj = json.loads(raw)
        except ValueError as exc:
            raise LLMProtocolError(f"reply from {url} is not JSON: {raw[:120]!r}", url=url) from exc
        decode_completion(obj, builder, t_ns, url)

    def tool_result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        """A tool result that answers the call by its id (``tool_call_id``)."""
        return {"role": "tool", "tool_call_id": call.id, "content": content}

    def assistant_message(self, content: str, calls: Sequence[ToolCall]) -> dict[str, Any]:
        """The reply with its calls, arguments as the JSON text the model wrote."""
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments_raw or "{}"},
                }
                for c in calls
            ]
        return message


OPENAI = OpenAIChat()
"""The OpenAI-compatible protocol (any server type but ``ollama``)."""
