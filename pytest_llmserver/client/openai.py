"""OpenAI-compatible chat completions: request bodies and a server-sent-events decoder."""

from __future__ import annotations

import json
from typing import Any

from pytest_llmserver.client.errors import LLMProtocolError, LLMServerEventError
from pytest_llmserver.client.metrics import ServerCounts
from pytest_llmserver.client.response import ResponseBuilder

CHAT_PATH = "/chat/completions"


def build_chat_body(
    model: str,
    messages: list[dict[str, Any]],
    *,
    stream: bool,
    include_usage: bool,
    max_tokens: int | None = None,
    temperature: float | None = None,
    tools: list[dict[str, Any]] | None = None,
    tool_choice: str | dict[str, Any] | None = None,
    enable_thinking: bool | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A ``/v1/chat/completions`` body."""
    body: dict[str, Any] = {"model": model, "messages": messages, "stream": stream}
    if stream and include_usage:
        body["stream_options"] = {"include_usage": True}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    if temperature is not None:
        body["temperature"] = temperature
    if tools:
        body["tools"] = tools
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
    if enable_thinking is not None:
        # Read by the chat templates of reasoning models on llama.cpp, vLLM and SGLang.
        body["chat_template_kwargs"] = {"enable_thinking": enable_thinking}
    if extra:
        body.update(extra)
    return body


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


def error_message(obj: dict[str, Any]) -> str:
    """The human message of an ``{"error": ...}`` object (OpenAI, vLLM, llama.cpp, Ollama)."""
    err = obj.get("error")
    if isinstance(err, dict):
        return str(err.get("message") or err.get("type") or json.dumps(err))
    if err is not None:
        return str(err)
    return str(obj.get("message") or obj.get("detail") or json.dumps(obj)[:300])


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
        try:
            obj = json.loads(payload)
        except ValueError as exc:
            raise LLMProtocolError(
                f"malformed event in the stream from {self._url}: {exc}: {payload[:120]!r}",
                url=self._url,
            ) from exc
        if not isinstance(obj, dict):
            raise LLMProtocolError(
                f"event in the stream from {self._url} is not a JSON object: {payload[:120]!r}",
                url=self._url,
            )
        builder.clock.event(t_ns)
        if "error" in obj:
            raise LLMServerEventError(
                f"error event in the stream from {self._url}: {error_message(obj)}", url=self._url
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
        timings = obj.get("timings")
        if timings:
            apply_timings(builder.counts, timings)
        usage = obj.get("usage")
        if usage:
            apply_usage(builder.counts, usage)
        return out


def decode_completion(obj: object, builder: ResponseBuilder, t_ns: int, url: str) -> None:
    """Fill ``builder`` from a non-streamed ``chat.completion`` object."""
    if not isinstance(obj, dict) or not isinstance(obj.get("choices"), list) or not obj["choices"]:
        raise LLMProtocolError(f"reply from {url} is not a chat completion: {obj!r:.200}", url=url)
    builder.clock.event(t_ns)
    choice = obj["choices"][0]
    content, reasoning, tool_calls = _choice_fields(choice, "message")
    builder.text(t_ns, reasoning, content)
    for call in tool_calls or ():
        function = call.get("function") or {}
        builder.tool_whole(
            t_ns, function.get("name") or "", function.get("arguments"), call.get("id") or ""
        )
    builder.finish_reason = choice.get("finish_reason")
    if obj.get("timings"):
        apply_timings(builder.counts, obj["timings"])
    if obj.get("usage"):
        apply_usage(builder.counts, obj["usage"])


def tool_result_message(call_id: str, content: str) -> dict[str, Any]:
    """A tool result in OpenAI's format (answers the call with ``tool_call_id``)."""
    return {"role": "tool", "tool_call_id": call_id, "content": content}
