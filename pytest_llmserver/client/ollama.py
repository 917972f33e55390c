"""Ollama's native ``/api/chat``: the ``OLLAMA`` protocol object and its NDJSON decoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pytest_llmserver.client._api import ChatRequest, stream_object
from pytest_llmserver.client.errors import LLMProtocolError

if TYPE_CHECKING:
    from pytest_llmserver.client.metrics import ServerCounts
    from pytest_llmserver.client.response import ResponseBuilder, ToolCall
    from pytest_llmserver.client.server import ServerRecord

CHAT_PATH = "/api/chat"


def _rate(count: object, duration_ns: object) -> float | None:
    if isinstance(count, int) and isinstance(duration_ns, int) and duration_ns > 0:
        return count / (duration_ns * 1e-9)
    return None


def apply_final(counts: ServerCounts, obj: dict[str, Any]) -> None:
    """Take counts and nanosecond durations from the final (``done: true``) object."""
    if isinstance(obj.get("prompt_eval_count"), int):
        counts.prompt_tokens, counts.prompt_source = obj["prompt_eval_count"], "server"
    if isinstance(obj.get("eval_count"), int):
        counts.output_tokens, counts.output_source = obj["eval_count"], "server"
    if isinstance(obj.get("prompt_eval_duration"), int):
        counts.prompt_eval_duration_ns = obj["prompt_eval_duration"]
    if isinstance(obj.get("eval_duration"), int):
        counts.eval_duration_ns = obj["eval_duration"]
    counts.prefill_tps = _rate(obj.get("prompt_eval_count"), obj.get("prompt_eval_duration"))
    counts.decode_tps = _rate(obj.get("eval_count"), obj.get("eval_duration"))


class NDJSONDecoder:
    """Decodes one ``application/x-ndjson`` reply line by line into a ``ResponseBuilder``."""

    __slots__ = ("_builder", "_url", "done")

    def __init__(self, builder: ResponseBuilder, url: str) -> None:
        self._builder = builder
        self._url = url
        self.done = False

    def feed_line(self, line: bytes, t_ns: int) -> str:
        """Consume one line; return answer text it completed."""
        if not line.strip():
            return ""
        builder = self._builder
        obj = stream_object(line, t_ns, builder, self._url, unit="line", error_unit="error")
        out = ""
        message = obj.get("message")
        if message:
            content = message.get("content") or ""
            thinking = message.get("thinking") or ""
            builder.whole_tool_calls(t_ns, message.get("tool_calls"))
            if content or thinking:
                out = builder.text(t_ns, thinking, content)
        if obj.get("done"):
            self.done = True
            builder.clock.finished(t_ns)
            builder.finish_reason = obj.get("done_reason") or "stop"
            apply_final(builder.counts, obj)
        return out

    def end(self, t_ns: int) -> str:
        """Nothing is held between lines."""
        return ""


class OllamaChat:
    """Ollama's ``/api/chat``, streamed as newline-delimited JSON."""

    name = "ollama"

    def chat_url(self, server: ServerRecord) -> str:
        """``/api/chat`` at the server root."""
        return server.root + CHAT_PATH

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """An ``/api/chat`` body (``stream`` is always sent: Ollama's default is true)."""
        body: dict[str, Any] = {
            "model": request.model,
            "messages": request.messages,
            "stream": request.stream,
        }
        options: dict[str, Any] = {}
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if options:
            body["options"] = options
        if request.tools:
            body["tools"] = request.tools
        if request.enable_thinking is not None:
            body["think"] = request.enable_thinking
        if request.extra:
            body.update(request.extra)
        return body

    def decoder(self, builder: ResponseBuilder, url: str, content_type: str) -> NDJSONDecoder:
        """An NDJSON decoder (Ollama's content type is not checked)."""
        return NDJSONDecoder(builder, url)

    def decode_whole(self, raw: bytes, builder: ResponseBuilder, t_ns: int, url: str) -> None:
        """Fill ``builder`` from the one object of a non-streamed reply."""
        decoder = NDJSONDecoder(builder, url)
        decoder.feed_line(raw, t_ns)
        if not decoder.done:
            raise LLMProtocolError(f'reply from {url} lacks "done": true', url=url)

    def tool_result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        """A tool result that answers the call by name (``tool_name``; Ollama has no call ids)."""
        return {"role": "tool", "content": content, "tool_name": call.name}

    def assistant_message(self, content: str, calls: Sequence[ToolCall]) -> dict[str, Any]:
        """The reply with its calls, arguments as JSON objects."""
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = [
                {"function": {"name": c.name, "arguments": c.arguments or {}}} for c in calls
            ]
        return message


OLLAMA = OllamaChat()
"""Ollama's native protocol (server type ``ollama``)."""
