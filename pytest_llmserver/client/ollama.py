"""Ollama's native ``/api/chat``: the ``OLLAMA`` protocol object and its NDJSON decoder."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pytest_llmserver.client._api import (
    event_object,
    merge_extra,
    protocol_error,
    server_event_error,
)
from pytest_llmserver.client._checks import (
    ShapeError,
    bad,
    derived_rate,
    duration_ns,
    need_dict,
    opt_str,
    token_count,
)
from pytest_llmserver.client.errors import LLMProtocolError

if TYPE_CHECKING:
    from pytest_llmserver.client._api import ChatRequest
    from pytest_llmserver.client.metrics import ServerCounts
    from pytest_llmserver.client.response import ResponseBuilder, ToolCall
    from pytest_llmserver.client.server import ServerRecord

CHAT_PATH = "/api/chat"
_TEXT = (str, type(None))


def apply_final(counts: ServerCounts, obj: dict[str, Any]) -> None:
    """Take counts and nanosecond durations from the final (``done: true``) object."""
    suspect = counts.suspect
    prompt = token_count(obj, "prompt_eval_count", "", suspect)
    if prompt is not None:
        counts.prompt_tokens, counts.prompt_source = prompt, "server"
    output = token_count(obj, "eval_count", "", suspect)
    if output is not None:
        counts.output_tokens, counts.output_source = output, "server"
    prefill_ns = duration_ns(obj, "prompt_eval_duration", "", suspect)
    counts.prompt_eval_duration_ns = prefill_ns
    decode_ns = duration_ns(obj, "eval_duration", "", suspect)
    counts.eval_duration_ns = decode_ns
    counts.load_duration_ns = duration_ns(obj, "load_duration", "", suspect)
    counts.prefill_tps = derived_rate(
        prompt, prefill_ns, "prompt_eval_count/prompt_eval_duration", suspect
    )
    counts.decode_tps = derived_rate(output, decode_ns, "eval_count/eval_duration", suspect)


class NDJSONDecoder:
    """Decodes one ``application/x-ndjson`` reply line by line into a ``ResponseBuilder``."""

    __slots__ = ("_builder", "_url", "done")

    def __init__(self, builder: ResponseBuilder, url: str) -> None:
        self._builder = builder
        self._url = url
        self.done = False

    def feed_line(self, line: bytes, t_ns: int) -> str:
        """Consume one line; return answer text it completed."""
        if not line or line.isspace():
            return ""
        return self.feed_object(line, t_ns, "line in the stream")

    def feed_object(self, data: bytes, t_ns: int, what: str) -> str:
        """Consume one JSON object (a line, or a whole reply); return its answer text."""
        builder = self._builder
        try:
            obj = event_object(data)
            builder.clock.event(t_ns)
            if obj.get("error") is not None:
                raise server_event_error(obj, f"error {what}", self._url)
            out = ""
            message = obj.get("message")
            if message is not None:
                out = self._message(need_dict(message, "message"), t_ns)
            done = obj.get("done")
            if done is not None and type(done) is not bool:
                raise bad("done", done, "a boolean")
            if done:
                self.done = True
                builder.clock.finished(t_ns)
                builder.finish_reason = opt_str(obj, "done_reason", "") or "stop"
                apply_final(builder.counts, obj)
            return out
        except ShapeError as exc:
            raise protocol_error(exc, what, self._url, data) from None

    def _message(self, message: dict[str, Any], t_ns: int) -> str:
        builder = self._builder
        content = message.get("content")
        thinking = message.get("thinking")
        if type(content) not in _TEXT or type(thinking) not in _TEXT:
            opt_str(message, "content", "message.")  # names the wrong field
            opt_str(message, "thinking", "message.")
        tool_calls = message.get("tool_calls")
        if tool_calls is not None:
            builder.whole_tool_calls(t_ns, tool_calls, "message.tool_calls")
        if content or thinking:
            return builder.text(t_ns, thinking or "", content or "")
        return ""

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
        if request.seed is not None:
            options["seed"] = request.seed
        if request.top_p is not None:
            options["top_p"] = request.top_p
        if options:
            body["options"] = options
        if request.tools:
            body["tools"] = request.tools
        if request.enable_thinking is not None:
            body["think"] = request.enable_thinking
        return merge_extra(body, request.extra)

    def decoder(self, builder: ResponseBuilder, url: str, content_type: str) -> NDJSONDecoder:
        """An NDJSON decoder (Ollama's content type is not checked)."""
        return NDJSONDecoder(builder, url)

    def decode_whole(self, raw: bytes, builder: ResponseBuilder, t_ns: int, url: str) -> None:
        """Fill ``builder`` from the one object of a non-streamed reply."""
        decoder = NDJSONDecoder(builder, url)
        decoder.feed_object(raw, t_ns, "reply")
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
