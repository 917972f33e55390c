"""Ollama's native ``/api/chat``: request bodies and an NDJSON decoder."""

from __future__ import annotations

import json
from typing import Any

from pytest_llmserver.client.errors import LLMProtocolError, LLMServerEventError
from pytest_llmserver.client.metrics import ServerCounts
from pytest_llmserver.client.openai import error_message
from pytest_llmserver.client.response import ResponseBuilder

CHAT_PATH = "/api/chat"


def build_chat_body(
    model: str,
    messages: list[dict[str, Any]],
    *,
    stream: bool,
    max_tokens: int | None = None,
    temperature: float | None = None,
    tools: list[dict[str, Any]] | None = None,
    enable_thinking: bool | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An ``/api/chat`` body (``stream`` is always sent: Ollama's default is true)."""
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    options: dict[str, Any] = {}
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    if temperature is not None:
        options["temperature"] = temperature
    if options:
        body["options"] = options
    if tools:
        body["tools"] = tools
    if enable_thinking is not None:
        body["think"] = enable_thinking
    if extra:
        body.update(extra)
    return body


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
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise LLMProtocolError(
                f"malformed line in the stream from {self._url}: {exc}: {line[:120]!r}",
                url=self._url,
            ) from exc
        if not isinstance(obj, dict):
            raise LLMProtocolError(
                f"line in the stream from {self._url} is not a JSON object: {line[:120]!r}",
                url=self._url,
            )
        builder = self._builder
        builder.clock.event(t_ns)
        if "error" in obj:
            raise LLMServerEventError(
                f"error in the stream from {self._url}: {error_message(obj)}", url=self._url
            )
        out = ""
        message = obj.get("message")
        if message:
            content = message.get("content") or ""
            thinking = message.get("thinking") or ""
            for call in message.get("tool_calls") or ():
                function = call.get("function") or {}
                builder.tool_whole(
                    t_ns,
                    function.get("name") or "",
                    function.get("arguments"),
                    call.get("id") or "",
                )
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


def tool_result_message(name: str, content: str) -> dict[str, Any]:
    """A tool result in Ollama's format (``tool_name``, no call id)."""
    return {"role": "tool", "content": content, "tool_name": name}
